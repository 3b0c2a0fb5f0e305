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
// allocation, and finds its top-level "kind". It accepts exactly what
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
}

var errSyntax = errors.New("invalid JSON")

// scanObject validates body and returns its kind ("" when absent or not a string).
func scanObject(body []byte) (string, error) {
	s := scanner{b: body}
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return "", ErrNotObject
	}
	if err := s.object(true); err != nil {
		return "", err
	}
	s.space()
	if s.i != len(s.b) {
		return "", s.errAt("after the object")
	}
	switch {
	case s.odd:
		return slowKind(body), nil
	case s.kind == nil:
		return "", nil
	case !s.kindQ && utf8.Valid(s.kind):
		return string(s.kind), nil
	}
	// Escapes or bytes that are not UTF-8, which encoding/json replaces.
	var k string
	if err := json.Unmarshal(append(append([]byte{'"'}, s.kind...), '"'), &k); err != nil {
		return "", nil
	}
	return k, nil
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

// mayFold reports whether a raw key that is not exactly name could still
// match it in encoding/json, which unescapes keys and compares them under
// Unicode case folding (so "\u212a", the Kelvin sign, matches "k").
func mayFold(key []byte, esc bool, name string) bool {
	if esc {
		return true
	}
	return len(key) >= len(name) && len(key) <= 3*len(name) && bytes.EqualFold(key, []byte(name))
}

func (s *scanner) errAt(what string) error {
	return fmt.Errorf("%w at byte %d (%s)", errSyntax, s.i+1, what)
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
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
		isKind := top && !keyEsc && string(key) == "kind"
		if top && !isKind && mayFold(key, keyEsc, "kind") {
			s.odd = true
		}
		if isKind && s.i < len(s.b) && s.b[s.i] == '"' {
			v, esc, err := s.str()
			if err != nil {
				return err
			}
			s.kind, s.kindQ = v, esc
		} else {
			if isKind {
				s.kind = nil
			}
			if err := s.value(); err != nil {
				return err
			}
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
