package dbus

import (
	"encoding/binary"
	"fmt"
)

// methodCall is a method call to send. Its arguments are strings (s), lists
// of strings (as) or uint32 (u): all that the methods lmn calls need.
type methodCall struct {
	dest, path, iface, member string
	args                      []any
}

// signature returns the body signature of c's arguments.
func (c methodCall) signature() (string, error) {
	sig := ""
	for i, a := range c.args {
		switch a.(type) {
		case string:
			sig += "s"
		case []string:
			sig += "as"
		case uint32:
			sig += "u"
		default:
			return "", fmt.Errorf("%s.%s: argument %d is a %T; only string, []string and uint32 can be sent", c.iface, c.member, i, a)
		}
	}
	return sig, nil
}

// encodeCall encodes c as one little-endian message with the given serial,
// reusing buf's storage.
func encodeCall(buf []byte, serial uint32, c methodCall) ([]byte, error) {
	sig, err := c.signature()
	if err != nil {
		return buf, err
	}
	e := &encoder{b: buf[:0]}
	e.b = append(e.b, 'l', typeMethodCall, 0, 1)
	e.uint32(0) // body length, filled in below
	e.uint32(serial)
	lenAt, fieldsStart := e.arrayStart(8)
	field := func(code byte, typ, v string) {
		if v == "" {
			return
		}
		e.align(8)
		e.b = append(e.b, code)
		e.signature(typ)
		if typ == "g" {
			e.signature(v)
		} else {
			e.string(v)
		}
	}
	field(fieldPath, "o", c.path)
	field(fieldInterface, "s", c.iface)
	field(fieldMember, "s", c.member)
	field(fieldDestination, "s", c.dest)
	field(fieldSignature, "g", sig)
	e.arrayEnd(lenAt, fieldsStart)
	e.align(8)
	bodyStart := len(e.b)
	for _, a := range c.args {
		switch a := a.(type) {
		case string:
			e.string(a)
		case []string:
			lenAt, start := e.arrayStart(4)
			for _, s := range a {
				e.string(s)
			}
			e.arrayEnd(lenAt, start)
		case uint32:
			e.uint32(a)
		}
	}
	if e.err != nil {
		return e.b, fmt.Errorf("%s.%s: %w", c.iface, c.member, e.err)
	}
	binary.LittleEndian.PutUint32(e.b[4:], uint32(len(e.b)-bodyStart))
	return e.b, nil
}
