package proc

import "fmt"

// Loadavg is /proc/loadavg.
type Loadavg struct {
	Load1, Load5, Load15 float64
	Runnable, Processes  int
}

func parseLoadavg(b []byte) (Loadavg, error) {
	line, _ := nextLine(b, 0)
	var f [4][]byte
	if n := fields(line, f[:]); n < 4 {
		return Loadavg{}, fmt.Errorf("want at least 4 fields, got %d in %q", n, clip(line))
	}
	var l Loadavg
	for k, dst := range []*float64{&l.Load1, &l.Load5, &l.Load15} {
		v, ok := parseDecimal(f[k], 0)
		if !ok {
			return Loadavg{}, fmt.Errorf("field %d: bad load %q", k+1, f[k])
		}
		*dst = v
	}
	r, p, ok := cutByte(f[3], '/')
	if !ok {
		return Loadavg{}, fmt.Errorf("field 4: want runnable/total, got %q", f[3])
	}
	rn, ok1 := parseUint(r)
	pn, ok2 := parseUint(p)
	if !ok1 || !ok2 || rn > 1<<31 || pn > 1<<31 {
		return Loadavg{}, fmt.Errorf("field 4: bad runnable/total %q", f[3])
	}
	l.Runnable, l.Processes = int(rn), int(pn)
	return l, nil
}

func cutByte(b []byte, sep byte) (before, after []byte, ok bool) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

// clip shortens b for an error message.
func clip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
