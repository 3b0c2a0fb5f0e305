package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// maxDepth bounds the nesting of arrays and objects in one record.
const maxDepth = 1000

// scanner checks that a line is one JSON object, in a single pass with no
// allocation, and finds its top-level "kind" and "ts". It accepts exactly what
// encoding/json.Valid accepts (FuzzScanMatchesValid holds it to that),
// several times faster, since every record of every binary passes here.
type scanner struct {
	b     []byte
	i     int
	depth int
	kind  []byte // raw string value of the top-level "kind", quotes excluded
	kindQ bool   // kind had escapes and must be unquoted
	// odd is set by a top-level key that encoding/json could match to
	// "kind" although it is not spelled so ("KIND", "\u006bind"): then
	// the kind is found as encoding/json finds it.
	odd bool
	ts  tsSpan
	// tsOdd is the same for "ts", and for a ts that is escaped or not a
	// string: then Line.TS asks encoding/json.
	tsOdd bool
}

// tsSpan is where a line's top-level "ts" is, found by the scanner so that
// every reader takes a record's time one way (Line.TS) without decoding it.
type tsSpan struct {
	off, end int32 // a plain string value, quotes excluded, in the line
	state    uint8
}

// The states of a tsSpan. The zero state, for a Line made by hand, sends
// Line.TS to encoding/json, as does anything unusual: escapes, a value that
// is not a string, a key encoding/json matches case-insensitively.
const (
	tsUnknown uint8 = iota
	tsAbsent
	tsPlain
)

var errSyntax = errors.New("invalid JSON")

// scanObject validates body and returns its kind ("" when absent or not
// a string) and where its ts is.
func scanObject(body []byte) (string, tsSpan, error) {
	s := scanner{b: body, ts: tsSpan{state: tsAbsent}}
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return "", tsSpan{}, ErrNotObject
	}
	if err := s.object(true); err != nil {
		return "", tsSpan{}, err
	}
	s.space()
	if s.i != len(s.b) {
		return "", tsSpan{}, s.errAt("after the object")
	}
	if s.tsOdd {
		s.ts = tsSpan{}
	}
	return s.kindOf(body), s.ts, nil
}

// kindOf returns the kind the scan found, as encoding/json finds it.
func (s *scanner) kindOf(body []byte) string {
	switch {
	case s.odd:
		return slowKind(body)
	case s.kind == nil:
		return ""
	case !s.kindQ && utf8.Valid(s.kind):
		return string(s.kind)
	}
	// Escapes or bytes that are not UTF-8, which encoding/json replaces.
	var k string
	if err := json.Unmarshal(append(append([]byte{'"'}, s.kind...), '"'), &k); err != nil {
		return ""
	}
	return k
}

// slowKind is the top-level kind as encoding/json finds it: keys match
// case-insensitively, the last match wins, and a kind that is not a
// string is none.
func slowKind(body []byte) string {
	var h struct {
		Kind json.RawMessage `json:"kind"`
	}
	var k string
	if json.Unmarshal(body, &h) == nil && len(h.Kind) > 0 && h.Kind[0] == '"' {
		json.Unmarshal(h.Kind, &k)
	}
	return k
}

// mayFold reports whether a raw key could match name, a lower-case ASCII
// key, in encoding/json, which unescapes keys and compares them under
// Unicode case folding (so "\u212a", the Kelvin sign, matches "k"). It is
// asked of every top-level key, so the first byte decides most.
func mayFold(key []byte, esc bool, name string) bool {
	switch {
	case esc:
		return true
	case len(key) < len(name) || len(key) > 3*len(name):
		return false
	case key[0]|0x20 != name[0] && key[0] < 0x80:
		return false
	}
	return bytes.EqualFold(key, []byte(name))
}

func (s *scanner) errAt(what string) error {
	return fmt.Errorf("%w at byte %d (%s)", errSyntax, s.i+1, what)
}

func (s *scanner) space() { s.i = skipSpace(s.b, s.i) }

// skipSpace returns the index of the first byte from i on that is not
// JSON whitespace (len(b) if none).
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func (s *scanner) value() error {
	if s.i >= len(s.b) {
		return s.errAt("value expected")
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(false)
	case c == '[':
		return s.array()
	case c == '"':
		_, _, err := s.str()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.errAt("value expected")
}

func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.errAt("bad literal")
	}
	s.i += len(lit)
	return nil
}

func (s *scanner) enter() error {
	s.depth++
	if s.depth > maxDepth {
		return s.errAt("nested too deep")
	}
	return nil
}

func (s *scanner) object(top bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	s.i++ // '{'
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		s.depth--
		return nil
	}
	for {
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.errAt("object key expected")
		}
		key, keyEsc, err := s.str()
		if err != nil {
			return err
		}
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.errAt("':' expected")
		}
		s.i++
		s.space()
		// Only a top-level key starting with k, t or a byte beyond ASCII,
		// or with escapes, could be (or fold to) "kind" or "ts".
		if top && (keyEsc || len(key) > 1 && (key[0]|0x20 == 'k' || key[0]|0x20 == 't' || key[0] >= 0x80)) {
			err = s.topValue(key, keyEsc)
		} else {
			err = s.value()
		}
		if err != nil {
			return err
		}
		s.space()
		if s.i >= len(s.b) {
			return s.errAt("'}' expected")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			s.depth--
			return nil
		default:
			return s.errAt("',' or '}' expected")
		}
	}
}

// topValue scans the value of a top-level key that may be the kind or the
// ts, noting them.
func (s *scanner) topValue(key []byte, keyEsc bool) error {
	switch {
	case !keyEsc && string(key) == "ts":
		return s.tsValue()
	case !keyEsc && string(key) == "kind":
		if s.i < len(s.b) && s.b[s.i] == '"' {
			v, esc, err := s.str()
			s.kind, s.kindQ = v, esc
			return err
		}
		s.kind = nil
		return s.value()
	default:
		s.odd = s.odd || mayFold(key, keyEsc, "kind")
		s.tsOdd = s.tsOdd || mayFold(key, keyEsc, "ts")
	}
	return s.value()
}

// tsValue scans the value of a top-level "ts" and notes where it is; as
// in encoding/json, a later ts overrides an earlier one.
func (s *scanner) tsValue() error {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		s.tsOdd = true
		return s.value()
	}
	start := s.i + 1
	_, esc, err := s.str()
	if err != nil {
		return err
	}
	s.tsOdd = s.tsOdd || esc
	s.ts = tsSpan{off: int32(start), end: int32(s.i - 1), state: tsPlain}
	return nil
}

func (s *scanner) array() error {
	if err := s.enter(); err != nil {
		return err
	}
	s.i++ // '['
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		s.depth--
		return nil
	}
	for {
		s.space()
		if err := s.value(); err != nil {
			return err
		}
		s.space()
		if s.i >= len(s.b) {
			return s.errAt("']' expected")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			s.depth--
			return nil
		default:
			return s.errAt("',' or ']' expected")
		}
	}
}

// str scans a string at s.i and returns its raw contents and whether it
// has escapes.
func (s *scanner) str() ([]byte, bool, error) {
	s.i++ // '"'
	start, esc := s.i, false
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], esc, nil
		case c == '\\':
			esc = true
			if s.i+1 >= len(s.b) {
				return nil, false, s.errAt("unterminated string")
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if len(s.b)-s.i < 6 || !hex4(s.b[s.i+2:s.i+6]) {
					return nil, false, s.errAt("bad \\u escape")
				}
				s.i += 6
			default:
				return nil, false, s.errAt("bad escape")
			}
		case c < 0x20:
			return nil, false, s.errAt("control character in string")
		default:
			s.i++
		}
	}
	return nil, false, s.errAt("unterminated string")
}

func hex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (s *scanner) number() error {
	if s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		s.digits()
	default:
		return s.errAt("bad number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return s.errAt("bad number")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return s.errAt("bad number")
		}
	}
	return nil
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}
