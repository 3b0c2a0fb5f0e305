package detect

import "strconv"

// Field decoding under the decoder's want set: a wanted field is parsed
// into the sample, any other is only checked against what json.Unmarshal
// would accept for its Go type (so the line errs or not just the same) and
// left zero. Checking skips the costly part, strconv's parse, for numbers
// that cannot be out of range.

func (d *sampleDecoder) floatF(f field, v *float64) error {
	if d.want.has(f) {
		return d.float(v)
	}
	if d.null() {
		return nil
	}
	n, err := d.number()
	if err != nil {
		return err
	}
	// Without an exponent, fewer than 309 digits cannot overflow float64.
	if len(n) > 300 {
		return d.checkFloat(n)
	}
	for _, c := range n {
		if c == 'e' || c == 'E' {
			return d.checkFloat(n)
		}
	}
	return nil
}

func (d *sampleDecoder) checkFloat(n []byte) error {
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

func (d *sampleDecoder) uintF(f field, v *uint64) error {
	if d.want.has(f) {
		return d.uint(v)
	}
	if d.null() {
		return nil
	}
	n, err := d.number()
	if err != nil {
		return err
	}
	if plainDigits(n, 19) {
		return nil
	}
	if _, err := strconv.ParseUint(string(n), 10, 64); err != nil {
		return errSlow
	}
	return nil
}

// intDigits is how many decimal digits always fit an int.
const intDigits = strconv.IntSize*3/10 - 1

func (d *sampleDecoder) intF(f field, v *int) error {
	if d.want.has(f) {
		return d.int(v)
	}
	if d.null() {
		return nil
	}
	n, err := d.number()
	if err != nil {
		return err
	}
	if len(n) > 0 && n[0] == '-' && plainDigits(n[1:], intDigits) || plainDigits(n, intDigits) {
		return nil
	}
	if _, err := strconv.ParseInt(string(n), 10, strconv.IntSize); err != nil {
		return errSlow
	}
	return nil
}

func (d *sampleDecoder) boolF(f field, v *bool) error {
	if d.want.has(f) {
		return d.bool(v)
	}
	var b bool
	return d.bool(&b)
}

func (d *sampleDecoder) stringF(f field, v *string) error {
	if d.want.has(f) {
		return d.string(v)
	}
	if d.null() {
		return nil
	}
	_, err := d.str()
	return err
}

func (d *sampleDecoder) optFloatF(f field, p **float64) error {
	if d.want.has(f) {
		return d.optFloat(p)
	}
	return d.floatF(f, nil)
}
