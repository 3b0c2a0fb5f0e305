// Package config reads lmn's JSON configuration files (rules, policy,
// probes, notification channels, privd's configuration) one way: strictly,
// with every mistake reported as
//
//	file: field.path: what is wrong
//
// where field.path names the value as a person would find it in the file
// (`rules[2].hold`, `probes[0].tcp.address`). Unknown fields are errors, with
// the closest known name suggested. Durations are written one way, as
// Duration.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Error is a configuration mistake: where it is and what is wrong.
type Error struct {
	File  string // the file's name as given; empty when not known yet
	Field string // the field path; empty for the file as a whole
	Err   error
}

func (e *Error) Error() string {
	switch {
	case e.File != "" && e.Field != "":
		return e.File + ": " + e.Field + ": " + e.Err.Error()
	case e.File != "":
		return e.File + ": " + e.Err.Error()
	case e.Field != "":
		return e.Field + ": " + e.Err.Error()
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error for field, for validation after decoding. The
// file is added by Load or In.
func Errorf(field, format string, args ...any) error {
	return &Error{Field: field, Err: fmt.Errorf(format, args...)}
}

// Field returns err as an *Error at field. An *Error already carrying a
// field gets field as its prefix (Field("probes[2]", err at "tcp.address")
// is at "probes[2].tcp.address"), so nested validators can report their
// own paths.
func Field(field string, err error) error {
	if err == nil {
		return nil
	}
	var ce *Error
	if errors.As(err, &ce) && ce.File == "" {
		return &Error{Field: Join(field, ce.Field), Err: ce.Err}
	}
	return &Error{Field: field, Err: err}
}

// Join joins two field paths: Join("a", "b") is "a.b", Join("a", "[1].b")
// is "a[1].b".
func Join(parent, child string) string {
	switch {
	case parent == "":
		return child
	case child == "":
		return parent
	case child[0] == '[':
		return parent + child
	}
	return parent + "." + child
}

// In names file as the place of err: an *Error gets its File set, any
// other error becomes an *Error for the file as a whole.
func In(file string, err error) error {
	if err == nil {
		return nil
	}
	var ce *Error
	if errors.As(err, &ce) {
		c := *ce
		c.File = file
		return &c
	}
	return &Error{File: file, Err: err}
}

// Load reads path and decodes it into v as Decode does, naming path in
// every error.
func Load(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return &Error{File: path, Err: err}
	}
	return In(path, Decode(data, v))
}

// Decode decodes one JSON value from data into v, strictly: unknown fields,
// values of the wrong type, trailing data and syntax errors are *Error
// values naming the field path (or the line and column of a syntax error).
// v is changed only where data sets it, so defaults set before the call
// stay where data says nothing.
func Decode(data []byte, v any) error {
	if err := syntax(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	if located := locate(data, v); located != nil {
		return located
	}
	return &Error{Err: clean(err)}
}

// syntax reports the first syntax error of data, or data holding other
// than exactly one JSON value, by line and column.
func syntax(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		if err == io.EOF {
			return &Error{Err: errors.New("empty: want a JSON object")}
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return &Error{Err: fmt.Errorf("%s: %s", position(data, se.Offset-1), clean(err))}
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return &Error{Err: errors.New("unexpected end of the file: a bracket or quote is not closed")}
		}
		return &Error{Err: clean(err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		off := dec.InputOffset()
		return &Error{Err: fmt.Errorf("%s: data after the JSON value", position(data, off-1))}
	}
	return nil
}

// position names the line and column of byte offset off in data.
func position(data []byte, off int64) string {
	o := int(max(0, min(off, int64(len(data)))))
	line := 1 + bytes.Count(data[:o], []byte("\n"))
	col := o - bytes.LastIndexByte(data[:o], '\n')
	return fmt.Sprintf("line %d column %d", line, col)
}
