package dbus

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"
)

// typeEnd returns the index just after the single complete type that starts
// at sig[i], or an error if there is none there.
func typeEnd(sig string, i, depth int) (int, error) {
	if depth > maxDepth {
		return 0, fmt.Errorf("signature %q nests deeper than %d", sig, maxDepth)
	}
	if i >= len(sig) {
		return 0, fmt.Errorf("signature %q ends inside a type", sig)
	}
	switch c := sig[i]; {
	case isBasic(c) || c == 'v':
		return i + 1, nil
	case c == 'a' && i+1 < len(sig) && sig[i+1] == '{':
		if i+2 >= len(sig) || !isBasic(sig[i+2]) {
			return 0, fmt.Errorf("signature %q: a dict entry's key must be a basic type", sig)
		}
		j, err := typeEnd(sig, i+3, depth+1)
		if err != nil {
			return 0, err
		}
		if j >= len(sig) || sig[j] != '}' {
			return 0, fmt.Errorf("signature %q: a dict entry holds exactly one key and one value", sig)
		}
		return j + 1, nil
	case c == 'a':
		return typeEnd(sig, i+1, depth+1)
	case c == '(':
		j := i + 1
		if j < len(sig) && sig[j] == ')' {
			return 0, fmt.Errorf("signature %q has an empty struct", sig)
		}
		for j < len(sig) && sig[j] != ')' {
			var err error
			if j, err = typeEnd(sig, j, depth+1); err != nil {
				return 0, err
			}
		}
		if j >= len(sig) {
			return 0, fmt.Errorf("signature %q: struct not closed", sig)
		}
		return j + 1, nil
	default:
		return 0, fmt.Errorf("signature %q: unexpected %q", sig, c)
	}
}

func isBasic(c byte) bool { return strings.IndexByte("ybnqiuxtdsogh", c) >= 0 }

// alignOf is the alignment of values of the type starting with c.
func alignOf(c byte) int {
	switch c {
	case 'n', 'q':
		return 2
	case 'b', 'i', 'u', 'h', 's', 'o', 'a':
		return 4
	case 'x', 't', 'd', '(', '{':
		return 8
	}
	return 1 // y, g, v
}

// skipOne skips a value of type sig, which must be one complete type.
func (d *decoder) skipOne(sig string, depth int) {
	if d.err != nil {
		return
	}
	end, err := typeEnd(sig, 0, depth)
	if err != nil {
		d.fail("%v", err)
		return
	}
	if end != len(sig) {
		d.fail("variant signature %q is not one complete type", sig)
		return
	}
	d.skip(sig, 0, depth)
}

// skip skips the value of the (valid) type starting at sig[i] and returns
// the index after that type. depth counts containers, variants included, so
// a message of nested variants cannot recurse without bound.
func (d *decoder) skip(sig string, i, depth int) int {
	if depth > maxDepth {
		d.fail("values nest deeper than %d", maxDepth)
	}
	if d.err != nil {
		return len(sig)
	}
	switch sig[i] {
	case 'y':
		d.take(1)
	case 'n', 'q':
		d.align(2)
		d.take(2)
	case 'b', 'i', 'u', 'h':
		d.uint32()
	case 'x', 't', 'd':
		d.align(8)
		d.take(8)
	case 's', 'o':
		d.string()
	case 'g':
		d.signature()
	case 'v':
		d.skipOne(d.signature(), depth+1)
	case 'a':
		elemEnd, _ := typeEnd(sig, i+1, 0) // sig was checked whole
		end := d.arrayStart(alignOf(sig[i+1]))
		for d.err == nil && d.off < end {
			d.skip(sig[i+1:elemEnd], 0, depth+1)
		}
		d.arrayEnd(end)
		return elemEnd
	case '(', '{':
		d.align(8)
		j := i + 1
		for d.err == nil && sig[j] != ')' && sig[j] != '}' {
			j = d.skip(sig, j, depth+1)
		}
		return j + 1
	}
	return i + 1
}

// encoder appends little-endian values to b. Offsets align as in the
// message, so b must start at a message's first byte.
type encoder struct {
	b   []byte
	err error
}

func (e *encoder) align(a int) {
	for len(e.b)%a != 0 {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) uint32(v uint32) {
	e.align(4)
	e.b = binary.LittleEndian.AppendUint32(e.b, v)
}

// string appends an s or o value.
func (e *encoder) string(s string) {
	if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
		e.err = fmt.Errorf("D-Bus string %q holds a nul byte or is not UTF-8", s)
	}
	e.uint32(uint32(len(s)))
	e.b = append(e.b, s...)
	e.b = append(e.b, 0)
}

// signature appends a g value.
func (e *encoder) signature(s string) {
	e.b = append(e.b, byte(len(s)))
	e.b = append(e.b, s...)
	e.b = append(e.b, 0)
}

// arrayStart appends an array's length, to be filled in by arrayEnd, and
// the padding to its elements' alignment.
func (e *encoder) arrayStart(elemAlign int) (lenAt, start int) {
	e.uint32(0)
	lenAt = len(e.b) - 4
	e.align(elemAlign)
	return lenAt, len(e.b)
}

func (e *encoder) arrayEnd(lenAt, start int) {
	binary.LittleEndian.PutUint32(e.b[lenAt:], uint32(len(e.b)-start))
}
