package proc

import (
	"bytes"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// seedFile adds the real /proc file as a seed when the machine has it.
func seedFile(f *testing.F, path string) {
	if b, err := os.ReadFile(path); err == nil {
		f.Add(b)
	}
}

func FuzzParseUint(f *testing.F) {
	for _, s := range []string{"0", "18446744073709551615", "18446744073709551616", "", "12a", "+1", "007"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := parseUint(b)
		want, err := strconv.ParseUint(string(b), 10, 64)
		strict := err == nil && len(b) > 0 && b[0] != '+' && !bytes.Contains(b, []byte("_"))
		if ok != strict || (ok && got != want) {
			t.Errorf("parseUint(%q) = %d, %v; strconv says %d, %v", b, got, ok, want, err)
		}
	})
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"43.05", "0.00", "100.00", "7", ".5", "5.", "1.2.3", "1e5"} {
		f.Add([]byte(s), 2)
	}
	f.Fuzz(func(t *testing.T, b []byte, shift int) {
		if shift < 0 || shift > 3 {
			return
		}
		got, ok := parseDecimal(b, shift)
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			t.Fatalf("parseDecimal(%q) accepted what strconv rejects: %v", b, err)
		}
		want /= math.Pow10(shift)
		if math.Abs(got-want) > 1e-12*math.Max(1, want) {
			t.Errorf("parseDecimal(%q, %d) = %v, want %v", b, shift, got, want)
		}
	})
}

func FuzzParseStat(f *testing.F) {
	seedFile(f, "/proc/stat")
	f.Add([]byte("cpu 1 2 3 4 5 6 7 8 9 10\ncpu0 1 2 3 4\n"))
	f.Add([]byte("0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseStat(b)
		if err != nil {
			return
		}
		if !bytes.Contains(b, []byte("cpu")) || s.CPUs > bytes.Count(b, []byte("cpu")) {
			t.Errorf("parsed %+v from input without matching cpu lines", s)
		}
	})
}

func FuzzParseMeminfo(f *testing.F) {
	seedFile(f, "/proc/meminfo")
	f.Add([]byte("MemTotal: 10 kB\nMemAvailable: 5 kB\n"))
	f.Add([]byte("0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMeminfo(b)
		if err != nil {
			return
		}
		if !bytes.Contains(b, []byte("MemTotal")) {
			t.Errorf("parsed %+v without a MemTotal line", m)
		}
		if m.HasAvailable != (bytes.HasPrefix(b, []byte("MemAvailable:")) || bytes.Contains(b, []byte("\nMemAvailable:"))) {
			t.Errorf("HasAvailable = %v for %q", m.HasAvailable, b)
		}
	})
}

func FuzzParseVMStat(f *testing.F) {
	seedFile(f, "/proc/vmstat")
	f.Add([]byte("pswpin 1\npswpout 2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := parseVMStat(b); err == nil && !bytes.Contains(b, []byte("pswpout")) {
			t.Errorf("parsed %q without pswpout", b)
		}
	})
}

func FuzzParseLoadavg(f *testing.F) {
	seedFile(f, "/proc/loadavg")
	f.Add([]byte("0.00 0.01 0.05 1/123 4567\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := parseLoadavg(b)
		if err != nil {
			return
		}
		if l.Load1 < 0 || l.Runnable < 0 || l.Processes < 0 || math.IsNaN(l.Load5) {
			t.Errorf("parsed impossible %+v from %q", l, b)
		}
	})
}

func FuzzParsePressure(f *testing.F) {
	for _, r := range PressureResources {
		seedFile(f, "/proc/pressure/"+r)
	}
	f.Add([]byte("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=1.00 avg60=0.00 avg300=0.00 total=9\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePressure(b)
		if err != nil {
			return
		}
		for _, l := range []PressureLine{p.Some, p.Full} {
			for _, v := range []float64{l.Avg10, l.Avg60, l.Avg300} {
				if v < 0 || v > 1 {
					t.Errorf("average %v outside 0..1 from %q", v, b)
				}
			}
		}
	})
}

func FuzzParseMountinfo(f *testing.F) {
	seedFile(f, "/proc/self/mountinfo")
	f.Add([]byte("58 54 0:44 / /run/user/1000 rw,nosuid shared:5 - tmpfs tmpfs rw\n56 27 8:17 / /a\\040b rw - ext4 /dev/x ro\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, _ := parseMountinfo(b, nil, &interner{})
		if len(ms) > bytes.Count(b, []byte("\n"))+1 {
			t.Fatalf("%d mounts from %d lines", len(ms), bytes.Count(b, []byte("\n"))+1)
		}
		for _, m := range ms {
			if !strings.HasPrefix(m.MountPoint, "/") || m.FSType == "" {
				t.Errorf("bad mount %+v", m)
			}
		}
	})
}

func FuzzParseDiskstats(f *testing.F) {
	seedFile(f, "/proc/diskstats")
	f.Add([]byte("   8       1 sda1 10 0 20 0 30 0 40 0 0 50 60\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, _ := parseDiskstats(b, nil, &interner{})
		for _, d := range ds {
			if d.Name == "" || strings.ContainsAny(d.Name, " \t\n") {
				t.Errorf("bad device name %q", d.Name)
			}
		}
	})
}

func FuzzParseNetDev(f *testing.F) {
	seedFile(f, "/proc/net/dev")
	f.Add([]byte("  eth0:1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ns, _ := parseNetDev(b, nil, nil)
		for _, n := range ns {
			if n.Name == "" || len(n.Name) > 15 || strings.ContainsAny(n.Name, " \t\n\r\v\f:/") {
				t.Errorf("bad interface name %q", n.Name)
			}
		}
	})
}

func FuzzParseRoute(f *testing.F) {
	seedFile(f, "/proc/net/route")
	f.Add([]byte("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\neth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if ok, err := parseRoute(b); ok && err != nil {
			t.Errorf("both a route and an error: %v", err)
		}
	})
}

func FuzzParseIPv6Route(f *testing.F) {
	seedFile(f, "/proc/net/ipv6_route")
	zero := strings.Repeat("0", 32)
	f.Add([]byte(zero + " 00 " + zero + " 00 " + zero + " 00000400 00000002 00000000 00000003 eth0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ok, err := parseIPv6Route(b)
		if ok && (err != nil || !bytes.Contains(b, []byte(zero))) {
			t.Errorf("default route claimed from %q (err %v)", b, err)
		}
	})
}

// FuzzParseProcessCgroups: every line parsed has an ID and an absolute
// path, and CgroupOf finds only what the lines say.
func FuzzParseProcessCgroups(f *testing.F) {
	seedFile(f, "/proc/self/cgroup")
	f.Add([]byte("0::/system.slice/nginx.service\n"))
	f.Add([]byte("12:memory:/elsewhere\n1:name=systemd:/system.slice/sshd.service\n0::/system.slice/sshd.service\n"))
	f.Add([]byte("4:cpu,cpuacct:/\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cgs, err := ParseProcessCgroups(string(b))
		if err != nil {
			return
		}
		for _, cg := range cgs {
			if cg.ID == "" || !strings.HasPrefix(cg.Path, "/") {
				t.Fatalf("line %+v from %q", cg, b)
			}
		}
		if p, ok := CgroupOf(cgs, "memory"); ok && !strings.Contains(string(b), "memory") {
			t.Fatalf("memory cgroup %q from %q", p, b)
		}
	})
}
