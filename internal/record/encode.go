package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// AppendSample appends s as one JSON line, byte for byte what encoding/json
// (with HTML escaping off, as Writer encodes) writes for it, without
// reflection: encoding was a fifth of a sample's CPU. The per-field code is
// generated from the struct (sample_encode.go); TestAppendSampleMatchesJSON
// holds it to encoding/json with every field set.
func AppendSample(b []byte, s *Sample) ([]byte, error) {
	e := encoder{b: b}
	e.encSample(s)
	e.b = append(e.b, '\n')
	return e.b, e.err
}

type encoder struct {
	b   []byte
	err error
}

// The leaf writers take the text before the value (its key, and what
// ends the field before it) and write both.

func (e *encoder) uint(key string, v uint64) {
	e.b = append(e.b, key...)
	e.b = strconv.AppendUint(e.b, v, 10)
}

func (e *encoder) int(key string, v int64) {
	e.b = append(e.b, key...)
	e.b = strconv.AppendInt(e.b, v, 10)
}

// float writes f as encoding/json does: shortest 'f' form, or 'e' form
// below 1e-6 and from 1e21 on, with "e-07" shortened to "e-7". A NaN or an
// infinity, which JSON cannot hold, is written 0 and makes the encoding fail
// naming path.
func (e *encoder) float(key string, f float64, path string) {
	e.b = append(e.b, key...)
	if f == 0 && !math.Signbit(f) { // most of a quiet machine's sample
		e.b = append(e.b, '0')
		return
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		if e.err == nil {
			e.err = fmt.Errorf("encode sample: %s is %v, which JSON cannot hold", path, f)
		}
		e.b = append(e.b, '0')
		return
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	e.b = strconv.AppendFloat(e.b, f, format, -1, 64)
	if format == 'e' {
		n := len(e.b)
		if n >= 4 && e.b[n-4] == 'e' && e.b[n-3] == '-' && e.b[n-2] == '0' {
			e.b[n-2] = e.b[n-1]
			e.b = e.b[:n-1]
		}
	}
}

// str writes s as a JSON string. Plain printable ASCII, which is nearly
// everything a sample holds, is copied; anything else goes through
// encoding/json so the escaping stays identical.
func (e *encoder) str(key, s string) {
	e.b = append(e.b, key...)
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		e.b = append(e.b, '"')
		e.b = append(e.b, s...)
		e.b = append(e.b, '"')
		return
	}
	e.json(s, "")
}

func (e *encoder) bool(key string, v bool) {
	e.b = append(e.b, key...)
	if v {
		e.b = append(e.b, "true"...)
	} else {
		e.b = append(e.b, "false"...)
	}
}

// time writes t as Time.MarshalJSON does.
func (e *encoder) time(key string, t Time) {
	e.b = append(e.b, key...)
	e.b = append(e.b, '"')
	e.b = t.UTC().AppendFormat(e.b, TimeLayout)
	e.b = append(e.b, '"')
}

// json writes v through encoding/json, for the field at path of a type the
// generated code does not write by hand.
func (e *encoder) json(v any, path string) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		if e.err == nil {
			e.err = fmt.Errorf("encode sample: %s: %w", path, err)
		}
		e.b = append(e.b, "null"...)
		return
	}
	e.b = append(e.b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}
