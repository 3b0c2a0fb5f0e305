package collect

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/collect/collecttest"
	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/systemd/dbus"
)

// clock is a manual clock for rate tests: readings happen at the times the
// test sets, so the rates are exact.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// newFixture returns a Collector over root (a fixture tree) with a manual
// clock, the fixture's statfs figures and stand-in systemctl, and the log.
func newFixture(t *testing.T, root string) (*Collector, *clock, *bytes.Buffer) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)}
	var log bytes.Buffer
	c := New(Config{
		ProcRoot: filepath.Join(root, "proc"), SysRoot: filepath.Join(root, "sys"), NixRoot: filepath.Join(root, "nix"),
		RunRoot: filepath.Join(root, "run"), GenerationsRecord: filepath.Join(root, "var", "lib", "luminous-privd", "generations.json"),
		Units: UnitsSystem, Systemctl: collecttest.Systemctl(t), Booted: func() bool { return true },
		UnitBus: []dbus.Addr{}, Statfs: collecttest.Statfs(t), Now: clk.now, Host: "h",
		Log: slog.New(slog.NewTextHandler(&log, nil)),
	})
	t.Cleanup(func() { c.Close() })
	return c, clk, &log
}

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, rel), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const netHead = "Inter-|   Receive                                                |  Transmit\n" +
	" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"

// TestRates takes two readings of a fixture tree whose counters the test
// changes in between, two seconds apart, and checks every derived value.
func TestRates(t *testing.T) {
	root := collecttest.CopyRoot(t)
	write(t, root, "proc/stat", "cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 1 1 1\ncpu1 1 1 1 1\n")
	write(t, root, "proc/vmstat", "pswpin 10\npswpout 20\n")
	write(t, root, "proc/meminfo", "MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 250 kB\nCached: 50 kB\nSwapTotal: 400 kB\nSwapFree: 300 kB\n")
	write(t, root, "proc/diskstats", "   8       0 sda 100 0 1000 0 50 0 2000 0 0 0 0\n   8       1 sda1 1 0 1 0 1 0 1 0 0 0 0\n")
	write(t, root, "proc/net/dev", netHead+"  eth0: 1000 10 0 0 0 0 0 0 500 5 0 0 0 0 0 0\n    lo: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n")
	c, clk, _ := newFixture(t, root)
	c.Prime()

	// In 2 s on 2 CPUs (400 ticks at USER_HZ 100, say): user+nice 120,
	// system+irq+softirq 60, iowait 20, steal 0, idle 200.
	write(t, root, "proc/stat", "cpu  200 20 140 900 120 10 10 0 0 0\ncpu0 1 1 1 1\ncpu1 1 1 1 1\n")
	write(t, root, "proc/vmstat", "pswpin 30\npswpout 20\n")
	write(t, root, "proc/diskstats", "   8       0 sda 300 0 5000 0 70 0 2400 0 0 1500 0\n   8       1 sda1 9 0 9 0 9 0 9 0 0 0 0\n   8      16 sdb 5 0 5 0 5 0 5 0 0 5 0\n")
	write(t, root, "proc/net/dev", netHead+"  eth0: 3000 30 2 0 0 0 0 0 400 15 0 4 0 0 0 0\n    lo: 9 9 0 0 0 0 0 0 9 9 0 0 0 0 0 0\n")
	os.MkdirAll(filepath.Join(root, "sys/block/sdb"), 0o755)
	clk.t = clk.t.Add(2 * time.Second)
	s := c.Sample(t.Context())

	if s.IntervalSeconds != 2 || s.Seq != 1 || !s.TS.Equal(clk.t) {
		t.Errorf("header: seq %d, interval %v, ts %v", s.Seq, s.IntervalSeconds, s.TS)
	}
	wantCPU := record.CPU{Count: 2, BusyRatio: 0.45, UserRatio: 0.3, SystemRatio: 0.15, IOWaitRatio: 0.05}
	if *s.CPU != wantCPU {
		t.Errorf("cpu = %+v, want %+v", *s.CPU, wantCPU)
	}
	wantSwap := record.Swap{TotalBytes: 400 << 10, FreeBytes: 300 << 10, UsedRatio: 0.25, InPerS: 10}
	if *s.Swap != wantSwap {
		t.Errorf("swap = %+v, want %+v", *s.Swap, wantSwap)
	}
	wantMem := record.Mem{TotalBytes: 1000 << 10, AvailableBytes: 250 << 10, FreeBytes: 100 << 10, CachedBytes: 50 << 10, AvailableRatio: 0.25}
	gotMem := *s.Mem
	gotMem.TopUnits, gotMem.Units = nil, nil // the fixture's services: TestTopUnitsFixture, TestMemUnits
	if !reflect.DeepEqual(gotMem, wantMem) {
		t.Errorf("mem = %+v, want %+v", gotMem, wantMem)
	}
	wantDev := []record.BlockDevice{
		{Device: "sda", ReadBytesPerS: 4000 * 512 / 2, WriteBytesPerS: 400 * 512 / 2, ReadsPerS: 100, WritesPerS: 10, BusyRatio: 0.75},
		{Device: "sdb"}, // new since the last reading: zero rates this once
	}
	if len(s.Disks.Devices) != 2 || s.Disks.Devices[0] != wantDev[0] || s.Disks.Devices[1] != wantDev[1] {
		t.Errorf("devices = %+v, want %+v", s.Disks.Devices, wantDev)
	}
	// The counter that went backwards (tx bytes: a re-created interface)
	// gives zero, not a huge rate.
	wantIf := record.Interface{Name: "eth0", Up: true, OperState: "up", RxBytesPerS: 1000, TxBytesPerS: 0,
		RxPacketsPerS: 10, TxPacketsPerS: 5, RxErrorsPerS: 1, TxDropsPerS: 2}
	var got record.Interface
	if len(s.Net.Interfaces) == 1 {
		got = s.Net.Interfaces[0]
		if got.Carrier == nil || !*got.Carrier {
			t.Errorf("eth0 carrier %v, want true", got.Carrier)
		}
		got.Carrier = nil
	}
	if len(s.Net.Interfaces) != 1 || got != wantIf {
		t.Errorf("interfaces = %+v, want only %+v (lo left out)", s.Net.Interfaces, wantIf)
	}
	if !s.Net.DefaultRoute {
		t.Error("default route not seen")
	}

	// A second sample with nothing changed: all rates zero, seq 2.
	clk.t = clk.t.Add(time.Second)
	s = c.Sample(t.Context())
	if s.Seq != 2 || s.IntervalSeconds != 1 || s.CPU.BusyRatio != 0 || s.Disks.Devices[0].ReadsPerS != 0 || s.Swap.InPerS != 0 {
		t.Errorf("unchanged second sample: seq %d interval %v cpu %+v dev %+v swap %+v", s.Seq, s.IntervalSeconds, s.CPU, s.Disks.Devices[0], s.Swap)
	}

	// Swap goes away (swapoff): vmstat is no longer read, and its
	// counters, whatever they say, give no swap rates.
	write(t, root, "proc/meminfo", "MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 250 kB\nCached: 50 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n")
	clk.t = clk.t.Add(time.Second)
	c.Sample(t.Context())
	write(t, root, "proc/vmstat", "pswpin 1000\npswpout 2000\n")
	clk.t = clk.t.Add(time.Second)
	s = c.Sample(t.Context())
	if s.Swap == nil || s.Swap.TotalBytes != 0 || s.Swap.InPerS != 0 || s.Swap.OutPerS != 0 || s.Swap.UsedRatio != 0 {
		t.Errorf("without swap: %+v, want zeros", s.Swap)
	}
}

// TestMissingSourcesDropGroups removes one source at a time: its group goes,
// the sample and the other groups stay, and one warning is logged.
func TestMissingSourcesDropGroups(t *testing.T) {
	for _, tc := range []struct {
		remove  []string
		absent  func(*record.Sample) bool
		present func(*record.Sample) bool
	}{
		{[]string{"proc/pressure"}, func(s *record.Sample) bool { return s.PSI == nil }, func(s *record.Sample) bool { return s.Mem != nil }},
		{[]string{"proc/pressure/io"}, func(s *record.Sample) bool { return s.PSI.IO == nil }, func(s *record.Sample) bool { return s.PSI.CPU != nil }},
		{[]string{"proc/meminfo"}, func(s *record.Sample) bool { return s.Mem == nil && s.Swap == nil }, func(s *record.Sample) bool { return s.CPU != nil }},
		{[]string{"proc/stat"}, func(s *record.Sample) bool { return s.CPU == nil }, func(s *record.Sample) bool { return s.Load != nil && s.Load.Load1Per > 0 }},
		{[]string{"proc/loadavg"}, func(s *record.Sample) bool { return s.Load == nil }, func(s *record.Sample) bool { return s.Disks != nil }},
		{[]string{"sys/class/thermal", "sys/class/hwmon"}, func(s *record.Sample) bool { return s.Temps == nil }, func(s *record.Sample) bool { return s.Net != nil }},
		{[]string{"nix"}, func(s *record.Sample) bool { return s.Nix == nil }, func(s *record.Sample) bool { return s.Temps != nil }},
		{[]string{"proc/self/mountinfo", "proc/diskstats"}, func(s *record.Sample) bool { return s.Disks == nil }, func(s *record.Sample) bool { return s.Net != nil }},
		{[]string{"proc/net"}, func(s *record.Sample) bool { return s.Net == nil }, func(s *record.Sample) bool { return s.Disks != nil }},
		{[]string{"sys/fs/cgroup"}, func(s *record.Sample) bool { return s.Mem.TopUnits == nil }, func(s *record.Sample) bool { return s.Mem != nil }},
		{[]string{"sys/class/net"}, func(s *record.Sample) bool { return s.Net.Interfaces[0].OperState == "unknown" }, func(s *record.Sample) bool { return s.Net != nil }},
	} {
		t.Run(strings.Join(tc.remove, "+"), func(t *testing.T) {
			root := collecttest.CopyRoot(t)
			for _, r := range tc.remove {
				if err := os.RemoveAll(filepath.Join(root, r)); err != nil {
					t.Fatal(err)
				}
			}
			c, clk, log := newFixture(t, root)
			c.units.disabled = true // units are tested on their own; keep this fast
			c.Prime()
			for range 3 {
				clk.t = clk.t.Add(time.Second)
				s := c.Sample(t.Context())
				if !tc.absent(s) || !tc.present(s) {
					t.Fatalf("sample %d: wrong groups", s.Seq)
				}
			}
			seen := map[string]bool{}
			for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
				_, part, _ := strings.Cut(line, " part=")
				part, _, _ = strings.Cut(part, " err=")
				if seen[part] {
					t.Errorf("warned twice about %s in 3 samples:\n%s", part, log)
				}
				seen[part] = true
			}
			// A machine without sensors, /nix or a cgroup tree lacks
			// them: no warning. Otherwise the removed source and
			// /run/user/1000, which has no statfs figures in the fixture.
			if quiet := tc.remove[0] == "nix" || tc.remove[0] == "sys/class/thermal" || tc.remove[0] == "sys/fs/cgroup"; !quiet && len(seen) < 2 {
				t.Errorf("want a warning about the removed source:\n%s", log)
			}
		})
	}
}

func TestRealMount(t *testing.T) {
	for point, fstype := range map[string]string{
		"/": "ext4", "/dev/shm": "tmpfs", "/tmp": "tmpfs", "/run/user/1000": "tmpfs", "/home": "btrfs",
		"/devices": "ext4", "/var/lib/docker": "ext4",
	} {
		if !realMount(procMount(point, fstype)) {
			t.Errorf("%s (%s) left out, want it kept", point, fstype)
		}
	}
	for point, fstype := range map[string]string{
		"/proc": "proc", "/sys/fs/cgroup": "tmpfs", "/dev": "devtmpfs", "/dev/pts": "devpts", "/snap/core/1": "squashfs",
		"/run/credentials/x.service": "tmpfs", "/var/lib/docker/overlay2/a/merged": "overlay", "/proc/sys/fs/binfmt_misc": "autofs",
		"/dev/hugepages": "hugetlbfs", "/sys": "sysfs",
	} {
		if realMount(procMount(point, fstype)) {
			t.Errorf("%s (%s) kept, want it left out", point, fstype)
		}
	}
}

func TestMarkHolder(t *testing.T) {
	ms := []record.Mount{{Mount: "/"}, {Mount: "/nix"}, {Mount: "/nix/store2"}, {Mount: "/var"}}
	markHolder(ms, nixStore, func(m *record.Mount) { m.HoldsNixStore = true })
	markHolder(ms, varLog, func(m *record.Mount) { m.HoldsVarLog = true })
	if ms[0].HoldsNixStore || !ms[1].HoldsNixStore || ms[2].HoldsNixStore || !ms[3].HoldsVarLog || ms[0].HoldsVarLog {
		t.Errorf("marks wrong: %+v", ms)
	}
}

func TestSkipDevice(t *testing.T) {
	for name, want := range map[string]bool{"loop0": true, "ram12": true, "zram0": true, "fd0": true,
		"sda": false, "ramdisk": false, "vda": false, "nvme0n1": false, "dm-0": false, "loop": false} {
		if got := skipDevice(name); got != want {
			t.Errorf("skipDevice(%s) = %v, want %v", name, got, want)
		}
	}
}

// TestRealMachine samples this machine's /proc and /sys and checks the
// values are sane.
func TestRealMachine(t *testing.T) {
	c := New(Config{ProcRoot: "/proc", SysRoot: "/sys", NixRoot: "/nix", Units: UnitsNone, Host: "h"})
	defer c.Close()
	c.Prime()
	s := c.Sample(context.Background())
	if s.IntervalSeconds < 0 {
		t.Errorf("interval %v", s.IntervalSeconds)
	}
	if s.CPU == nil || s.Mem == nil || s.Load == nil || s.Net == nil || s.Disks == nil {
		t.Fatalf("groups every Linux machine has are missing: %+v", s)
	}
	ratios := []float64{s.CPU.BusyRatio, s.CPU.UserRatio, s.CPU.SystemRatio, s.CPU.IOWaitRatio, s.CPU.StealRatio,
		s.Mem.AvailableRatio, s.Swap.UsedRatio}
	if s.CPU.Count < 1 || s.Mem.TotalBytes == 0 || s.Mem.AvailableBytes > s.Mem.TotalBytes || s.Load.Processes < 1 {
		t.Errorf("cpu %+v mem %+v load %+v", s.CPU, s.Mem, s.Load)
	}
	if s.PSI != nil {
		for _, p := range []*record.Pressure{s.PSI.CPU, s.PSI.Memory, s.PSI.IO} {
			if p != nil && p.Some != nil {
				ratios = append(ratios, p.Some.Avg10Ratio, p.Some.Avg60Ratio, p.Some.Avg300Ratio)
			}
		}
	}
	root := false
	for _, m := range s.Disks.Mounts {
		ratios = append(ratios, m.UsedRatio, m.InodesUsedRatio)
		if m.Mount == "/" {
			root = m.SizeBytes > 0 && m.AvailBytes <= m.SizeBytes
		}
	}
	if !root {
		t.Errorf("no sane / among mounts %+v", s.Disks.Mounts)
	}
	for _, d := range s.Disks.Devices {
		ratios = append(ratios, d.BusyRatio)
	}
	for i, r := range ratios {
		if r < 0 || r > 1 {
			t.Errorf("ratio %d = %v, outside 0..1", i, r)
		}
	}
	checkRealTopUnits(t, s.Mem)
	for _, i := range s.Net.Interfaces {
		if i.Name == "lo" || i.OperState == "" || i.RxBytesPerS < 0 {
			t.Errorf("interface %+v", i)
		}
	}
}
