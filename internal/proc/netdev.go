package proc

import (
	"bytes"
	"errors"
	"fmt"
)

// NetDev is one interface's counters from /proc/net/dev.
type NetDev struct {
	Name                                  string
	RxBytes, RxPackets, RxErrors, RxDrops uint64
	TxBytes, TxPackets, TxErrors, TxDrops uint64
}

// parseNetDev appends the interfaces of b to dst. The two header lines
// (they contain '|') are skipped.
func parseNetDev(b []byte, dst []NetDev, in *interner) ([]NetDev, error) {
	var f [16][]byte
	var bad error
lines:
	for i, n := 0, 1; i < len(b); n++ {
		var line []byte
		line, i = nextLine(b, i)
		if bytes.IndexByte(line, '|') >= 0 {
			continue
		}
		name, rest, ok := cutColon(line)
		if !ok {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			bad = first(bad, fmt.Errorf("line %d: no \"name:\" in %q", n, clip(line)))
			continue lines
		}
		name = bytes.TrimSpace(name)
		if err := checkIfName(name); err != nil {
			bad = first(bad, fmt.Errorf("line %d: %w", n, err))
			continue lines
		}
		if k := fields(rest, f[:]); k < 16 {
			bad = first(bad, fmt.Errorf("line %d (%s): want 16 counters, got %d", n, name, k))
			continue lines
		}
		var v [16]uint64
		for j := range v {
			x, ok := parseUint(f[j])
			if !ok {
				bad = first(bad, fmt.Errorf("line %d (%s) field %d: bad number %q", n, name, j+1, clip(f[j])))
				continue lines
			}
			v[j] = x
		}
		dst = append(dst, NetDev{
			Name:    in.get(name),
			RxBytes: v[0], RxPackets: v[1], RxErrors: v[2], RxDrops: v[3],
			TxBytes: v[8], TxPackets: v[9], TxErrors: v[10], TxDrops: v[11],
		})
	}
	return dst, bad
}

// checkIfName applies the kernel's rule for interface names
// (dev_valid_name: 1 to 15 bytes, no '/', ':' or white space), so a line
// that is not one interface's counters is reported, not read as a name.
func checkIfName(name []byte) error {
	switch {
	case len(name) == 0:
		return errors.New("empty interface name")
	case len(name) > 15:
		return fmt.Errorf("interface name %q longer than 15 bytes", clip(name))
	case bytes.ContainsAny(name, "/: \t\n\v\f\r"):
		return fmt.Errorf("interface name %q holds '/', ':' or white space", clip(name))
	}
	return nil
}
