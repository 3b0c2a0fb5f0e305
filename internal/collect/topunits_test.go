package collect

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/sysfs"
)

func TestLargest(t *testing.T) {
	um := func(unit string, b uint64) sysfs.UnitMem { return sysfs.UnitMem{Unit: unit, Scope: "system", Bytes: b} }
	rm := func(unit string, b uint64) record.UnitMemory {
		return record.UnitMemory{Unit: unit, Scope: "system", MemoryBytes: b}
	}
	for _, tc := range []struct {
		name string
		in   []sysfs.UnitMem
		n    int
		want []record.UnitMemory
	}{
		{"none", nil, 5, nil},
		{"fewer than n", []sysfs.UnitMem{um("a", 1), um("b", 3)}, 5, []record.UnitMemory{rm("b", 3), rm("a", 1)}},
		{"more than n", []sysfs.UnitMem{um("a", 1), um("b", 5), um("c", 3), um("d", 9), um("e", 2)}, 3,
			[]record.UnitMemory{rm("d", 9), rm("b", 5), rm("c", 3)}},
		{"ties by name", []sysfs.UnitMem{um("z", 4), um("b", 4), um("m", 4), um("a", 1)}, 2,
			[]record.UnitMemory{rm("b", 4), rm("m", 4)}},
		{"same name, scope breaks the tie", []sysfs.UnitMem{{Unit: "x", Scope: "user", Bytes: 7}, {Unit: "x", Scope: "system", Bytes: 7}}, 5,
			[]record.UnitMemory{{Unit: "x", Scope: "system", MemoryBytes: 7}, {Unit: "x", Scope: "user", MemoryBytes: 7}}},
		{"zero bytes still ranked", []sysfs.UnitMem{um("a", 0)}, 5, []record.UnitMemory{rm("a", 0)}},
	} {
		got := largest(nil, tc.in, tc.n)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: largest = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The fixture machine's five largest services, a user's among them.
func TestTopUnitsFixture(t *testing.T) {
	c, clk, _ := newFixture(t, collecttestRoot(t))
	c.units.disabled = true
	c.Prime()
	clk.t = clk.t.Add(time.Second)
	got := c.Sample(t.Context()).Mem.TopUnits
	want := []record.UnitMemory{
		{Unit: "syncthing.service", Scope: "user", MemoryBytes: 700 << 20},
		{Unit: "postgresql.service", Scope: "system", MemoryBytes: 500 << 20},
		{Unit: "nginx.service", Scope: "system", MemoryBytes: 300 << 20},
		{Unit: "pipewire.service", Scope: "user", MemoryBytes: 16 << 20},
		{Unit: "sshd.service", Scope: "system", MemoryBytes: 8 << 20},
	}
	if !slices.Equal(got, want) {
		t.Errorf("top_units =\n%v\nwant\n%v", got, want)
	}
}

// Directories and values are read every cgroupRescan, the ranking repeated
// in between; with no service left the list is absent, not empty.
func TestTopUnitsRescan(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("proc/meminfo", "MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 250 kB\n")
	sys := "sys/fs/cgroup/system.slice/"
	write(sys+"a.service/memory.current", "100\n")
	c, clk, _ := newFixture(t, root)
	c.units.disabled = true
	c.Prime()
	rec := func(unit string, b uint64) record.UnitMemory {
		return record.UnitMemory{Unit: unit, Scope: "system", MemoryBytes: b}
	}
	top := func() []record.UnitMemory {
		clk.t = clk.t.Add(4 * time.Second)
		return c.Sample(t.Context()).Mem.TopUnits
	}
	if got := top(); !slices.Equal(got, []record.UnitMemory{rec("a.service", 100)}) {
		t.Fatalf("first sample: %v", got)
	}
	write(sys+"a.service/memory.current", "150\n")
	write(sys+"b.service/memory.current", "900\n")
	if got := top(); !slices.Equal(got, []record.UnitMemory{rec("a.service", 100)}) {
		t.Errorf("4 s later: %v, want the first scan's ranking repeated", got)
	}
	top() // 8 s after the scan
	if got := top(); !slices.Equal(got, []record.UnitMemory{rec("b.service", 900), rec("a.service", 150)}) {
		t.Errorf("12 s after the first scan: %v, want both re-read, b first", got)
	}
	if err := os.RemoveAll(filepath.Join(root, "sys/fs/cgroup")); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		top()
	}
	if s := c.Sample(t.Context()); s.Mem == nil || s.Mem.TopUnits != nil {
		t.Errorf("no services: mem %+v, want mem with top_units nil", s.Mem)
	}
}

// checkRealTopUnits checks this machine's top_units against what its cgroup
// tree holds: this container (cgroup v1 hybrid) usually has no service
// cgroups, and then the list must be absent, never empty.
func checkRealTopUnits(t *testing.T, m *record.Mem) {
	t.Helper()
	var found []string
	for _, pat := range []string{
		"/sys/fs/cgroup/system.slice/*.service/memory.current",
		"/sys/fs/cgroup/system.slice/*.slice/*.service/memory.current",
		"/sys/fs/cgroup/memory/system.slice/*.service/memory.usage_in_bytes",
		"/sys/fs/cgroup/memory/system.slice/*.slice/*.service/memory.usage_in_bytes",
	} {
		f, _ := filepath.Glob(pat)
		found = append(found, f...)
	}
	if len(found) == 0 {
		t.Logf("no system service cgroups here; top_units absent: %v", m.TopUnits == nil)
	}
	if len(found) > 0 && len(m.TopUnits) == 0 {
		t.Errorf("%d service cgroups here (%s…) but no top_units", len(found), found[0])
	}
	if m.TopUnits != nil && len(m.TopUnits) == 0 {
		t.Error("top_units is empty, not absent")
	}
	if len(m.TopUnits) > topUnitCount {
		t.Errorf("%d top_units, want at most %d", len(m.TopUnits), topUnitCount)
	}
	for i, u := range m.TopUnits {
		if !strings.HasSuffix(u.Unit, ".service") || (u.Scope != "system" && u.Scope != "user") {
			t.Errorf("top_units[%d] = %+v", i, u)
		}
		if i > 0 && u.MemoryBytes > m.TopUnits[i-1].MemoryBytes {
			t.Errorf("top_units not largest first: %v", m.TopUnits)
		}
	}
}

// BenchmarkTopUnits100 is the cost of one mem.top_units rescan on a host
// with 100 services: listing their directories, reading 100 counters and
// keeping the largest five. It happens once every cgroupRescan; samples in
// between repeat the ranking for nothing.
// The files are a fixture's regular files, which stand in for cgroupfs here
// (this container has no service cgroups); a pread of either is a syscall
// of about the same cost.
func BenchmarkTopUnits100(b *testing.B) {
	root := b.TempDir()
	for i := range 100 {
		dir := filepath.Join(root, "sys/fs/cgroup/system.slice", fmt.Sprintf("svc%03d.service", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		v := fmt.Sprintf("%d\n", uint64(i*7919%1000+1)<<20)
		if err := os.WriteFile(filepath.Join(dir, "memory.current"), []byte(v), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	c := New(Config{ProcRoot: filepath.Join(root, "proc"), SysRoot: filepath.Join(root, "sys")})
	b.Cleanup(func() { c.Close() })
	c.cur.at = time.Unix(1, 0)
	if n := len(c.topUnits()); n != topUnitCount {
		b.Fatalf("%d top units, want %d", n, topUnitCount)
	}
	measure(b, func() {
		c.cur.at = c.cur.at.Add(cgroupRescan)
		c.topUnits()
	})
}

// The units read closely are the ranked ones and the probes' units, each
// once; those without a cgroup are left out until a rescan finds them.
func TestWatchedUnits(t *testing.T) {
	root := collecttestRoot(t)
	var log strings.Builder
	c := New(Config{ProcRoot: filepath.Join(root, "proc"), SysRoot: filepath.Join(root, "sys"), Units: UnitsNone,
		Log: slog.New(slog.NewTextHandler(&log, nil)),
		WatchUnits: []sysfs.UnitID{{Unit: "cron.service", Scope: "system"}, {Unit: "nginx.service", Scope: "system"},
			{Unit: "absent.service", Scope: "user"}}})
	t.Cleanup(func() { c.Close() })
	c.Prime()
	c.Sample(t.Context())
	var names []string
	for _, cg := range c.UnitCgroups(nil) {
		names = append(names, cg.Scope+"/"+cg.Unit)
	}
	want := []string{"user/syncthing.service", "system/postgresql.service", "system/nginx.service", "user/pipewire.service",
		"system/sshd.service", "system/cron.service"}
	if !slices.Equal(names, want) {
		t.Errorf("watched %v, want %v", names, want)
	}
	res := c.unitResources()
	if len(res) != 6 || res[2].Unit != "nginx.service" || res[2].MaxBytes != 400<<20 || !res[2].HasPressure ||
		res[1].OOMKills != 2 || res[5].CurrentBytes != 4<<20 {
		t.Errorf("resources %+v", res)
	}
	if strings.Contains(log.String(), "per-unit cgroup") {
		t.Errorf("a v2 host with memory logged a caveat: %s", log.String())
	}
}

// A hybrid host says once what it cannot report.
func TestWatchedUnitsHybridCaveat(t *testing.T) {
	var log strings.Builder
	clk := &clock{t: time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)}
	c := New(Config{ProcRoot: filepath.Join(collecttestRoot(t), "proc"), SysRoot: "../sysfs/testdata/hybrid", Units: UnitsNone,
		Log: slog.New(slog.NewTextHandler(&log, nil)), Now: clk.now,
		WatchUnits: []sysfs.UnitID{{Unit: "worker.service", Scope: "user"}}})
	t.Cleanup(func() { c.Close() })
	c.Prime()
	for range 3 {
		clk.t = clk.t.Add(cgroupRescan)
		c.Sample(t.Context())
	}
	if n := strings.Count(log.String(), "hybrid cgroup layout"); n != 1 {
		t.Errorf("caveat said %d times, want once:\n%s", n, log.String())
	}
	if res := c.unitResources(); len(res) != 4 || res[3].Unit != "worker.service" || !res[3].HasPressure || res[3].HasCurrent {
		t.Errorf("resources %+v", res)
	}
}

// mem.units carries each watched unit's own cgroup, values the layout
// lacks left out, and the share of its limit used.
func TestMemUnits(t *testing.T) {
	c, clk, _ := newFixture(t, collecttestRoot(t))
	c.units.disabled = true
	c.cfg.WatchUnits = []sysfs.UnitID{{Unit: "cron.service", Scope: "system"}}
	c.Prime()
	clk.t = clk.t.Add(time.Second)
	got := c.Sample(t.Context()).Mem.Units
	if len(got) != 6 {
		t.Fatalf("mem.units: %d entries, want the 5 ranked and cron: %+v", len(got), got)
	}
	nginx := got[2]
	if nginx.Unit != "nginx.service" || nginx.Scope != "system" || *nginx.MemoryBytes != 300<<20 || *nginx.MaxBytes != 400<<20 ||
		*nginx.MaxUsedRatio != 0.75 || *nginx.OOMKills != 0 || nginx.Pressure.Some.Avg10Ratio != 0.015 ||
		nginx.Pressure.Full.TotalSeconds != 0.045678 {
		t.Errorf("nginx %+v", nginx)
	}
	pg := got[1]
	if pg.Unit != "postgresql.service" || pg.MaxBytes != nil || pg.MaxUsedRatio != nil || *pg.OOMKills != 2 {
		t.Errorf("postgresql (no limit, two OOM kills) %+v", pg)
	}
	cron := got[5]
	if cron.Unit != "cron.service" || *cron.MemoryBytes != 4<<20 || cron.MaxBytes != nil || cron.OOMKills != nil || cron.Pressure != nil {
		t.Errorf("cron (memory.current only) %+v", cron)
	}
	line, err := record.AppendSample(nil, c.Sample(t.Context()))
	if err != nil || !strings.Contains(string(line), `{"unit":"cron.service","scope":"system","memory_bytes":4194304}`) {
		t.Errorf("line %s, %v", line, err)
	}
}

// BenchmarkMemUnits100 is what mem.units costs a sample on a host with
// 100 services: a pread and parse of each watched unit's memory.current,
// memory.events and memory.pressure (memory.max is read at the 10 s
// rescan), and the entries built. By default the watched units are the
// five largest (watched=5); with a probe for every service, all 100.
// Fixture files stand in for cgroupfs, as in BenchmarkTopUnits100.
func BenchmarkMemUnits100(b *testing.B) {
	root := b.TempDir()
	var ids []sysfs.UnitID
	for i := range 100 {
		unit := fmt.Sprintf("svc%03d.service", i)
		dir := filepath.Join(root, "sys/fs/cgroup/system.slice", unit)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for name, v := range map[string]string{
			"memory.current":  fmt.Sprintf("%d\n", uint64(i*7919%1000+1)<<20),
			"memory.max":      "2147483648\n",
			"memory.events":   "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
			"memory.pressure": "some avg10=0.00 avg60=0.00 avg300=0.00 total=123\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=45\n",
		} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		ids = append(ids, sysfs.UnitID{Unit: unit, Scope: "system"})
	}
	for _, watched := range []int{topUnitCount, 100} {
		b.Run(fmt.Sprintf("watched=%d", watched), func(b *testing.B) {
			cfg := Config{ProcRoot: filepath.Join(root, "proc"), SysRoot: filepath.Join(root, "sys")}
			if watched > topUnitCount {
				cfg.WatchUnits = ids
			}
			c := New(cfg)
			b.Cleanup(func() { c.Close() })
			c.cur.at = time.Unix(1, 0)
			c.topUnits()
			if n := len(c.memUnits()); n != watched {
				b.Fatalf("%d units, want %d", n, watched)
			}
			var line []byte
			s := &record.Sample{Mem: &record.Mem{}}
			measure(b, func() {
				s.Mem.Units = c.memUnits()
				line, _ = record.AppendSample(line[:0], s)
			})
			b.ReportMetric(float64(len(line)), "line-bytes")
		})
	}
}
