package proc

import (
	"strings"
	"testing"
)

func TestParseStat(t *testing.T) {
	in := "cpu  13481 7 5415 52419 557 1 183 305 11 0\n" +
		"cpu0 6736 0 2339 26818 92 0 25 151 0 0\n" +
		"cpu1 6744 0 3076 25600 465 0 158 153 0 0\n" +
		"intr 1 2 3\nctxt 9\n"
	s, err := parseStat([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Stat{CPU: CPUTimes{13481, 7, 5415, 52419, 557, 1, 183, 305}, CPUs: 2}
	if s != want {
		t.Errorf("got %+v, want %+v", s, want)
	}
	if got := s.CPU.Total(); got != 13481+7+5415+52419+557+1+183+305 {
		t.Errorf("Total = %d", got)
	}
	// Linux 2.6.11 and older have fewer columns: the missing ones are zero.
	s, err = parseStat([]byte("cpu 1 2 3 4\ncpu0 1 2 3 4\n"))
	if err != nil || s.CPU != (CPUTimes{User: 1, Nice: 2, System: 3, Idle: 4}) {
		t.Errorf("short line: %+v, %v", s, err)
	}
	for _, bad := range []string{"", "intr 1\n", "cpu 1 2 x 4\n", "cpu0 1 2 3 4\n", "0"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) succeeded, want an error", bad)
		}
	}
}

func TestParseMeminfo(t *testing.T) {
	in := "MemTotal:       24683656 kB\nMemFree:        23853980 kB\nMemAvailable:   24128380 kB\n" +
		"Buffers:            100 kB\nCached:           415520 kB\nSwapCached: 0 kB\nSwapTotal: 2048 kB\n" +
		"SwapFree:           1024 kB\nHugePages_Total:       0\n"
	m, err := parseMeminfo([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Meminfo{MemTotal: 24683656 << 10, MemFree: 23853980 << 10, MemAvailable: 24128380 << 10,
		Buffers: 100 << 10, Cached: 415520 << 10, SwapTotal: 2 << 20, SwapFree: 1 << 20, HasAvailable: true}
	if m != want {
		t.Errorf("got %+v, want %+v", m, want)
	}
	m, err = parseMeminfo([]byte("MemTotal: 10 kB\nMemFree: 5 kB\n"))
	if err != nil || m.HasAvailable {
		t.Errorf("old kernel without MemAvailable: %+v, %v", m, err)
	}
	// procfs's own meminfo parser panics on "0"; this one must say why.
	for _, bad := range []string{"0", "", "MemFree: 5 kB\n", "MemTotal: x kB\n", "MemTotal: 5 MB\n",
		"MemTotal: 99999999999999999999 kB\n", "MemTotal: 18014398509481985 kB\n"} {
		if _, err := parseMeminfo([]byte(bad)); err == nil {
			t.Errorf("parseMeminfo(%q) succeeded, want an error", bad)
		}
	}
}

func TestParseVMStat(t *testing.T) {
	v, err := parseVMStat([]byte("nr_free_pages 1\npswpin 17\npgpgout 3\npswpout 42\n"))
	if err != nil || v != (VMStat{PswpIn: 17, PswpOut: 42}) {
		t.Errorf("got %+v, %v", v, err)
	}
	for _, bad := range []string{"", "pswpin 1\n", "pswpin x\npswpout 1\n"} {
		if _, err := parseVMStat([]byte(bad)); err == nil {
			t.Errorf("parseVMStat(%q) succeeded, want an error", bad)
		}
	}
}

func TestParseLoadavg(t *testing.T) {
	l, err := parseLoadavg([]byte("1.76 0.77 12.30 3/110 11067\n"))
	want := Loadavg{Load1: 1.76, Load5: 0.77, Load15: 12.3, Runnable: 3, Processes: 110}
	if err != nil || l != want {
		t.Errorf("got %+v, %v; want %+v", l, err, want)
	}
	for _, bad := range []string{"", "1 2 3", "1 2 3 4 5", "1.x 2 3 1/2 5", "1 2 3 1-2 5", "-1 2 3 1/2 5", "1. 2 3 1/2 5"} {
		if _, err := parseLoadavg([]byte(bad)); err == nil {
			t.Errorf("parseLoadavg(%q) succeeded, want an error", bad)
		}
	}
}

func TestParsePressure(t *testing.T) {
	in := "some avg10=43.05 avg60=16.99 avg300=6.40 total=29167686\n" +
		"full avg10=0.00 avg60=100.00 avg300=0.01 total=5\n"
	p, err := parsePressure([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Pressure{
		Some:    PressureLine{Avg10: 0.4305, Avg60: 0.1699, Avg300: 0.064, Total: 29167686},
		Full:    PressureLine{Avg60: 1, Avg300: 0.0001, Total: 5},
		HasSome: true, HasFull: true,
	}
	if p != want {
		t.Errorf("got %+v, want %+v", p, want)
	}
	// cpu before Linux 5.13 has no full line.
	p, err = parsePressure([]byte(strings.SplitAfter(in, "\n")[0]))
	if err != nil || p.HasFull || !p.HasSome {
		t.Errorf("some only: %+v, %v", p, err)
	}
	for _, bad := range []string{"", "some\n", "some avg10=1 avg60=2 avg300=3\n", "some avg10=101.00 avg60=0 avg300=0 total=0\n",
		"full avg10=x avg60=0 avg300=0 total=0\n", "some avg10 avg60=0 avg300=0 total=0\n"} {
		if _, err := parsePressure([]byte(bad)); err == nil {
			t.Errorf("parsePressure(%q) succeeded, want an error", bad)
		}
	}
}

func TestParseMountinfo(t *testing.T) {
	in := "22 27 0:21 / /proc rw,relatime - proc proc rw\n" +
		"27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n" +
		"58 54 0:44 / /run/user/1000 rw,nosuid shared:5 master:1 - tmpfs tmpfs rw,mode=700\n" +
		"56 27 8:17 / /media/my\\040disk\\134x rw - fuse.sshfs me@host:/a\\040b ro\n" +
		"50 27 254:0 /nix/store /nix/store ro,relatime - ext4 /dev/vda rw\n" +
		"this line is broken\n" +
		"51 27 8:1 / /var/log rw - xfs /dev/sda1 rw\n"
	ms, err := parseMountinfo([]byte(in), nil, &interner{})
	if err == nil || !strings.Contains(err.Error(), "line 6") {
		t.Errorf("err = %v, want one naming line 6", err)
	}
	want := []Mount{
		{MountPoint: "/proc", FSType: "proc", Source: "proc"},
		{MountPoint: "/", FSType: "ext4", Source: "/dev/vda"},
		{MountPoint: "/run/user/1000", FSType: "tmpfs", Source: "tmpfs"},
		{MountPoint: "/media/my disk\\x", FSType: "fuse.sshfs", Source: "me@host:/a b", ReadOnly: true},
		{MountPoint: "/nix/store", FSType: "ext4", Source: "/dev/vda", ReadOnly: true},
		{MountPoint: "/var/log", FSType: "xfs", Source: "/dev/sda1"},
	}
	if len(ms) != len(want) {
		t.Fatalf("got %d mounts, want %d: %+v", len(ms), len(want), ms)
	}
	for i := range want {
		if ms[i] != want[i] {
			t.Errorf("mount %d: got %+v, want %+v", i, ms[i], want[i])
		}
	}
}

func TestParseDiskstats(t *testing.T) {
	in := " 254       0 vda 32296 5697 1454130 8319 44915 20284 3256424 23335 0 10996 35370 7980 118 574568 1634 3545 2080\n" +
		"   8       1 sda1 10 0 20 0 30 0 40 0 0 50 60\n" +
		"   8       2 sda2 10 0 20\n"
	ds, err := parseDiskstats([]byte(in), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("err = %v, want one naming line 3", err)
	}
	want := []DiskStat{
		{Name: "vda", Major: 254, Reads: 32296, SectorsRead: 1454130, Writes: 44915, SectorsWritten: 3256424, IOTicksMs: 10996},
		{Name: "sda1", Major: 8, Minor: 1, Reads: 10, SectorsRead: 20, Writes: 30, SectorsWritten: 40, IOTicksMs: 50},
	}
	if len(ds) != 2 || ds[0] != want[0] || ds[1] != want[1] {
		t.Errorf("got %+v, want %+v", ds, want)
	}
}

func TestParseNetDev(t *testing.T) {
	in := "Inter-|   Receive                                                |  Transmit\n" +
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n" +
		"    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0\n" +
		"  eth0:160706083    5130    1    2    0     0          0         0   208600    2385    3    4    0     0       0          0\n" +
		"  bad0: 1 2 3\n"
	ns, err := parseNetDev([]byte(in), nil, &interner{})
	if err == nil || !strings.Contains(err.Error(), "bad0") {
		t.Errorf("err = %v, want one naming bad0", err)
	}
	want := NetDev{Name: "eth0", RxBytes: 160706083, RxPackets: 5130, RxErrors: 1, RxDrops: 2,
		TxBytes: 208600, TxPackets: 2385, TxErrors: 3, TxDrops: 4}
	if len(ns) != 2 || ns[0].Name != "lo" || ns[1] != want {
		t.Errorf("got %+v, want lo and %+v", ns, want)
	}
}

// Found by FuzzParseNetDev: a line whose name part held a space gave an
// interface "0 0". Names the kernel cannot make are reported by line.
func TestParseNetDevBadName(t *testing.T) {
	counters := " 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
	for _, name := range []string{"0 0", "a\tb", "a/b", "sixteen-bytes-xx", " "} {
		in := "  lo:" + counters + name + ":" + counters
		ns, err := parseNetDev([]byte(in), nil, &interner{})
		if len(ns) != 1 || ns[0].Name != "lo" {
			t.Errorf("name %q: got %+v, want lo alone", name, ns)
		}
		if err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("name %q: err = %v, want one naming line 2", name, err)
		}
	}
	if ns, err := parseNetDev([]byte("fifteen-bytes-x:"+counters), nil, nil); err != nil || len(ns) != 1 {
		t.Errorf("15-byte name: %+v, %v; want it read", ns, err)
	}
}

func TestParseRoute(t *testing.T) {
	head := "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
	def := "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
	net := "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
	reject := "eth0\t00000000\t00000000\t0201\t0\t0\t0\t00000000\t0\t0\t0\n"
	for _, tc := range []struct {
		in   string
		want bool
	}{{head + net + def, true}, {head + net, false}, {head, false}, {head + reject, false}, {"", false}} {
		got, err := parseRoute([]byte(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("parseRoute(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	if _, err := parseRoute([]byte(head + "eth0\tzz\t0\t0001\t0\t0\t0\t0\n")); err == nil {
		t.Error("bad hex accepted")
	}
}

func TestParseIPv6Route(t *testing.T) {
	zero := strings.Repeat("0", 32)
	def := zero + " 00 " + zero + " 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n"
	unreach := zero + " 00 " + zero + " 00 " + zero + " ffffffff 00000001 00000000 00200200       lo\n"
	local := "fe800000000000000000000000000000 40 " + zero + " 00 " + zero + " 00000100 00000002 00000000 00000001     eth0\n"
	for _, tc := range []struct {
		in   string
		want bool
	}{{local + unreach + def, true}, {local + unreach, false}, {"", false}} {
		got, err := parseIPv6Route([]byte(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("parseIPv6Route(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	if _, err := parseIPv6Route([]byte("short line\n")); err == nil {
		t.Error("short line accepted")
	}
}

func TestParseDecimal(t *testing.T) {
	for _, tc := range []struct {
		in    string
		shift int
		want  float64
		ok    bool
	}{
		{"43.05", 0, 43.05, true}, {"0.14", 2, 0.0014, true}, {"7", 0, 7, true}, {"100.00", 2, 1, true},
		{"", 0, 0, false}, {".5", 0, 0, false}, {"5.", 0, 0, false}, {"1.2.3", 0, 0, false}, {"-1", 0, 0, false},
		{"1.1234567890", 0, 0, false},
		// Found by FuzzParseDecimal: the digits wrapped around uint64 and
		// gave 1.5532559262904484e+07. Past 2^53 they are refused.
		{"20000000000.000000000", 2, 0, false}, {"9007199254740992", 0, 1 << 53, true},
		{"9007199254740993", 0, 0, false}, {"9007199.254740993", 0, 0, false},
		{"1099511627776.5", 1, 109951162777.65, true},
	} {
		got, ok := parseDecimal([]byte(tc.in), tc.shift)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseDecimal(%q, %d) = %v, %v; want %v, %v", tc.in, tc.shift, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseUint(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{{"0", 0, true}, {"18446744073709551615", 1<<64 - 1, true}, {"18446744073709551616", 0, false},
		{"", 0, false}, {"1a", 0, false}, {"+1", 0, false}} {
		got, ok := parseUint([]byte(tc.in))
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseUint(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestInternerBounded(t *testing.T) {
	var in interner
	a := in.get([]byte("eth0"))
	if b := in.get([]byte("eth0")); b != a {
		t.Fatal("same name gave different strings")
	}
	for i := range 3 * maxInterned {
		in.get([]byte(strings.Repeat("x", i%50) + string(rune('a'+i%26)) + string(rune(i))))
	}
	if len(in.m) > maxInterned {
		t.Errorf("interner holds %d names, want at most %d", len(in.m), maxInterned)
	}
}
