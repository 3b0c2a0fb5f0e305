package rtnetlink

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// errMalformed wraps every decoding error.
var errMalformed = errors.New("malformed rtnetlink message")

// Sizes of the fixed headers (linux/netlink.h, linux/rtnetlink.h).
const (
	nlmsgHeader = 16 // nlmsghdr: len, type, flags, seq, pid
	ifinfomsg   = 16 // family, pad, type, index, flags, change
	rtmsg       = 12 // family, dst_len, src_len, tos, table, protocol, scope, type, flags
	rtattr      = 4  // len, type
)

// Attribute types read.
const (
	iflaIfname    = 3
	iflaOperstate = 16
	rtaOIF        = 4
	rtaTable      = 15
)

var native = binary.NativeEndian

func align4(n int) int { return (n + 3) &^ 3 }

// eachMessage calls fn with the type and body of each message in b, one
// datagram. It stops at the first malformed message or error from fn.
func eachMessage(b []byte, fn func(typ uint16, body []byte) error) error {
	for off := 0; off < len(b); {
		if len(b)-off < nlmsgHeader {
			return fmt.Errorf("%w: %d bytes left at byte %d, shorter than a header", errMalformed, len(b)-off, off)
		}
		n := int(native.Uint32(b[off:]))
		if n < nlmsgHeader || n > len(b)-off {
			return fmt.Errorf("%w: message at byte %d says %d bytes, %d left", errMalformed, off, n, len(b)-off)
		}
		typ := native.Uint16(b[off+4:])
		if typ == unix.NLMSG_DONE {
			return nil
		}
		if err := fn(typ, b[off+nlmsgHeader:off+n]); err != nil {
			return err
		}
		off += align4(n)
	}
	return nil
}

// eachAttr calls fn with the type and payload of each attribute in b.
func eachAttr(b []byte, fn func(typ uint16, v []byte)) error {
	for off := 0; off < len(b); {
		if len(b)-off < rtattr {
			return fmt.Errorf("%w: %d bytes left at attribute byte %d", errMalformed, len(b)-off, off)
		}
		n := int(native.Uint16(b[off:]))
		if n < rtattr || n > len(b)-off {
			return fmt.Errorf("%w: attribute at byte %d says %d bytes, %d left", errMalformed, off, n, len(b)-off)
		}
		fn(native.Uint16(b[off+2:])&^(unix.NLA_F_NESTED|unix.NLA_F_NET_BYTEORDER), b[off+rtattr:off+n])
		off += align4(n)
	}
	return nil
}

// parseLink reads an RTM_NEWLINK or RTM_DELLINK body.
func parseLink(b []byte) (Change, error) {
	if len(b) < ifinfomsg {
		return Change{}, fmt.Errorf("%w: link message of %d bytes", errMalformed, len(b))
	}
	c := Change{Kind: Link, Index: int32(native.Uint32(b[4:])), Flags: native.Uint32(b[8:])}
	err := eachAttr(b[ifinfomsg:], func(typ uint16, v []byte) {
		switch {
		case typ == iflaIfname && len(v) > 0:
			if i := indexNul(v); i >= 0 {
				v = v[:i]
			}
			c.Name = string(v)
		case typ == iflaOperstate && len(v) == 1:
			c.OperState = v[0]
		}
	})
	return c, err
}

func indexNul(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// parseRoute reads an RTM_NEWROUTE or RTM_DELROUTE body and reports
// whether it is a unicast default route of the main table.
func parseRoute(b []byte) (c Change, dflt bool, err error) {
	if len(b) < rtmsg {
		return Change{}, false, fmt.Errorf("%w: route message of %d bytes", errMalformed, len(b))
	}
	c = Change{Kind: Route, Family: b[0]}
	dstLen, table, typ := b[1], uint32(b[4]), b[7]
	err = eachAttr(b[rtmsg:], func(t uint16, v []byte) {
		switch {
		case t == rtaTable && len(v) == 4:
			table = native.Uint32(v)
		case t == rtaOIF && len(v) == 4:
			c.Index = int32(native.Uint32(v))
		}
	})
	dflt = dstLen == 0 && table == unix.RT_TABLE_MAIN && typ == unix.RTN_UNICAST
	return c, dflt, err
}
