package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// locate finds the first mistake encoding/json stopped at, by walking data
// beside the type of v (a pointer), and names it by its field path. It
// returns nil when it finds none (the caller then reports json's error).
func locate(data []byte, v any) error {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return nil
	}
	return walk(t.Elem(), data, "")
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func walk(t reflect.Type, raw []byte, path string) error {
	raw = bytes.TrimSpace(raw)
	if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		if err := json.Unmarshal(raw, reflect.New(t).Interface()); err != nil {
			return Field(path, clean(err))
		}
		return nil
	}
	if string(raw) == "null" {
		return nil // json leaves the value as it was
	}
	switch t.Kind() {
	case reflect.Pointer:
		return walk(t.Elem(), raw, path)
	case reflect.Interface:
		return nil
	case reflect.Struct:
		return walkStruct(t, raw, path)
	case reflect.Map:
		if raw[0] != '{' {
			return want(path, "an object", raw)
		}
		members, err := objectMembers(raw)
		if err != nil {
			return &Error{Field: path, Err: err}
		}
		for _, m := range members {
			if err := walk(t.Elem(), m.value, Join(path, memberPath(m.key))); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			break // base64 text
		}
		if raw[0] != '[' {
			return want(path, "a list", raw)
		}
		elems, err := arrayElems(raw)
		if err != nil {
			return &Error{Field: path, Err: err}
		}
		if t.Kind() == reflect.Array && len(elems) > t.Len() {
			return &Error{Field: path, Err: fmt.Errorf("want at most %d values, got %d", t.Len(), len(elems))}
		}
		for i, e := range elems {
			if err := walk(t.Elem(), e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := json.Unmarshal(raw, reflect.New(t).Interface()); err != nil {
		return wantKind(t, raw, path)
	}
	return nil
}

func walkStruct(t reflect.Type, raw []byte, path string) error {
	if raw[0] != '{' {
		return want(path, "an object", raw)
	}
	fields := jsonFields(t)
	members, err := objectMembers(raw)
	if err != nil {
		return &Error{Field: path, Err: err}
	}
	for _, m := range members {
		ft, ok := fields.lookup(m.key)
		at := Join(path, memberPath(m.key))
		if !ok {
			return &Error{Field: at, Err: errors.New("unknown field" + fields.hint(m.key))}
		}
		if err := walk(ft, m.value, at); err != nil {
			return err
		}
	}
	return nil
}

// fieldTable is a struct's JSON fields as encoding/json sees them.
type fieldTable struct {
	names []string
	types map[string]reflect.Type
}

// lookup finds key as encoding/json does: exactly, else ignoring case.
func (f fieldTable) lookup(key string) (reflect.Type, bool) {
	if t, ok := f.types[key]; ok {
		return t, true
	}
	for _, n := range f.names {
		if strings.EqualFold(n, key) {
			return f.types[n], true
		}
	}
	return nil, false
}

func (f fieldTable) hint(key string) string {
	if s := Suggest(key, f.names); s != "" {
		return " (" + s + ")"
	}
	if len(f.names) <= 12 {
		return " (known: " + strings.Join(f.names, ", ") + ")"
	}
	return ""
}

// jsonFields lists t's JSON fields, embedded structs' fields promoted.
func jsonFields(t reflect.Type) fieldTable {
	ft := fieldTable{types: map[string]reflect.Type{}}
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if sf.Anonymous && name == "" {
				et := sf.Type
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					add(et)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			if _, dup := ft.types[name]; !dup {
				ft.names = append(ft.names, name)
			}
			ft.types[name] = sf.Type
		}
	}
	add(t)
	return ft
}

type member struct {
	key   string
	value json.RawMessage
}

// objectMembers splits a JSON object into its members, in order.
func objectMembers(raw []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, clean(err)
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, clean(err)
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, clean(err)
		}
		out = append(out, member{key, v})
	}
	return out, nil
}

// arrayElems splits a JSON array into its elements.
func arrayElems(raw []byte) ([]json.RawMessage, error) {
	var out []json.RawMessage
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, clean(err)
	}
	return out, nil
}

// memberPath writes an object key as a path segment, quoted when it would
// not read as one.
func memberPath(key string) string {
	if key == "" || strings.ContainsAny(key, ".[]\" ") {
		return "[" + strconv.Quote(key) + "]"
	}
	return key
}

func want(path, what string, raw []byte) error {
	return &Error{Field: path, Err: fmt.Errorf("want %s, got %s", what, preview(raw))}
}

func wantKind(t reflect.Type, raw []byte, path string) error {
	switch t.Kind() {
	case reflect.String:
		return want(path, "a string", raw)
	case reflect.Bool:
		return want(path, "true or false", raw)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return want(path, "a whole number", raw)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return want(path, "a whole number, 0 or more", raw)
	case reflect.Float32, reflect.Float64:
		return want(path, "a number", raw)
	}
	return want(path, "a "+t.String(), raw)
}

// preview shows a JSON value briefly.
func preview(raw []byte) string {
	const limit = 40
	s := string(bytes.TrimSpace(raw))
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}

// clean drops encoding/json's "json: " prefix.
func clean(err error) error {
	var ce *Error
	if errors.As(err, &ce) {
		return err
	}
	msg, ok := strings.CutPrefix(err.Error(), "json: ")
	if !ok {
		return err
	}
	return errors.New(msg)
}
