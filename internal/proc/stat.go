package proc

import (
	"bytes"
	"errors"
	"fmt"
)

// CPUTimes are the cumulative times from a "cpu" line of /proc/stat, in
// clock ticks (USER_HZ). Guest time is already counted in User and Nice.
type CPUTimes struct {
	User, Nice, System, Idle, IOWait, IRQ, SoftIRQ, Steal uint64
}

// Total is the sum of all states.
func (t CPUTimes) Total() uint64 {
	return t.User + t.Nice + t.System + t.Idle + t.IOWait + t.IRQ + t.SoftIRQ + t.Steal
}

// Stat is the part of /proc/stat lmn uses: the times summed over all CPUs
// and the number of CPUs listed (the online ones).
type Stat struct {
	CPU  CPUTimes
	CPUs int
}

// ErrNoCPULine means /proc/stat had no aggregate "cpu " line.
var ErrNoCPULine = errors.New(`no "cpu" line`)

func parseStat(b []byte) (Stat, error) {
	var s Stat
	found := false
	var f [11][]byte
	for i := 0; i < len(b); {
		var line []byte
		line, i = nextLine(b, i)
		if !bytes.HasPrefix(line, []byte("cpu")) {
			continue
		}
		if len(line) > 3 && line[3] >= '0' && line[3] <= '9' {
			s.CPUs++
			continue
		}
		n := fields(line, f[:])
		if n < 5 || string(f[0]) != "cpu" {
			continue
		}
		var v [8]uint64
		for k := 1; k < n && k <= 8; k++ {
			x, ok := parseUint(f[k])
			if !ok {
				return Stat{}, fmt.Errorf("cpu line field %d: bad number %q", k, f[k])
			}
			v[k-1] = x
		}
		s.CPU = CPUTimes{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]}
		found = true
	}
	if !found {
		return Stat{}, ErrNoCPULine
	}
	return s, nil
}
