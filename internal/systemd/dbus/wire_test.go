package dbus

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

// wb hand-encodes messages for tests, independently of the package's
// encoder: each helper writes exactly the bytes the specification gives.
type wb struct {
	order binary.ByteOrder
	b     []byte
}

func (w *wb) pad(a int) *wb {
	for len(w.b)%a != 0 {
		w.b = append(w.b, 0)
	}
	return w
}
func (w *wb) raw(b ...byte) *wb { w.b = append(w.b, b...); return w }
func (w *wb) u32(v uint32) *wb {
	w.pad(4)
	w.b = w.order.(binary.AppendByteOrder).AppendUint32(w.b, v)
	return w
}
func (w *wb) str(s string) *wb {
	w.u32(uint32(len(s)))
	w.b = append(append(w.b, s...), 0)
	return w
}
func (w *wb) sig(s string) *wb { w.b = append(append(append(w.b, byte(len(s))), s...), 0); return w }

// unitsBody is the body of a ListUnitsFiltered reply holding units (each
// 10 values: ssssssouso, the job id given as a string of digits).
func unitsBody(order binary.ByteOrder, units ...[10]string) []byte {
	w := &wb{order: order}
	w.u32(0).pad(8)
	start := len(w.b)
	for _, u := range units {
		w.pad(8)
		for i, v := range u {
			if i == 7 {
				var id uint32
				for _, c := range v {
					id = id*10 + uint32(c-'0')
				}
				w.u32(id)
				continue
			}
			w.str(v)
		}
	}
	w.order.PutUint32(w.b[0:], uint32(len(w.b)-start))
	return w.b
}

// reply builds a method return: the header fields reply serial, signature
// and an unknown field 42 of type ai, which decoders must skip.
func reply(order binary.ByteOrder, serial, replySerial uint32, sig string, body []byte) []byte {
	e := byte('l')
	if order == binary.BigEndian {
		e = 'B'
	}
	w := &wb{order: order}
	w.raw(e, typeReturn, 0x01, 1).u32(uint32(len(body))).u32(serial).u32(0)
	w.raw(fieldReplySerial).sig("u").u32(replySerial)
	w.pad(8).raw(fieldSignature).sig("g").sig(sig)
	w.pad(8).raw(42).sig("ai").u32(8).u32(1).u32(2)
	w.order.PutUint32(w.b[12:], uint32(len(w.b)-fixedHeader))
	w.pad(8)
	return append(w.b, body...)
}

var failedA = [10]string{"a.service", "A daemon", "loaded", "failed", "failed", "",
	"/org/freedesktop/systemd1/unit/a_2eservice", "0", "", "/"}
var jobB = [10]string{"b.socket", "B ✓", "loaded", "failed", "failed", "c.socket",
	"/org/freedesktop/systemd1/unit/b_2esocket", "77", "start", "/org/freedesktop/systemd1/job/77"}

func TestDecodeReplyLiteral(t *testing.T) {
	// The first 24 bytes, written out: little-endian method return, flags
	// 1, version 1, body length, serial 9, fields length 52; then field 5
	// (reply serial), signature "u", value 7.
	msg := reply(binary.LittleEndian, 9, 7, unitListSig, unitsBody(binary.LittleEndian, failedA, jobB))
	want := binary.LittleEndian.AppendUint32([]byte{'l', 2, 1, 1}, uint32(len(msg)-72))
	want = append(want, 9, 0, 0, 0, 52, 0, 0, 0, 5, 1, 'u', 0, 7, 0, 0, 0)
	if string(msg[:24]) != string(want) {
		t.Fatalf("test encoder drifted: % x", msg[:24])
	}
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		msg := reply(order, 9, 7, unitListSig, unitsBody(order, failedA, jobB))
		m, err := decodeMessage(msg)
		if err != nil {
			t.Fatalf("%v: %v", order, err)
		}
		if m.typ != typeReturn || m.serial != 9 || m.replySerial != 7 || m.sig != unitListSig {
			t.Fatalf("%v: header %+v", order, m)
		}
		units, err := decodeUnits(m)
		if err != nil {
			t.Fatalf("%v: %v", order, err)
		}
		wantA := Unit{Name: "a.service", Description: "A daemon", LoadState: "loaded", ActiveState: "failed",
			SubState: "failed", Path: "/org/freedesktop/systemd1/unit/a_2eservice", JobPath: "/"}
		wantB := Unit{Name: "b.socket", Description: "B ✓", LoadState: "loaded", ActiveState: "failed",
			SubState: "failed", Following: "c.socket", Path: "/org/freedesktop/systemd1/unit/b_2esocket",
			JobID: 77, JobType: "start", JobPath: "/org/freedesktop/systemd1/job/77"}
		if len(units) != 2 || units[0] != wantA || units[1] != wantB {
			t.Errorf("%v: units\n%+v\nwant\n%+v\n%+v", order, units, wantA, wantB)
		}
	}
}

func TestDecodeEmptyList(t *testing.T) {
	m, err := decodeMessage(reply(binary.LittleEndian, 2, 1, unitListSig, unitsBody(binary.LittleEndian)))
	if err != nil {
		t.Fatal(err)
	}
	units, err := decodeUnits(m)
	if err != nil || units == nil || len(units) != 0 {
		t.Errorf("got %#v, %v; want an empty, non-nil list", units, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := reply(binary.LittleEndian, 9, 7, unitListSig, unitsBody(binary.LittleEndian, failedA))
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string][]byte{
		"short":         good[:10],
		"endianness":    mutate(func(b []byte) []byte { b[0] = 'x'; return b }),
		"version":       mutate(func(b []byte) []byte { b[3] = 2; return b }),
		"truncated":     good[:len(good)-1],
		"huge body":     mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[4:], 1<<31); return b }),
		"huge fields":   mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[12:], 1<<30); return b }),
		"serial 0":      mutate(func(b []byte) []byte { b[8] = 0; return b }),
		"bad padding":   mutate(func(b []byte) []byte { b[19] = 1; return b }),
		"reply serial":  mutate(func(b []byte) []byte { b[18] = 's'; return b }),
		"no terminator": mutate(func(b []byte) []byte { b[42] = 'x'; return b }),
	}
	for name, b := range cases {
		if _, err := decodeMessage(b); !errors.Is(err, errMalformed) {
			t.Errorf("%s: err = %v, want errMalformed", name, err)
		}
	}
	m, err := decodeMessage(good)
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{
		"array too long": func() []byte { b := append([]byte(nil), m.body...); b[0] = 0xff; return b }(),
		"array short":    func() []byte { b := append([]byte(nil), m.body...); b[0] -= 4; return b }(),
		"no name":        unitsBody(binary.LittleEndian, [10]string{"", "x", "loaded", "failed", "failed", "", "/", "0", "", "/"}),
		"not UTF-8":      unitsBody(binary.LittleEndian, [10]string{"a\xff", "x", "l", "f", "f", "", "/", "0", "", "/"}),
	} {
		if _, err := decodeUnits(&message{order: binary.LittleEndian, sig: unitListSig, body: body}); !errors.Is(err, errMalformed) {
			t.Errorf("%s: err = %v, want errMalformed", name, err)
		}
	}
	if _, err := decodeUnits(&message{order: binary.LittleEndian, sig: "s", body: m.body}); err == nil {
		t.Error("decoded units from a reply of signature s")
	}
}

func TestSkipNestedVariants(t *testing.T) {
	// An unknown header field holding variants nested 100 deep: refused
	// by the depth limit, without deep recursion.
	w := &wb{order: binary.LittleEndian}
	w.raw('l', typeReturn, 0, 1).u32(0).u32(1).u32(0)
	w.raw(fieldReplySerial).sig("u").u32(1)
	w.pad(8).raw(42)
	for range 100 {
		w.sig("v")
	}
	w.sig("y").raw(1)
	w.order.PutUint32(w.b[12:], uint32(len(w.b)-fixedHeader))
	w.pad(8)
	if _, err := decodeMessage(w.b); err == nil || !strings.Contains(err.Error(), "deeper") {
		t.Errorf("err = %v, want a depth error", err)
	}
}

func TestTypeEnd(t *testing.T) {
	for sig, want := range map[string]int{"y": 1, "as": 2, "a{sv}": 5, "(ss)": 4, "a(ssssssouso)": 13, "aai": 3, "v": 1} {
		if got, err := typeEnd(sig, 0, 0); err != nil || got != want {
			t.Errorf("typeEnd(%q) = %d, %v; want %d", sig, got, err, want)
		}
	}
	for _, sig := range []string{"", "a", "()", "(s", "a{vs}", "a{s}", "a{sss}", "z", "{ss}x", strings.Repeat("a", 70) + "y"} {
		if end, err := typeEnd(sig, 0, 0); err == nil && end == len(sig) {
			t.Errorf("typeEnd(%q) accepted it", sig)
		}
	}
}

func TestEncodeCall(t *testing.T) {
	b, err := encodeCall(nil, 5, methodCall{dest: "org.freedesktop.systemd1", path: "/org/freedesktop/systemd1",
		iface: "org.freedesktop.systemd1.Manager", member: "ListUnitsFiltered", args: []any{[]string{"failed", "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Body: array length 18 (4+6+1 "failed", pad to 12, 4+1+1 "x"), then
	// the elements.
	wantBody := []byte{18, 0, 0, 0, 6, 0, 0, 0, 'f', 'a', 'i', 'l', 'e', 'd', 0, 0, 1, 0, 0, 0, 'x', 0}
	if string(b[len(b)-len(wantBody):]) != string(wantBody) || string(b[:4]) != "l\x01\x00\x01" {
		t.Errorf("encoded % x", b)
	}
	// A method call the decoder reads back with the same fields.
	m, err := decodeMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.typ != typeMethodCall || m.serial != 5 || m.member != "ListUnitsFiltered" || m.sig != "as" ||
		m.dest != "org.freedesktop.systemd1" || m.iface != "org.freedesktop.systemd1.Manager" || m.path != "/org/freedesktop/systemd1" {
		t.Errorf("decoded %+v", m)
	}
	if _, err := encodeCall(nil, 1, methodCall{path: "/", member: "X", args: []any{"a\x00b"}}); err == nil {
		t.Error("encoded a string with a nul byte")
	}
	if _, err := encodeCall(nil, 1, methodCall{path: "/", member: "X", args: []any{3}}); err == nil {
		t.Error("encoded an int argument")
	}
}

// FuzzDecode feeds arbitrary bytes to the message and unit-list decoders:
// they must never panic, and must not allocate more than the input backs.
func FuzzDecode(f *testing.F) {
	f.Add(reply(binary.LittleEndian, 9, 7, unitListSig, unitsBody(binary.LittleEndian, failedA, jobB)))
	f.Add(reply(binary.BigEndian, 9, 7, unitListSig, unitsBody(binary.BigEndian, jobB)))
	f.Add(reply(binary.LittleEndian, 2, 1, unitListSig, unitsBody(binary.LittleEndian)))
	f.Add(reply(binary.LittleEndian, 2, 1, "s", (&wb{order: binary.LittleEndian}).str("hi").b))
	call, _ := encodeCall(nil, 5, methodCall{path: "/a", member: "M", args: []any{[]string{"failed"}, "s"}})
	f.Add(call)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b)
		if err != nil {
			return
		}
		if len(m.body) > len(b) {
			t.Fatalf("body of %d bytes from %d bytes", len(m.body), len(b))
		}
		units, err := decodeUnits(m)
		if err == nil && len(units)*8 > len(b) {
			t.Fatalf("%d units from %d bytes", len(units), len(b))
		}
		stringBody(m)
	})
}

// TestReadHostileLength: a header announcing a large body that never
// comes costs what arrived, not what was announced; one above MaxMessage
// is refused before anything is read.
func TestReadHostileLength(t *testing.T) {
	head := func(body uint32) []byte {
		w := &wb{order: binary.LittleEndian}
		return w.raw('l', typeReturn, 0, 1).u32(body).u32(1).u32(0).b
	}
	c := &Conn{r: bufio.NewReader(bytes.NewReader(append(head(MaxMessage-16), "just a few bytes"...)))}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := c.read()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want unexpected EOF", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Errorf("allocated %d bytes for a message cut off after 32", n)
	}
	c = &Conn{r: bufio.NewReader(bytes.NewReader(head(MaxMessage)))}
	if _, err := c.read(); !errors.Is(err, errMalformed) || !strings.Contains(err.Error(), "more than") {
		t.Errorf("err = %v, want a refusal of the length", err)
	}
}
