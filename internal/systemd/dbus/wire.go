package dbus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Message types.
const (
	typeMethodCall = 1
	typeReturn     = 2
	typeError      = 3
	typeSignal     = 4
)

// Header field codes.
const (
	fieldPath        = 1
	fieldInterface   = 2
	fieldMember      = 3
	fieldErrorName   = 4
	fieldReplySerial = 5
	fieldDestination = 6
	fieldSender      = 7
	fieldSignature   = 8
	fieldUnixFDs     = 9
)

const (
	// fixedHeader is the part of every message before the header fields:
	// endianness, type, flags, version, body length, serial, fields length.
	fixedHeader = 16
	// MaxMessage is the largest message Conn accepts. The specification
	// allows 128 MiB; a list of failed units is a few KiB, and a smaller
	// bound keeps a hostile peer from making us allocate much.
	MaxMessage = 16 << 20
	// maxArray is the specification's limit on one array's length.
	maxArray = 64 << 20
	// maxDepth bounds nesting of containers (the specification allows 32
	// arrays plus 32 structs).
	maxDepth = 64
)

// errMalformed wraps every decoding error.
var errMalformed = errors.New("malformed D-Bus message")

// message is one decoded message. body holds the raw body, which starts
// 8-aligned in the message, so offsets in it align as in the message.
type message struct {
	order       binary.ByteOrder
	typ         byte
	flags       byte
	serial      uint32
	replySerial uint32
	path        string
	iface       string
	member      string
	errName     string
	dest        string
	sender      string
	sig         string
	unixFDs     uint32
	body        []byte
}

// messageLen returns the total length of the message whose first 16 bytes
// are b, checking it against MaxMessage.
func messageLen(b []byte) (int, error) {
	if len(b) < fixedHeader {
		return 0, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", errMalformed, len(b), fixedHeader)
	}
	var order binary.ByteOrder
	switch b[0] {
	case 'l':
		order = binary.LittleEndian
	case 'B':
		order = binary.BigEndian
	default:
		return 0, fmt.Errorf("%w: endianness byte %#x", errMalformed, b[0])
	}
	if b[3] != 1 {
		return 0, fmt.Errorf("%w: protocol version %d, want 1", errMalformed, b[3])
	}
	body, fields := uint64(order.Uint32(b[4:])), uint64(order.Uint32(b[12:]))
	total := align(fixedHeader+fields, 8) + body
	if total > MaxMessage {
		return 0, fmt.Errorf("%w: %d bytes, more than the %d this client accepts", errMalformed, total, MaxMessage)
	}
	return int(total), nil
}

func align(n, a uint64) uint64 { return (n + a - 1) &^ (a - 1) }

// decodeMessage decodes one whole message. Strings in the result are
// copies; body aliases b.
func decodeMessage(b []byte) (*message, error) {
	n, err := messageLen(b)
	if err != nil {
		return nil, err
	}
	if n != len(b) {
		return nil, fmt.Errorf("%w: %d bytes, header says %d", errMalformed, len(b), n)
	}
	m := &message{typ: b[1], flags: b[2]}
	m.order = binary.ByteOrder(binary.LittleEndian)
	if b[0] == 'B' {
		m.order = binary.BigEndian
	}
	m.serial = m.order.Uint32(b[8:])
	if m.serial == 0 {
		return nil, fmt.Errorf("%w: serial 0", errMalformed)
	}
	bodyLen := int(m.order.Uint32(b[4:]))
	d := &decoder{b: b[:len(b)-bodyLen], off: 12, order: m.order}
	if err := m.decodeFields(d); err != nil {
		return nil, err
	}
	if d.align(8); d.err == nil && d.off != len(d.b) {
		return nil, fmt.Errorf("%w: header padding is %d bytes, want %d", errMalformed, len(d.b)-d.off, 0)
	}
	if d.err != nil {
		return nil, d.err
	}
	m.body = b[len(b)-bodyLen:]
	return m, m.check()
}

// fieldTypes are the types of the known header fields, by code.
var fieldTypes = [...]string{fieldPath: "o", fieldInterface: "s", fieldMember: "s", fieldErrorName: "s",
	fieldReplySerial: "u", fieldDestination: "s", fieldSender: "s", fieldSignature: "g", fieldUnixFDs: "u"}

// decodeFields reads the header fields array a(yv).
func (m *message) decodeFields(d *decoder) error {
	end := d.arrayStart(8)
	for d.err == nil && d.off < end {
		d.align(8)
		code := d.byte()
		sig := d.signature()
		if d.err != nil {
			break
		}
		var want string
		if int(code) < len(fieldTypes) {
			want = fieldTypes[code]
		}
		if want == "" { // unknown fields are ignored, as the specification says
			d.skipOne(sig, 1)
			continue
		}
		if sig != want {
			return fmt.Errorf("%w: header field %d has type %q, want %q", errMalformed, code, sig, want)
		}
		m.setField(d, code)
	}
	d.arrayEnd(end)
	return d.err
}

func (m *message) setField(d *decoder, code byte) {
	switch code {
	case fieldPath:
		m.path = d.string()
	case fieldInterface:
		m.iface = d.string()
	case fieldMember:
		m.member = d.string()
	case fieldErrorName:
		m.errName = d.string()
	case fieldReplySerial:
		m.replySerial = d.uint32()
	case fieldDestination:
		m.dest = d.string()
	case fieldSender:
		m.sender = d.string()
	case fieldSignature:
		m.sig = d.signature()
	case fieldUnixFDs:
		m.unixFDs = d.uint32()
	}
}

// check enforces the header fields each message type requires.
func (m *message) check() error {
	var missing string
	switch m.typ {
	case typeMethodCall:
		if m.path == "" || m.member == "" {
			missing = "path or member"
		}
	case typeReturn:
		if m.replySerial == 0 {
			missing = "reply serial"
		}
	case typeError:
		if m.replySerial == 0 || m.errName == "" {
			missing = "reply serial or error name"
		}
	case typeSignal:
		if m.path == "" || m.iface == "" || m.member == "" {
			missing = "path, interface or member"
		}
	}
	if missing != "" {
		return fmt.Errorf("%w: message type %d without %s", errMalformed, m.typ, missing)
	}
	if len(m.body) > 0 && m.sig == "" {
		return fmt.Errorf("%w: %d-byte body without a signature", errMalformed, len(m.body))
	}
	return nil
}

// decoder reads values from b. The first error sticks; later reads return
// zero values.
type decoder struct {
	b     []byte
	off   int
	order binary.ByteOrder
	err   error
}

func (d *decoder) fail(format string, a ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: at byte %d: %s", errMalformed, d.off, fmt.Sprintf(format, a...))
	}
}

// take returns the next n bytes.
func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.off {
		d.fail("need %d bytes, %d left", n, len(d.b)-d.off)
		return nil
	}
	d.off += n
	return d.b[d.off-n : d.off]
}

// align skips the zero padding up to a multiple of a.
func (d *decoder) align(a int) {
	pad := (a - d.off%a) % a
	for _, c := range d.take(pad) {
		if c != 0 {
			d.fail("non-zero padding")
		}
	}
}

func (d *decoder) byte() byte {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) uint32() uint32 {
	d.align(4)
	if b := d.take(4); b != nil {
		return d.order.Uint32(b)
	}
	return 0
}

// string reads an s or o value.
func (d *decoder) string() string {
	n := d.uint32()
	if uint64(n) > uint64(len(d.b)) {
		d.fail("string of %d bytes in a %d-byte message", n, len(d.b))
		return ""
	}
	return d.text(int(n))
}

// signature reads a g value.
func (d *decoder) signature() string {
	return d.text(int(d.byte()))
}

// text reads n bytes of UTF-8 and the nul after them.
func (d *decoder) text(n int) string {
	b := d.take(n + 1)
	if b == nil {
		return ""
	}
	if b[n] != 0 {
		d.fail("string not nul-terminated")
		return ""
	}
	if !utf8.Valid(b[:n]) {
		d.fail("string is not UTF-8")
		return ""
	}
	return string(b[:n])
}

// arrayStart reads an array's length and the padding to its elements'
// alignment; it returns the offset where the array ends.
func (d *decoder) arrayStart(elemAlign int) int {
	n := d.uint32()
	if n > maxArray {
		d.fail("array of %d bytes, more than the limit of %d", n, maxArray)
	}
	d.align(elemAlign)
	if d.err == nil && int(n) > len(d.b)-d.off {
		d.fail("array of %d bytes, %d left", n, len(d.b)-d.off)
	}
	if d.err != nil {
		return d.off
	}
	return d.off + int(n)
}

func (d *decoder) arrayEnd(end int) {
	if d.err == nil && d.off != end {
		d.fail("array element crosses the array's end at byte %d", end)
	}
}
