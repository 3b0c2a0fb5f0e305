package detect

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/lmn-heal/lmn/internal/record"
)

// DecodeSample decodes one sample line into s (which it zeroes first),
// exactly as json.Unmarshal would. Decoding dominates lmn-detect's cost,
// so the usual shape of a line (lower-case keys, plain strings, numbers,
// booleans, null) takes a single hand-written pass; anything else, such as
// an escaped string, a key in another case or a syntax error, falls back
// to json.Unmarshal, which also gives the error.
func DecodeSample(b []byte, s *record.Sample) error {
	*s = record.Sample{}
	d := sampleDecoder{b: b}
	if d.sample(s) == nil && d.end() {
		return nil
	}
	*s = record.Sample{}
	return json.Unmarshal(b, s)
}

// errSlow sends a line to json.Unmarshal.
var errSlow = errors.New("not on the fast path")

type sampleDecoder struct {
	b []byte
	i int
}

func (d *sampleDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *sampleDecoder) end() bool {
	d.ws()
	return d.i == len(d.b)
}

// peek returns the next non-space byte, or 0 at the end.
func (d *sampleDecoder) peek() byte {
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

// str reads a string without escapes or control characters and with valid
// UTF-8, and returns its bytes.
func (d *sampleDecoder) str() ([]byte, error) {
	if d.peek() != '"' {
		return nil, errSlow
	}
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.b); j++ {
		c := d.b[j]
		switch {
		case c == '"':
			d.i = j + 1
			s := d.b[start:j]
			if !ascii && !utf8.Valid(s) {
				return nil, errSlow
			}
			return s, nil
		case c == '\\' || c < 0x20:
			return nil, errSlow
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, errSlow
}

func (d *sampleDecoder) string(v *string) error {
	if d.null() {
		return nil
	}
	s, err := d.str()
	*v = string(s)
	return err
}

// number returns the next number literal, checked against JSON's grammar.
func (d *sampleDecoder) number() ([]byte, error) {
	d.ws()
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

func (d *sampleDecoder) float(v *float64) error {
	if d.null() {
		return nil
	}
	n, err := d.number()
	if err != nil {
		return err
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return errSlow
	}
	*v = f
	return nil
}

func (d *sampleDecoder) int(v *int) error {
	if d.null() {
		return nil
	}
	n, err := d.number()
	if err != nil {
		return err
	}
	i, err := strconv.ParseInt(string(n), 10, strconv.IntSize)
	if err != nil {
		return errSlow
	}
	*v = int(i)
	return nil
}

func (d *sampleDecoder) uint(v *uint64) error {
	if d.null() {
		return nil
	}
	n, err := d.number()
	if err != nil {
		return err
	}
	u, err := strconv.ParseUint(string(n), 10, 64)
	if err != nil {
		return errSlow
	}
	*v = u
	return nil
}

func (d *sampleDecoder) bool(v *bool) error {
	switch {
	case d.null():
	case d.peek() == 't' && d.lit("true"):
		*v = true
	case d.peek() == 'f' && d.lit("false"):
		*v = false
	default:
		return errSlow
	}
	return nil
}

func (d *sampleDecoder) time(v *record.Time) error {
	if d.null() {
		return nil
	}
	s, err := d.str()
	if err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, string(s))
	if err != nil {
		return errSlow
	}
	v.Time = t.UTC()
	return nil
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
		var b bool
		return d.bool(&b)
	default:
		_, err := d.number()
		return err
	}
}

// decodeGroup decodes an object into *p, allocating it when needed (as
// json.Unmarshal does, a second occurrence merges into the first).
func decodeGroup[T any](d *sampleDecoder, p **T, fields func(*T, []byte) error) error {
	if d.null() {
		*p = nil
		return nil
	}
	if *p == nil {
		*p = new(T)
	}
	v := *p
	return d.object(func(k []byte) error { return fields(v, k) })
}

// decodeList decodes an array of objects into *p; a repeated list takes the
// slow path.
func decodeList[T any](d *sampleDecoder, p *[]T, fields func(*T, []byte) error) error {
	if d.null() {
		*p = nil
		return nil
	}
	if *p != nil {
		return errSlow
	}
	*p = []T{}
	return d.array(func() error {
		var e T
		if d.null() {
			*p = append(*p, e)
			return nil
		}
		if err := d.object(func(k []byte) error { return fields(&e, k) }); err != nil {
			return err
		}
		*p = append(*p, e)
		return nil
	})
}
