// Package rtnetlink follows the kernel's routing messages (rtnetlink(7))
// for the two facts lmn samples about the network: whether each interface
// is up and has a carrier, and whether a default route exists. It joins
// the RTNLGRP_LINK, RTNLGRP_IPV4_ROUTE and RTNLGRP_IPV6_ROUTE groups of a
// NETLINK_ROUTE socket, which needs no privilege, and reports:
//
//   - a link whose IFF_UP, IFF_RUNNING, IFF_LOWER_UP or IFF_DORMANT flag or
//     operstate changed, that appeared or went away. The carrier is
//     IFF_LOWER_UP (and IFF_RUNNING, the operational state): a pulled
//     cable leaves IFF_UP set. Other changes (MTU, addresses, statistics)
//     say nothing lmn watches and are dropped, as is the loopback device;
//   - a default route (destination length 0) of the main table added or
//     removed, IPv4 or IPv6;
//   - lost messages (the socket's buffer overran, ENOBUFS), after which
//     the state is unknown until the next sample reads it.
//
// Messages are read through Go's poller; no thread waits for them. Only
// messages from the kernel (netlink port 0) are read.
package rtnetlink

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Kinds of Change.
const (
	Link  = "link"
	Route = "route"
	Lost  = "lost"
)

// Change is one change the kernel announced.
type Change struct {
	Kind  string // Link, Route or Lost
	Index int32  // the interface (Link; Route: the output interface, 0 if none)
	Name  string // the interface's name (Link)
	// Flags are the link's IFF_* flags (Link), OperState its RFC 2863
	// state (IF_OPER_*).
	Flags     uint32
	OperState uint8
	Family    uint8 // unix.AF_INET or unix.AF_INET6 (Route)
	Gone      bool  // the link was deleted, the route removed
}

// Carrier reports whether a Link change leaves the link with a carrier.
func (c Change) Carrier() bool { return c.Flags&unix.IFF_LOWER_UP != 0 }

// linkFlags are the flags whose change is reported.
const linkFlags = unix.IFF_UP | unix.IFF_RUNNING | unix.IFF_LOWER_UP | unix.IFF_DORMANT

type linkState struct {
	flags     uint32
	operState uint8
}

// Listener reads the kernel's link and route messages.
type Listener struct {
	f      *os.File
	rc     syscall.RawConn
	buf    []byte
	once   sync.Once
	closed atomic.Bool

	links map[int32]linkState // last reported state of each link
}

// Listen opens a NETLINK_ROUTE socket in this thread's network namespace
// and joins the link and route groups.
func Listen() (*Listener, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: socket: %w", err)
	}
	sa := &unix.SockaddrNetlink{Family: unix.AF_NETLINK,
		Groups: unix.RTMGRP_LINK | unix.RTMGRP_IPV4_ROUTE | unix.RTMGRP_IPV6_ROUTE}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("rtnetlink: bind to the link and route groups: %w", err)
	}
	f := os.NewFile(uintptr(fd), "rtnetlink")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("rtnetlink: %w", err)
	}
	return &Listener{f: f, rc: rc, buf: make([]byte, 32<<10), links: map[int32]linkState{}}, nil
}

// Close stops Run.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		l.closed.Store(true)
		err = l.f.Close()
	})
	return err
}

// Run reads messages until Close and calls fn for each change that
// matters; it returns nil after Close, else the read error.
func (l *Listener) Run(fn func(Change)) error {
	for {
		n, from, err := l.recv()
		switch {
		case l.closed.Load():
			return nil
		case errors.Is(err, unix.ENOBUFS):
			fn(Change{Kind: Lost})
			continue
		case err != nil:
			return fmt.Errorf("rtnetlink: read: %w", err)
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue // not the kernel's
		}
		if err := l.handle(l.buf[:n], fn); err != nil {
			fn(Change{Kind: Lost}) // a message we could not read may have said something
		}
	}
}

func (l *Listener) recv() (int, unix.Sockaddr, error) {
	var (
		n    int
		from unix.Sockaddr
		rerr error
	)
	err := l.rc.Read(func(fd uintptr) bool {
		n, from, rerr = unix.Recvfrom(int(fd), l.buf, 0)
		return rerr != unix.EAGAIN
	})
	if err != nil {
		return 0, nil, err
	}
	return n, from, rerr
}

// handle decodes the messages of one datagram and reports what changed.
// It returns the first decoding error after reporting what it could read.
func (l *Listener) handle(b []byte, fn func(Change)) error {
	return eachMessage(b, func(typ uint16, body []byte) error {
		switch typ {
		case unix.RTM_NEWLINK, unix.RTM_DELLINK:
			c, err := parseLink(body)
			if err != nil {
				return err
			}
			c.Gone = typ == unix.RTM_DELLINK
			if l.linkChanged(c) {
				fn(c)
			}
		case unix.RTM_NEWROUTE, unix.RTM_DELROUTE:
			c, dflt, err := parseRoute(body)
			if err != nil {
				return err
			}
			if dflt {
				c.Gone = typ == unix.RTM_DELROUTE
				fn(c)
			}
		}
		return nil
	})
}

// linkChanged records the link's state and reports whether it is news.
func (l *Listener) linkChanged(c Change) bool {
	if c.Flags&unix.IFF_LOOPBACK != 0 {
		return false
	}
	if c.Gone {
		delete(l.links, c.Index)
		return true
	}
	now := linkState{flags: c.Flags & linkFlags, operState: c.OperState}
	before, known := l.links[c.Index]
	l.links[c.Index] = now
	return !known || before != now
}
