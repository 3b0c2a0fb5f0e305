package proc

import (
	"errors"
	"fmt"
)

// PressureLine is one line of a /proc/pressure file. Averages are shares of
// wall time, 0 to 1 (the kernel prints percent); Total is in microseconds.
type PressureLine struct {
	Avg10, Avg60, Avg300 float64
	Total                uint64
}

// Pressure is one /proc/pressure file. HasFull is false where the kernel
// prints no "full" line (cpu before Linux 5.13).
type Pressure struct {
	Some, Full       PressureLine
	HasSome, HasFull bool
}

// ErrNoPressureLines means a pressure file had neither a some nor a full line.
var ErrNoPressureLines = errors.New("no some/full lines")

// ParsePressure parses a pressure file's content: /proc/pressure/* and a
// cgroup's memory.pressure, cpu.pressure and io.pressure alike.
func ParsePressure(b []byte) (Pressure, error) { return parsePressure(b) }

func parsePressure(b []byte) (Pressure, error) {
	var p Pressure
	for i := 0; i < len(b); {
		var line []byte
		line, i = nextLine(b, i)
		kind, j := nextField(line, 0)
		var dst *PressureLine
		switch string(kind) {
		case "some":
			dst, p.HasSome = &p.Some, true
		case "full":
			dst, p.HasFull = &p.Full, true
		default:
			continue
		}
		if err := parsePressureLine(line[j:], dst); err != nil {
			return Pressure{}, fmt.Errorf("%s: %w", kind, err)
		}
	}
	if !p.HasSome && !p.HasFull {
		return Pressure{}, ErrNoPressureLines
	}
	return p, nil
}

func parsePressureLine(b []byte, dst *PressureLine) error {
	seen := 0
	for i := 0; ; {
		var f []byte
		f, i = nextField(b, i)
		if len(f) == 0 {
			break
		}
		key, val, ok := cutByte(f, '=')
		if !ok {
			return fmt.Errorf("want key=value, got %q", clip(f))
		}
		var avg *float64
		switch string(key) {
		case "avg10":
			avg = &dst.Avg10
		case "avg60":
			avg = &dst.Avg60
		case "avg300":
			avg = &dst.Avg300
		case "total":
			t, ok := parseUint(val)
			if !ok {
				return fmt.Errorf("total: bad number %q", clip(val))
			}
			dst.Total = t
			seen++
			continue
		default:
			continue
		}
		v, ok := parseDecimal(val, 2)
		if !ok || v > 1 {
			return fmt.Errorf("%s: bad percentage %q", key, clip(val))
		}
		*avg = v
		seen++
	}
	if seen < 4 {
		return fmt.Errorf("want avg10, avg60, avg300 and total, got %d of them", seen)
	}
	return nil
}
