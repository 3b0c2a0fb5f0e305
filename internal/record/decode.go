package record

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/bits"
	"unicode/utf8"
)

// DecodeSample decodes one sample line into s (which it zeroes first),
// exactly as json.Unmarshal would. Decoding dominates lmn-detect's cost,
// so the usual shape of a line (lower-case keys, plain strings, numbers,
// booleans, null) takes a single pass of generated code (sample_decode.go);
// anything else, such as an escaped string, a key in another case or a
// value of the wrong type, falls back to json.Unmarshal, which also gives
// the error. After an error s holds what json.Unmarshal could decode: the
// fields of the right type.
func DecodeSample(b []byte, s *Sample) error {
	return decodeSample(b, s, &allFields, nil, nil)
}

// A SampleDecoder decodes sample lines for a reader that needs some of
// their fields (the rules loaded, lmn-heal's facts): only the fields wanted
// are parsed into the sample, the others are checked (so a line decodes
// without error exactly when json.Unmarshal takes it) and left zero. The
// sample's own fields outside any group (kind, ts, host, seq, ...) are
// always decoded. It keeps the strings it has seen, so the names repeated
// in every sample are not allocated again. It is not safe for concurrent
// use.
type SampleDecoder struct {
	want  FieldSet
	strs  map[string]string
	arena arena
}

// maxInterned bounds the strings a SampleDecoder keeps.
const maxInterned = 4096

// NewSampleDecoder returns a SampleDecoder for the fields in want.
func NewSampleDecoder(want FieldSet) *SampleDecoder {
	for _, f := range topFields {
		want.Add(f)
	}
	return &SampleDecoder{want: want, strs: map[string]string{}}
}

// Decode decodes one sample line into s (which it zeroes first): the
// fields wanted are as json.Unmarshal gives them, the others zero (but a
// group or list present in the line is there, maybe empty), and the error
// is non-nil exactly when json.Unmarshal fails. The groups and lists of s
// are the decoder's, reused by the next Decode: keep none.
func (sd *SampleDecoder) Decode(b []byte, s *Sample) error {
	return decodeSample(b, s, &sd.want, sd.strs, &sd.arena)
}

func decodeSample(b []byte, s *Sample, want *FieldSet, strs map[string]string, a *arena) error {
	*s = Sample{}
	d := sampleDecoder{b: b, want: want, strs: strs, a: a}
	if d.sample(s) == nil && d.end() {
		return nil
	}
	*s = Sample{}
	return json.Unmarshal(b, s)
}

func (d *sampleDecoder) sample(s *Sample) error {
	return d.object(func(k []byte) error { return d.decSample(s, k) })
}

// errSlow sends a line to json.Unmarshal.
var errSlow = errors.New("not on the fast path")

type sampleDecoder struct {
	b    []byte
	i    int
	want *FieldSet
	strs map[string]string // interned strings, or nil
	a    *arena            // storage to reuse, or nil
}

func (d *sampleDecoder) ws() { d.i = skipSpace(d.b, d.i) }

func (d *sampleDecoder) end() bool {
	d.ws()
	return d.i == len(d.b)
}

// peek returns the next non-space byte, or 0 at the end.
func (d *sampleDecoder) peek() byte {
	if d.i < len(d.b) && d.b[d.i] > ' ' {
		return d.b[d.i] // the usual case: no space between tokens
	}
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *sampleDecoder) lit(s string) bool {
	if len(d.b)-d.i >= len(s) && string(d.b[d.i:d.i+len(s)]) == s {
		d.i += len(s)
		return true
	}
	return false
}

// null consumes a null if one is next.
func (d *sampleDecoder) null() bool {
	return d.peek() == 'n' && d.lit("null")
}

// object calls field for each key of an object (or nothing for null).
func (d *sampleDecoder) object(field func(key []byte) error) error {
	if d.null() {
		return nil
	}
	if d.peek() != '{' {
		return errSlow
	}
	d.i++
	if d.peek() == '}' {
		d.i++
		return nil
	}
	for {
		if d.peek() != '"' {
			return errSlow
		}
		key, err := d.str()
		if err != nil {
			return err
		}
		if d.peek() != ':' {
			return errSlow
		}
		d.i++
		if err := field(key); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return nil
		default:
			return errSlow
		}
	}
}

// array calls elem for each element of an array (or nothing for null).
func (d *sampleDecoder) array(elem func() error) error {
	if d.null() {
		return nil
	}
	if d.peek() != '[' {
		return errSlow
	}
	d.i++
	if d.peek() == ']' {
		d.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return nil
		default:
			return errSlow
		}
	}
}

// plain marks the bytes a string on the fast path holds as they are:
// printable ASCII but the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainRun returns the index of the first byte from j on that is not
// plain (len(b) if none), looking at eight bytes at a time.
func plainRun(b []byte, j int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for j+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[j:])
		q, bs := w^(ones*'"'), w^(ones*'\\')
		// A high bit in any term marks a byte below 0x20, a quote, a
		// backslash or a byte beyond ASCII. Borrows only carry upwards,
		// from a marked byte, so the lowest mark is the first such byte.
		if m := ((w - ones*0x20) | (q - ones) | (bs - ones) | w) & highs; m != 0 {
			return j + bits.TrailingZeros64(m)/8
		}
		j += 8
	}
	for j < len(b) && plain[b[j]] {
		j++
	}
	return j
}

// str reads a string without escapes or control characters and with valid
// UTF-8, and returns its bytes.
func (d *sampleDecoder) str() ([]byte, error) {
	if d.peek() != '"' {
		return nil, errSlow
	}
	start := d.i + 1
	j := plainRun(d.b, start)
	if j < len(d.b) && d.b[j] == '"' {
		d.i = j + 1
		return d.b[start:j], nil
	}
	return d.strRest(start, j)
}

// strRest finishes a string that holds a byte beyond ASCII at j.
func (d *sampleDecoder) strRest(start, j int) ([]byte, error) {
	for ; j < len(d.b); j++ {
		c := d.b[j]
		switch {
		case c == '"':
			d.i = j + 1
			s := d.b[start:j]
			if !utf8.Valid(s) {
				return nil, errSlow
			}
			return s, nil
		case c == '\\' || c < 0x20:
			return nil, errSlow
		}
	}
	return nil, errSlow
}

// intern returns b as a string, allocated once for the strings a sample
// repeats (host, names) while the decoder keeps fewer than maxInterned.
func (d *sampleDecoder) intern(b []byte) string {
	if d.strs == nil {
		return string(b)
	}
	if s, ok := d.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.strs) < maxInterned {
		d.strs[s] = s
	}
	return s
}

// number returns the next number literal, checked against JSON's grammar.
func (d *sampleDecoder) number() ([]byte, error) {
	if d.i < len(d.b) && d.b[d.i] <= ' ' {
		d.ws()
	}
	j := d.i
	if j < len(d.b) && d.b[j] == '-' {
		j++
	}
	switch {
	case j < len(d.b) && d.b[j] == '0':
		j++
	case j < len(d.b) && d.b[j] >= '1' && d.b[j] <= '9':
		j = digits(d.b, j)
	default:
		return nil, errSlow
	}
	if j < len(d.b) && d.b[j] == '.' {
		k := digits(d.b, j+1)
		if k == j+1 {
			return nil, errSlow
		}
		j = k
	}
	if j < len(d.b) && (d.b[j] == 'e' || d.b[j] == 'E') {
		j++
		if j < len(d.b) && (d.b[j] == '+' || d.b[j] == '-') {
			j++
		}
		k := digits(d.b, j)
		if k == j {
			return nil, errSlow
		}
		j = k
	}
	n := d.b[d.i:j]
	d.i = j
	return n, nil
}

func digits(b []byte, j int) int {
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	return j
}

// skip passes over the value of a key the sample does not have. A key that
// json.Unmarshal might match case-insensitively takes the slow path.
func (d *sampleDecoder) skip(key []byte) error {
	for _, c := range key {
		if c >= 'A' && c <= 'Z' || c >= 0x80 {
			return errSlow
		}
	}
	return d.value(0)
}

// value passes over any JSON value.
func (d *sampleDecoder) value(depth int) error {
	if depth > 64 {
		return errSlow
	}
	switch c := d.peek(); {
	case c == '{':
		return d.object(func([]byte) error { return d.value(depth + 1) })
	case c == '[':
		return d.array(func() error { return d.value(depth + 1) })
	case c == '"':
		_, err := d.str()
		return err
	case c == 't', c == 'f', c == 'n':
		return d.boolean(nil)
	default:
		_, err := d.number()
		return err
	}
}

// decodeGroup decodes an object into *p, allocating it when needed (as
// json.Unmarshal does, a second occurrence merges into the first): in spare
// when there is one, else anew.
func decodeGroup[T any](d *sampleDecoder, p **T, spare *T, fields func(*T, []byte) error) error {
	if d.null() {
		*p = nil
		return nil
	}
	if *p == nil {
		if spare == nil {
			spare = new(T)
		} else {
			var zero T
			*spare = zero
		}
		*p = spare
	}
	v := *p
	return d.object(func(k []byte) error { return fields(v, k) })
}

// decodeList decodes an array of objects into *p, in spare's backing
// store when there is one (keeping it, grown, for the next sample); a
// repeated list takes the slow path.
func decodeList[T any](d *sampleDecoder, p *[]T, spare *[]T, fields func(*T, []byte) error) error {
	if d.null() {
		*p = nil
		return nil
	}
	if *p != nil {
		return errSlow
	}
	list := []T{}
	if spare != nil {
		if *spare == nil {
			*spare = make([]T, 0, 8)
		}
		list = (*spare)[:0]
	}
	err := d.array(func() error {
		var zero T
		list = append(list, zero)
		e := &list[len(list)-1]
		return d.object(func(k []byte) error { return fields(e, k) })
	})
	*p = list
	if spare != nil {
		*spare = list
	}
	return err
}
