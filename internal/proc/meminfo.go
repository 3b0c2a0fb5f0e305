package proc

import (
	"errors"
	"fmt"
)

// Meminfo is the part of /proc/meminfo lmn uses, in bytes.
type Meminfo struct {
	MemTotal, MemFree, MemAvailable, Buffers, Cached uint64
	SwapTotal, SwapFree                              uint64
	// HasAvailable is false on kernels before 3.14, which lack MemAvailable.
	HasAvailable bool
}

// ErrNoMemTotal means /proc/meminfo had no MemTotal line.
var ErrNoMemTotal = errors.New("no MemTotal line")

func parseMeminfo(b []byte) (Meminfo, error) {
	var m Meminfo
	hasTotal := false
	for i := 0; i < len(b); {
		var line []byte
		line, i = nextLine(b, i)
		key, rest, ok := cutColon(line)
		if !ok {
			continue
		}
		var dst *uint64
		switch string(key) {
		case "MemTotal":
			dst, hasTotal = &m.MemTotal, true
		case "MemFree":
			dst = &m.MemFree
		case "MemAvailable":
			dst, m.HasAvailable = &m.MemAvailable, true
		case "Buffers":
			dst = &m.Buffers
		case "Cached":
			dst = &m.Cached
		case "SwapTotal":
			dst = &m.SwapTotal
		case "SwapFree":
			dst = &m.SwapFree
		default:
			continue
		}
		v, unit, _ := nextFieldPair(rest)
		n, ok := parseUint(v)
		if !ok {
			return Meminfo{}, fmt.Errorf("%s: bad number %q", key, v)
		}
		switch string(unit) {
		case "kB":
			if n > 1<<54 {
				return Meminfo{}, fmt.Errorf("%s: %d kB is out of range", key, n)
			}
			n *= 1024
		case "":
		default:
			return Meminfo{}, fmt.Errorf("%s: unknown unit %q", key, unit)
		}
		*dst = n
	}
	if !hasTotal {
		return Meminfo{}, ErrNoMemTotal
	}
	return m, nil
}

// cutColon splits "Key:  value" at the first colon.
func cutColon(line []byte) (key, rest []byte, ok bool) {
	for i, c := range line {
		if c == ':' {
			return line[:i], line[i+1:], true
		}
	}
	return nil, nil, false
}

func nextFieldPair(b []byte) (a, c []byte, next int) {
	a, next = nextField(b, 0)
	c, next = nextField(b, next)
	return a, c, next
}

// VMStat is the part of /proc/vmstat lmn uses: pages swapped in and out
// since boot.
type VMStat struct {
	PswpIn, PswpOut uint64
}

// ErrNoSwapCounters means /proc/vmstat had no pswpin or pswpout line.
var ErrNoSwapCounters = errors.New("no pswpin/pswpout lines")

func parseVMStat(b []byte) (VMStat, error) {
	var s VMStat
	found := 0
	for i := 0; i < len(b) && found < 2; {
		var line []byte
		line, i = nextLine(b, i)
		key, val, _ := nextFieldPair(line)
		var dst *uint64
		switch string(key) {
		case "pswpin":
			dst = &s.PswpIn
		case "pswpout":
			dst = &s.PswpOut
		default:
			continue
		}
		n, ok := parseUint(val)
		if !ok {
			return VMStat{}, fmt.Errorf("%s: bad number %q", key, val)
		}
		*dst = n
		found++
	}
	if found < 2 {
		return VMStat{}, ErrNoSwapCounters
	}
	return s, nil
}
