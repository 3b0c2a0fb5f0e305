// Package dbus is a minimal D-Bus client, enough to ask systemd's service
// manager for its units without forking systemctl: it dials a Unix socket,
// authenticates with SASL EXTERNAL, says Hello when the peer is a bus (not
// the manager's private peer-to-peer socket), sends method calls and reads
// their replies, skipping signals and other messages, with a deadline on
// every call. Only what the manager's calls need is encoded (string and
// string-array arguments); any well-formed message can be decoded and
// skipped.
//
// The wire format follows the D-Bus specification
// (https://dbus.freedesktop.org/doc/dbus-specification.html).
package dbus

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// CallTimeout bounds a call whose context has no deadline.
const CallTimeout = 2 * time.Second

// Addr is a socket to dial.
type Addr struct {
	Path string
	// Bus is whether a message bus listens there (the system or session
	// bus), which needs Hello first and routes by destination; false for a
	// peer-to-peer socket such as systemd's private one.
	Bus bool
}

func (a Addr) String() string {
	if a.Bus {
		return "bus " + a.Path
	}
	return a.Path
}

// Error is an error reply: Name is the D-Bus error name, such as
// org.freedesktop.DBus.Error.AccessDenied.
type Error struct {
	Name    string
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Name
	}
	return e.Name + ": " + e.Message
}

// Conn is a connection to one peer. It is not safe for concurrent use.
// After an I/O or protocol error (anything but an *Error reply) the
// connection is unusable: close it and dial again.
type Conn struct {
	addr   Addr
	c      *net.UnixConn
	r      *bufio.Reader
	serial uint32
	name   string // unique name on a bus
	wbuf   []byte
	rbuf   []byte
	broken error
}

// Dial connects to a, authenticates and, on a bus, says Hello. ctx bounds
// the whole exchange; without a deadline, CallTimeout does.
func Dial(ctx context.Context, a Addr) (*Conn, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	nc, err := (&net.Dialer{}).DialContext(ctx, "unix", a.Path)
	if err != nil {
		return nil, fmt.Errorf("dbus: dial %s: %w", a, err)
	}
	c := &Conn{addr: a, c: nc.(*net.UnixConn), r: bufio.NewReaderSize(nc, 4096)}
	stop := c.watch(ctx)
	err = c.auth()
	stop()
	if err == nil && a.Bus {
		var reply *message
		reply, err = c.call(ctx, methodCall{dest: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
			iface: "org.freedesktop.DBus", member: "Hello"})
		if err == nil {
			c.name, err = stringBody(reply)
		}
	}
	if err != nil {
		c.c.Close()
		return nil, fmt.Errorf("dbus: %s: %w", a, err)
	}
	return c, nil
}

func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, CallTimeout)
}

// watch sets the socket's deadline from ctx and makes pending I/O fail
// when ctx is done; stop undoes the latter.
func (c *Conn) watch(ctx context.Context) (stop func() bool) {
	d, _ := ctx.Deadline()
	c.c.SetDeadline(d)
	return context.AfterFunc(ctx, func() { c.c.SetDeadline(time.Unix(1, 0)) })
}

// auth runs the SASL exchange: EXTERNAL with our uid, and BEGIN in the same
// write, as sd-bus clients do. Sending BEGIN after the OK, together with
// the first message, does not work: systemd 252's private socket reads both
// at once and never answers the message (seen in TestListUnitsFilteredRealManager).
func (c *Conn) auth() error {
	uid := hex.EncodeToString([]byte(strconv.Itoa(os.Geteuid())))
	if _, err := c.c.Write([]byte("\x00AUTH EXTERNAL " + uid + "\r\nBEGIN\r\n")); err != nil {
		return fmt.Errorf("send AUTH: %w", err)
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("read the answer to AUTH: %w", err)
	}
	answer := strings.TrimRight(string(line), "\r\n")
	if !strings.HasPrefix(answer, "OK ") {
		return fmt.Errorf("AUTH EXTERNAL for uid %d refused: %q", os.Geteuid(), answer)
	}
	return nil
}

// Name is the connection's unique name on a bus, "" on a peer-to-peer
// socket.
func (c *Conn) Name() string { return c.name }

// Addr is where c is connected.
func (c *Conn) Addr() Addr { return c.addr }

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

// call sends m and returns its reply, skipping any other message that
// arrives first. An error reply is returned as *Error. ctx bounds the call;
// without a deadline, CallTimeout does.
func (c *Conn) call(ctx context.Context, m methodCall) (*message, error) {
	if c.broken != nil {
		return nil, fmt.Errorf("connection unusable after an earlier failure: %w", c.broken)
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	stop := c.watch(ctx)
	defer stop()
	reply, err := c.roundTrip(m)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", err, context.Cause(ctx))
		}
		c.broken = err
		return nil, fmt.Errorf("%s.%s: %w", m.iface, m.member, err)
	}
	if reply.typ == typeError {
		msg, _ := stringBody(reply)
		return nil, &Error{Name: reply.errName, Message: msg}
	}
	return reply, nil
}

func (c *Conn) roundTrip(m methodCall) (*message, error) {
	c.serial++
	if c.serial == 0 {
		c.serial = 1
	}
	var err error
	if c.wbuf, err = encodeCall(c.wbuf, c.serial, m); err != nil {
		return nil, err
	}
	if _, err := c.c.Write(c.wbuf); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	for {
		reply, err := c.read()
		if err != nil {
			return nil, err
		}
		if (reply.typ == typeReturn || reply.typ == typeError) && reply.replySerial == c.serial {
			return reply, nil
		}
	}
}

// read reads one whole message. The returned body aliases c.rbuf until the
// next read.
func (c *Conn) read() (*message, error) {
	head, err := c.r.Peek(fixedHeader)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	n, err := messageLen(head)
	if err != nil {
		return nil, err
	}
	if c.rbuf, err = readN(c.r, c.rbuf, n); err != nil {
		return nil, fmt.Errorf("read a %d-byte message: %w", n, err)
	}
	return decodeMessage(c.rbuf)
}

// readN reads exactly n bytes into buf's storage, growing it as bytes
// arrive, so a length that the peer does not back with data costs little.
func readN(r io.Reader, buf []byte, n int) ([]byte, error) {
	buf = buf[:0]
	for len(buf) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(n, max(2*cap(buf), 4096)))
			copy(grown, buf)
			buf = grown
		}
		k, err := io.ReadFull(r, buf[len(buf):min(n, cap(buf))])
		buf = buf[:len(buf)+k]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// stringBody returns the first argument of m, which must be a string.
func stringBody(m *message) (string, error) {
	if !strings.HasPrefix(m.sig, "s") {
		return "", fmt.Errorf("%w: reply has signature %q, want a string first", errMalformed, m.sig)
	}
	d := &decoder{b: m.body, order: m.order}
	s := d.string()
	return s, d.err
}

// IsError reports whether err is (or wraps) a D-Bus error reply named name.
func IsError(err error, name string) bool {
	var e *Error
	return errors.As(err, &e) && e.Name == name
}
