package proc

import "fmt"

// DiskStat is one line of /proc/diskstats. Sectors are always 512 bytes.
type DiskStat struct {
	Name                   string
	Major, Minor           uint32
	Reads, SectorsRead     uint64
	Writes, SectorsWritten uint64
	IOTicksMs              uint64 // milliseconds spent doing I/O
}

// parseDiskstats appends the devices of b to dst.
func parseDiskstats(b []byte, dst []DiskStat, in *interner) ([]DiskStat, error) {
	var f [14][]byte
	var bad error
lines:
	for i, n := 0, 1; i < len(b); n++ {
		var line []byte
		line, i = nextLine(b, i)
		k := fields(line, f[:])
		if k == 0 {
			continue
		}
		if k < 14 {
			bad = first(bad, fmt.Errorf("line %d: want at least 14 fields, got %d", n, k))
			continue lines
		}
		var v [14]uint64
		for j := 0; j < 14; j++ {
			if j == 2 {
				continue
			}
			x, ok := parseUint(f[j])
			if !ok {
				bad = first(bad, fmt.Errorf("line %d field %d: bad number %q", n, j+1, clip(f[j])))
				continue lines
			}
			v[j] = x
		}
		if v[0] > 1<<32-1 || v[1] > 1<<32-1 {
			bad = first(bad, fmt.Errorf("line %d: device number %d:%d out of range", n, v[0], v[1]))
			continue lines
		}
		dst = append(dst, DiskStat{
			Name:  in.get(f[2]),
			Major: uint32(v[0]), Minor: uint32(v[1]),
			Reads: v[3], SectorsRead: v[5],
			Writes: v[7], SectorsWritten: v[9],
			IOTicksMs: v[12],
		})
	}
	return dst, bad
}
