package proc

import "bytes"

// nextLine returns the line of b starting at i (without its "\n") and the
// index of the line after it; next is len(b) at the end.
func nextLine(b []byte, i int) (line []byte, next int) {
	j := bytes.IndexByte(b[i:], '\n')
	if j < 0 {
		return b[i:], len(b)
	}
	return b[i : i+j], i + j + 1
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

// nextField returns the next field of line at or after i, separated by
// spaces or tabs, and the index after it. f is empty when there is none.
func nextField(line []byte, i int) (f []byte, next int) {
	for i < len(line) && isSpace(line[i]) {
		i++
	}
	j := i
	for j < len(line) && !isSpace(line[j]) {
		j++
	}
	return line[i:j], j
}

// fields splits line into at most len(dst) fields, returning how many it
// found. It does not allocate.
func fields(line []byte, dst [][]byte) int {
	n, i := 0, 0
	for n < len(dst) {
		var f []byte
		f, i = nextField(line, i)
		if len(f) == 0 {
			break
		}
		dst[n] = f
		n++
	}
	return n
}

// parseUint parses a decimal unsigned integer; ok is false on anything
// else, including overflow.
func parseUint(b []byte) (v uint64, ok bool) {
	if len(b) == 0 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// parseHex parses a hexadecimal unsigned integer of at most 16 digits.
func parseHex(b []byte) (v uint64, ok bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	for _, c := range b {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(d)
	}
	return v, true
}

// maxExactFloat is 2^53: every integer up to it is exactly a float64.
const maxExactFloat = 1 << 53

// parseDecimal parses a non-negative decimal such as "43.05" or "7" as the
// kernel prints load averages and pressure averages, divided by 10^shift.
// The result is one correctly rounded division, so "0.14" with shift 2 is
// exactly the float64 nearest 0.0014 and prints as such. That needs the
// digits as one integer a float64 holds exactly (at most 2^53): a longer
// number, such as "20000000000.000000000", is refused rather than wrapped.
func parseDecimal(b []byte, shift int) (float64, bool) {
	ip, frac, _ := cutByte(b, '.')
	if len(frac) > 9 || (len(frac) == 0 && len(ip) < len(b)) {
		return 0, false
	}
	m, ok := parseUint(ip)
	if !ok || m > maxExactFloat {
		return 0, false
	}
	scale := uint64(1)
	for range len(frac) + shift {
		scale *= 10
	}
	for _, c := range frac {
		if c < '0' || c > '9' {
			return 0, false
		}
		m = m*10 + uint64(c-'0') // m <= 2^53 before, so no wrap
		if m > maxExactFloat {
			return 0, false
		}
	}
	return float64(m) / float64(scale), true
}

// interner returns one string per distinct name, so names read every tick
// (devices, interfaces, mount points) are not allocated again each time.
type interner struct{ m map[string]string }

// maxInterned bounds the table; past it the table starts afresh, so a
// stream of short-lived names (containers' veth pairs) cannot grow it.
const maxInterned = 4096

func (in *interner) get(b []byte) string {
	if in == nil {
		return string(b)
	}
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	if in.m == nil || len(in.m) >= maxInterned {
		in.m = make(map[string]string)
	}
	s := string(b)
	in.m[s] = s
	return s
}

// first keeps the first of a parser's line errors: list parsers skip a bad
// line, go on with the rest, and report the first bad line.
func first(kept, err error) error {
	if kept != nil {
		return kept
	}
	return err
}
