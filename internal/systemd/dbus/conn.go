// Package dbus is a minimal D-Bus client, enough to ask systemd's service
// manager for its units without forking systemctl and to follow their
// changes: it dials a Unix socket, authenticates with SASL EXTERNAL, says
// Hello when the peer is a bus (not the manager's private peer-to-peer
// socket), sends method calls with a deadline on every call, and reads
// every message on one goroutine, which hands replies to their calls and
// the manager's unit signals (JobRemoved, PropertiesChanged) to a
// subscriber. Only what the manager's calls need is encoded (string and
// string-array arguments); any well-formed message can be decoded and
// skipped.
//
// The wire format follows the D-Bus specification
// (https://dbus.freedesktop.org/doc/dbus-specification.html).
package dbus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
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

// Conn is a connection to one peer, safe for concurrent use. Once
// authenticated, one goroutine reads every message: replies go to the call
// waiting for them, signals to the function given to Subscribe, anything
// else is skipped. After an I/O or protocol error, or a call that got no
// reply in time (anything but an *Error reply), the connection is closed
// and unusable: dial again.
type Conn struct {
	addr Addr
	c    *net.UnixConn
	r    *bufio.Reader // read by auth, then only by readLoop
	rbuf []byte        // readLoop's
	name string        // unique name on a bus

	wmu    sync.Mutex // serialises writes
	serial uint32
	wbuf   []byte

	mu       sync.Mutex
	pending  map[uint32]chan *message // calls waiting for their reply
	broken   error
	onSignal func(Signal)
	done     chan struct{} // closed when readLoop returns
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
	c := &Conn{addr: a, c: nc.(*net.UnixConn), r: bufio.NewReaderSize(nc, 4096),
		pending: map[uint32]chan *message{}, done: make(chan struct{})}
	d, _ := ctx.Deadline()
	c.c.SetDeadline(d)
	stop := context.AfterFunc(ctx, func() { c.c.SetDeadline(time.Unix(1, 0)) })
	err = c.auth()
	if stop() {
		c.c.SetDeadline(time.Time{})
	} else if err == nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		c.c.Close()
		return nil, fmt.Errorf("dbus: %s: %w", a, err)
	}
	go c.readLoop()
	if a.Bus {
		var reply *message
		reply, err = c.call(ctx, methodCall{dest: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
			iface: "org.freedesktop.DBus", member: "Hello"})
		if err == nil {
			c.name, err = stringBody(reply)
		}
	}
	if err != nil {
		c.Close()
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

// Close closes the connection; calls in flight fail.
func (c *Conn) Close() error {
	c.fail(net.ErrClosed)
	return nil
}

// Done is closed once the connection is closed or broken; Err then says
// why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the connection is unusable, nil while it is not.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.broken
}

// fail makes the connection unusable for err (the first error sticks),
// closes the socket and fails the calls waiting for a reply.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return
	}
	c.broken = err
	c.c.Close()
	for serial, ch := range c.pending {
		close(ch)
		delete(c.pending, serial)
	}
}

// call sends m and returns its reply. An error reply is returned as
// *Error. ctx bounds the call; without a deadline, CallTimeout does. A call
// with no reply by then breaks the connection: a peer that does not answer
// one call is not trusted with the next.
func (c *Conn) call(ctx context.Context, m methodCall) (*message, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	ch := make(chan *message, 1)
	if err := c.send(ctx, m, ch); err != nil {
		return nil, fmt.Errorf("%s.%s: %w", m.iface, m.member, err)
	}
	var reply *message
	select {
	case reply = <-ch:
	case <-ctx.Done():
		c.fail(fmt.Errorf("no reply to %s.%s: %w", m.iface, m.member, context.Cause(ctx)))
		return nil, fmt.Errorf("%s.%s: no reply: %w", m.iface, m.member, context.Cause(ctx))
	}
	if reply == nil {
		return nil, fmt.Errorf("%s.%s: %w", m.iface, m.member, c.unusable())
	}
	if reply.typ == typeError {
		msg, _ := stringBody(reply)
		return nil, &Error{Name: reply.errName, Message: msg}
	}
	return reply, nil
}

func (c *Conn) unusable() error {
	return fmt.Errorf("connection unusable after an earlier failure: %w", c.Err())
}

// send writes m with the next serial, registering ch for its reply.
func (c *Conn) send(ctx context.Context, m methodCall, ch chan *message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.serial++
	if c.serial == 0 {
		c.serial = 1
	}
	var err error
	if c.wbuf, err = encodeCall(c.wbuf, c.serial, m); err != nil {
		return err
	}
	c.mu.Lock()
	if c.broken != nil {
		c.mu.Unlock()
		return c.unusable()
	}
	c.pending[c.serial] = ch
	c.mu.Unlock()
	d, _ := ctx.Deadline()
	c.c.SetWriteDeadline(d)
	if _, err := c.c.Write(c.wbuf); err != nil {
		err = fmt.Errorf("send: %w", err)
		c.fail(err)
		return err
	}
	return nil
}

// readLoop reads messages until the connection fails, handing replies to
// their calls and signals to onSignal.
func (c *Conn) readLoop() {
	defer close(c.done)
	for {
		m, err := c.read()
		if err != nil {
			c.fail(err)
			return
		}
		switch m.typ {
		case typeReturn, typeError:
			c.mu.Lock()
			ch := c.pending[m.replySerial]
			delete(c.pending, m.replySerial)
			c.mu.Unlock()
			if ch != nil {
				m.body = bytes.Clone(m.body) // the next read reuses rbuf
				ch <- m
			}
		case typeSignal:
			c.mu.Lock()
			fn := c.onSignal
			c.mu.Unlock()
			if fn == nil {
				continue
			}
			if s, ok := decodeSignal(m); ok {
				fn(s)
			}
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
