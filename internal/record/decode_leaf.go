package record

import (
	"encoding/json"
	"strconv"
	"time"
)

// The leaves of a sample, decoded under the decoder's want set: a wanted
// field is parsed into the sample, any other is only checked against what
// json.Unmarshal would accept for its Go type (so the line errs or not
// just the same) and left zero. Checking skips the costly part, strconv's
// parse, for numbers that cannot be out of range. A nil v checks only.

func (d *sampleDecoder) floatF(f Field, v *float64) error {
	if d.null() {
		return nil
	}
	n, err := d.number()
	if err != nil {
		return err
	}
	if v != nil && d.want.Has(f) {
		x, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			return errSlow
		}
		*v = x
		return nil
	}
	// Without an exponent, fewer than 309 digits cannot overflow float64.
	if len(n) > 300 {
		return checkFloat(n)
	}
	for _, c := range n {
		if c == 'e' || c == 'E' {
			return checkFloat(n)
		}
	}
	return nil
}

func checkFloat(n []byte) error {
	if _, err := strconv.ParseFloat(string(n), 64); err != nil {
		return errSlow
	}
	return nil
}

// plainDigits reports whether n is a literal of at most max decimal digits
// with no sign, fraction or exponent.
func plainDigits(n []byte, max int) bool {
	if len(n) == 0 || len(n) > max {
		return false
	}
	for _, c := range n {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (d *sampleDecoder) uintF(f Field, v *uint64) error {
	if d.null() {
		return nil
	}
	n, err := d.number()
	if err != nil {
		return err
	}
	if v == nil || !d.want.Has(f) {
		if plainDigits(n, 19) {
			return nil
		}
		v = new(uint64)
	}
	u, err := strconv.ParseUint(string(n), 10, 64)
	if err != nil {
		return errSlow
	}
	*v = u
	return nil
}

// intDigits is how many decimal digits always fit an int.
const intDigits = strconv.IntSize*3/10 - 1

func (d *sampleDecoder) intF(f Field, v *int) error {
	var i int64
	err := d.signed(f, v != nil, &i, strconv.IntSize, intDigits)
	if err == nil && v != nil && d.want.Has(f) {
		*v = int(i)
	}
	return err
}

func (d *sampleDecoder) int64F(f Field, v *int64) error {
	return d.signed(f, v != nil, v, 64, 18)
}

// signed reads an integer of size bits into *v when f is wanted and set;
// a literal of at most short digits is only checked otherwise.
func (d *sampleDecoder) signed(f Field, set bool, v *int64, size, short int) error {
	if d.null() {
		return nil
	}
	n, err := d.number()
	if err != nil {
		return err
	}
	if !set || !d.want.Has(f) {
		if len(n) > 0 && n[0] == '-' && plainDigits(n[1:], short) || plainDigits(n, short) {
			return nil
		}
	}
	i, err := strconv.ParseInt(string(n), 10, size)
	if err != nil {
		return errSlow
	}
	if set && d.want.Has(f) {
		*v = i
	}
	return nil
}

func (d *sampleDecoder) boolF(f Field, v *bool) error {
	if v != nil && !d.want.Has(f) {
		v = nil
	}
	return d.boolean(v)
}

// boolean reads true, false or null, into *v unless v is nil.
func (d *sampleDecoder) boolean(v *bool) error {
	var b bool
	switch {
	case d.null():
		return nil
	case d.peek() == 't' && d.lit("true"):
		b = true
	case d.peek() == 'f' && d.lit("false"):
	default:
		return errSlow
	}
	if v != nil {
		*v = b
	}
	return nil
}

func (d *sampleDecoder) stringF(f Field, v *string) error {
	if d.null() {
		return nil
	}
	s, err := d.str()
	if err != nil {
		return err
	}
	if v != nil && d.want.Has(f) {
		*v = d.intern(s)
	}
	return nil
}

// timeF reads a Time as Time.UnmarshalJSON does; a time is always parsed,
// since a string that is not one fails the line.
func (d *sampleDecoder) timeF(f Field, v *Time) error {
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
	if v != nil && d.want.Has(f) {
		v.Time = t.UTC()
	}
	return nil
}

// decodeOpt decodes an optional leaf (a pointer) with leaf: null leaves it
// nil, a value is read into it, allocated when it is nil (as json.Unmarshal
// does, a second occurrence reuses it). Unwanted, it is only checked.
func decodeOpt[T any](d *sampleDecoder, f Field, p **T, leaf func(Field, *T) error) error {
	if !d.want.Has(f) {
		return leaf(f, nil)
	}
	if d.null() {
		*p = nil
		return nil
	}
	if *p == nil {
		*p = new(T)
	}
	return leaf(f, *p)
}

// decodeRaw decodes a field of a type the generated code does not read by
// hand through json.Unmarshal, wanted or not, so that it fails exactly
// when json.Unmarshal would.
func decodeRaw[T any](d *sampleDecoder, f Field, p *T) error {
	d.ws()
	start := d.i
	if err := d.value(0); err != nil {
		return err
	}
	if !d.want.Has(f) {
		p = new(T)
	}
	if json.Unmarshal(d.b[start:d.i], p) != nil {
		return errSlow
	}
	return nil
}
