package proc

import "fmt"

// Route flags from linux/route.h and linux/ipv6_route.h.
const (
	rtfUp     = 0x0001
	rtfReject = 0x0200
)

// parseRoute reports whether /proc/net/route has a usable IPv4 default
// route: destination and mask 0.0.0.0, flag RTF_UP, not a reject route.
func parseRoute(b []byte) (bool, error) {
	var f [8][]byte
	for i, n := 0, 1; i < len(b); n++ {
		var line []byte
		line, i = nextLine(b, i)
		k := fields(line, f[:])
		if k == 0 || (n == 1 && string(f[0]) == "Iface") {
			continue
		}
		if k < 8 {
			return false, fmt.Errorf("line %d: want at least 8 fields, got %d", n, k)
		}
		dest, ok1 := parseHex(f[1])
		flags, ok2 := parseHex(f[3])
		mask, ok3 := parseHex(f[7])
		if !ok1 || !ok2 || !ok3 {
			return false, fmt.Errorf("line %d: bad hex destination, flags or mask in %q", n, clip(line))
		}
		if dest == 0 && mask == 0 && flags&rtfUp != 0 && flags&rtfReject == 0 {
			return true, nil
		}
	}
	return false, nil
}

// parseIPv6Route reports whether /proc/net/ipv6_route has a usable default
// route: ::/0, RTF_UP, not a reject route and not via "lo" (the kernel keeps
// an unreachable ::/0 on lo).
func parseIPv6Route(b []byte) (bool, error) {
	var f [10][]byte
	for i, n := 0, 1; i < len(b); n++ {
		var line []byte
		line, i = nextLine(b, i)
		k := fields(line, f[:])
		if k == 0 {
			continue
		}
		if k < 10 || len(f[0]) != 32 {
			return false, fmt.Errorf("line %d: want 10 fields starting with a 32-digit address: %q", n, clip(line))
		}
		plen, ok1 := parseHex(f[1])
		flags, ok2 := parseHex(f[8])
		if !ok1 || !ok2 {
			return false, fmt.Errorf("line %d: bad hex prefix length or flags in %q", n, clip(line))
		}
		if plen == 0 && allZero(f[0]) && flags&rtfUp != 0 && flags&rtfReject == 0 && string(f[9]) != "lo" {
			return true, nil
		}
	}
	return false, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != '0' {
			return false
		}
	}
	return true
}
