package sysfs

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/lmn-heal/lmn/internal/proc"
)

func watch(t *testing.T, fs *FS, ids ...UnitID) []UnitResources {
	t.Helper()
	fs.ScanUnitCgroups()
	fs.Watch(ids)
	got, err := fs.UnitResources(nil)
	if err != nil {
		t.Fatalf("UnitResources: %v", err)
	}
	return got
}

func sys(unit string) UnitID  { return UnitID{unit, "system"} }
func user(unit string) UnitID { return UnitID{unit, "user"} }

func pressure(some10, full10 float64, someTotal, fullTotal uint64) proc.Pressure {
	return proc.Pressure{HasSome: true, HasFull: true,
		Some: proc.PressureLine{Avg10: some10, Total: someTotal}, Full: proc.PressureLine{Avg10: full10, Total: fullTotal}}
}

// On the v2 fixture machine: a unit with a limit, pressure and no OOM
// kill; one without a limit that was OOM-killed twice; one with only
// memory.current; a user service; a unit that has no cgroup.
func TestUnitResourcesUnified(t *testing.T) {
	fs := fixture(t)
	got := watch(t, fs, sys("nginx.service"), sys("postgresql.service"), sys("sshd.service"),
		sys("absent.service"), user("syncthing.service"), user("nginx.service"))
	nginx := pressure(0.015, 0.005, 123456, 45678)
	nginx.Some.Avg60, nginx.Some.Avg300, nginx.Full.Avg60 = 0.008, 0.002, 0.001
	want := []UnitResources{
		{UnitID: sys("nginx.service"), CurrentBytes: 300 << 20, HasCurrent: true, MaxBytes: 400 << 20, HasMax: true,
			HasOOMKills: true, Pressure: nginx, HasPressure: true},
		{UnitID: sys("postgresql.service"), CurrentBytes: 500 << 20, HasCurrent: true, OOMKills: 2, HasOOMKills: true,
			Pressure: pressure(0, 0, 0, 0), HasPressure: true},
		{UnitID: sys("sshd.service"), CurrentBytes: 8 << 20, HasCurrent: true},
		{UnitID: user("syncthing.service"), CurrentBytes: 700 << 20, HasCurrent: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("UnitResources =\n%+v\nwant\n%+v", got, want)
	}
	if c := fs.CgroupCaveat(); c != "" {
		t.Errorf("caveat %q on a v2 host", c)
	}
	cgs := fs.WatchedCgroups(nil)
	root := filepath.Join(fs.Root(), "fs/cgroup")
	if len(cgs) != 4 || cgs[0].Memory != filepath.Join(root, "system.slice/nginx.service") || cgs[0].Unified != cgs[0].Memory || cgs[0].V1 ||
		cgs[0].Events() != filepath.Join(cgs[0].Memory, "memory.events") || cgs[0].Pressure() != filepath.Join(cgs[0].Memory, "memory.pressure") ||
		cgs[3].Memory != filepath.Join(root, "user.slice/user-1000.slice/user@1000.service/app.slice/syncthing.service") {
		t.Errorf("WatchedCgroups = %+v", cgs)
	}
}

// On a hybrid host (this one's shape) memory comes from the v1
// hierarchy, pressure from the unified tree; a unit with a cgroup only in
// the unified tree reports pressure alone.
func TestUnitResourcesHybrid(t *testing.T) {
	fs := NewFS("testdata/hybrid")
	t.Cleanup(func() { fs.Close() })
	got := watch(t, fs, sys("redis.service"), sys("nginx.service"), sys("cron.service"), user("worker.service"), sys("worker.service"))
	redis := pressure(0.12, 0.0825, 9000000, 6000000)
	redis.Some.Avg60, redis.Some.Avg300, redis.Full.Avg60, redis.Full.Avg300 = 0.045, 0.01, 0.03, 0.005
	worker := pressure(0, 0, 10, 5)
	want := []UnitResources{
		{UnitID: sys("redis.service"), CurrentBytes: 200 << 20, HasCurrent: true, MaxBytes: 256 << 20, HasMax: true,
			OOMKills: 1, HasOOMKills: true, Pressure: redis, HasPressure: true},
		// "Unlimited" is a huge number on v1; a kernel before 4.13 has no
		// oom_kill in memory.oom_control; no unified cgroup, no pressure.
		{UnitID: sys("nginx.service"), CurrentBytes: 50 << 20, HasCurrent: true},
		{UnitID: sys("cron.service"), CurrentBytes: 4 << 20, HasCurrent: true, Pressure: pressure(0, 0, 0, 0), HasPressure: true},
		{UnitID: user("worker.service"), Pressure: worker, HasPressure: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("UnitResources =\n%+v\nwant\n%+v", got, want)
	}
	if c := fs.CgroupCaveat(); !strings.HasPrefix(c, "hybrid cgroup layout: ") || !strings.Contains(c, "pressure only") {
		t.Errorf("caveat %q", c)
	}
	cgs := fs.WatchedCgroups(nil)
	if len(cgs) != 4 || !cgs[0].V1 || cgs[0].Events() != "testdata/hybrid/fs/cgroup/memory/system.slice/redis.service/memory.oom_control" ||
		cgs[0].Pressure() != "testdata/hybrid/fs/cgroup/unified/system.slice/redis.service/memory.pressure" ||
		cgs[1].Unified != "" || cgs[3].Memory != "" || cgs[3].Current() != "" ||
		cgs[3].Unified != "testdata/hybrid/fs/cgroup/unified/user.slice/user-1000.slice/user@1000.service/app.slice/worker.service" {
		t.Errorf("WatchedCgroups = %+v", cgs)
	}
}

// A legacy (v1 only) host has no pressure, and says so.
func TestUnitResourcesLegacy(t *testing.T) {
	fs, _ := cgroupTree(t, map[string]string{
		"fs/cgroup/memory/system.slice/a.service/memory.usage_in_bytes": "100\n",
		"fs/cgroup/memory/system.slice/a.service/memory.limit_in_bytes": "1000\n",
		"fs/cgroup/memory/system.slice/a.service/memory.oom_control":    "oom_kill_disable 0\nunder_oom 1\noom_kill 7\n",
	})
	got := watch(t, fs, sys("a.service"))
	want := []UnitResources{{UnitID: sys("a.service"), CurrentBytes: 100, HasCurrent: true, MaxBytes: 1000, HasMax: true, OOMKills: 7, HasOOMKills: true}}
	if !slices.Equal(got, want) {
		t.Errorf("UnitResources = %+v, want %+v", got, want)
	}
	if c := fs.CgroupCaveat(); !strings.Contains(c, "no per-unit memory pressure (no cgroup2 tree)") {
		t.Errorf("caveat %q", c)
	}
	empty, _ := cgroupTree(t, nil)
	empty.ScanUnitCgroups()
	if c := empty.CgroupCaveat(); !strings.HasPrefix(c, "no cgroup tree with services") {
		t.Errorf("caveat without cgroups %q", c)
	}
	// A hybrid host without services yet (this machine: PID 1 is not
	// systemd) is still a hybrid host, not one without a memory controller.
	bare, _ := cgroupTree(t, map[string]string{
		"fs/cgroup/memory/memory.usage_in_bytes": "1\n", "fs/cgroup/unified/cgroup.controllers": "\n",
	})
	bare.ScanUnitCgroups()
	if c := bare.CgroupCaveat(); !strings.HasPrefix(c, "hybrid cgroup layout: ") {
		t.Errorf("caveat of a hybrid host without services %q", c)
	}
	v2bare, _ := cgroupTree(t, map[string]string{"fs/cgroup/cgroup.controllers": "cpu io\n"})
	v2bare.ScanUnitCgroups()
	if c := v2bare.CgroupCaveat(); !strings.HasPrefix(c, "no memory controller in the cgroup tree") {
		t.Errorf("caveat of a v2 host without memory %q", c)
	}
	v2mem, _ := cgroupTree(t, map[string]string{"fs/cgroup/cgroup.controllers": "cpu io memory pids\n"})
	v2mem.ScanUnitCgroups()
	if c := v2mem.CgroupCaveat(); c != "" {
		t.Errorf("caveat of a v2 host with memory and no services yet %q", c)
	}
}

// Watch keeps the files of units still watched open, closes those of
// units dropped, and a bad value is an error naming the file that leaves
// the rest of the unit in.
func TestWatchKeepsFiles(t *testing.T) {
	fs, _ := cgroupTree(t, map[string]string{
		"fs/cgroup/cgroup.controllers":                    "memory\n",
		"fs/cgroup/system.slice/a.service/memory.current": "1\n",
		"fs/cgroup/system.slice/a.service/memory.max":     "lots\n",
		"fs/cgroup/system.slice/b.service/memory.current": "2\n",
	})
	fs.ScanUnitCgroups()
	fs.Watch([]UnitID{sys("a.service"), sys("b.service")})
	got, err := fs.UnitResources(nil)
	if err == nil || !strings.Contains(err.Error(), filepath.Join("a.service", "memory.max")) || len(got) != 2 || got[0].HasMax || !got[0].HasCurrent {
		t.Errorf("UnitResources = %+v, %v; want both units and an error naming a's memory.max", got, err)
	}
	kept := fs.watched[1].current
	fs.ScanUnitCgroups()
	fs.Watch([]UnitID{sys("b.service")})
	if len(fs.watched) != 1 || fs.watched[0].current != kept {
		t.Errorf("b's file was not kept open: %+v", fs.watched)
	}
	// b's memory.current, and the three of a that do not exist, are
	// kept or closed; the ranking keeps its own two files.
	if n := len(fs.Files()); n != 2+4 {
		t.Errorf("Files: %d, want 6", n)
	}
}

func TestParseLimit(t *testing.T) {
	for in, want := range map[string]struct {
		v   uint64
		set bool
	}{
		"max\n": {0, false}, "268435456\n": {256 << 20, true}, "0": {0, true},
		"9223372036854771712\n": {0, false}, // v1's "unlimited" with 4 KiB pages
		"9223372036854710272\n": {0, false}, // and with 64 KiB pages
		"4611686018427387903":   {1<<62 - 1, true},
	} {
		v, set, err := parseLimit([]byte(in))
		if err != nil || v != want.v || set != want.set {
			t.Errorf("parseLimit(%q) = %d, %v, %v; want %d, %v", in, v, set, err, want.v, want.set)
		}
	}
	for _, bad := range []string{"", "-1", "maxx", "1k", "18446744073709551616", "+5"} {
		if _, _, err := parseLimit([]byte(bad)); err == nil {
			t.Errorf("parseLimit(%q) succeeded", bad)
		}
	}
}

func TestParseKeyed(t *testing.T) {
	events := "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n"
	for _, tc := range []struct {
		in, key string
		v       uint64
		found   bool
	}{
		{events, "oom_kill", 2, true}, {events, "oom", 3, true}, {events, "missing", 0, false},
		{"oom_kill_disable 0\nunder_oom 0\n", "oom_kill", 0, false}, {"oom_kill 5", "oom_kill", 5, true},
	} {
		v, found, err := parseKeyed([]byte(tc.in), tc.key)
		if err != nil || v != tc.v || found != tc.found {
			t.Errorf("parseKeyed(%q, %s) = %d, %v, %v", tc.in, tc.key, v, found, err)
		}
	}
	if _, _, err := parseKeyed([]byte("oom_kill x\n"), "oom_kill"); err == nil || !strings.Contains(err.Error(), "oom_kill: not a count") {
		t.Errorf("bad count: %v", err)
	}
}

// FuzzParseLimit: a limit that parses is the number strconv reads, below
// the v1 "unlimited" values; "max" and the huge values are no limit.
func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{"max\n", "268435456\n", "9223372036854771712", "", "-1", "18446744073709551615"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, set, err := parseLimit(b)
		if err != nil {
			return
		}
		s := strings.TrimSpace(string(b))
		n, perr := strconv.ParseUint(s, 10, 64)
		switch {
		case s == "max":
			if set {
				t.Fatalf("max read as a limit")
			}
		case perr != nil:
			t.Fatalf("parseLimit(%q) accepted what strconv refuses: %v", b, perr)
		case set != (n < unlimitedV1) || (set && v != n):
			t.Fatalf("parseLimit(%q) = %d, %v", b, v, set)
		}
	})
}

// FuzzParseKeyed: a count found is the number strconv reads on a line
// starting with the key and a space.
func FuzzParseKeyed(f *testing.F) {
	f.Add([]byte("low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n"))
	f.Add([]byte("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"))
	f.Add([]byte("oom_kill\noom_kill  7"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, found, err := parseKeyed(b, "oom_kill")
		if err != nil || !found {
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "oom_kill "); ok {
				if n, err := strconv.ParseUint(strings.TrimSpace(rest), 10, 64); err != nil || n != v {
					t.Fatalf("parseKeyed(%q) = %d; the line says %q", b, v, line)
				}
				return
			}
		}
		t.Fatalf("parseKeyed(%q) found %d on no oom_kill line", b, v)
	})
}

// The limit is read at each Watch (the rescan), not every sample: a new
// MemoryMax= shows from the next rescan. (A restarted unit's new limit is
// read at once: TestUnitResourcesRealCgroups, on real cgroups, whose
// removed files cannot be read as a fixture's can.)
func TestLimitReadAtWatch(t *testing.T) {
	fs, root := cgroupTree(t, map[string]string{
		"fs/cgroup/cgroup.controllers":                    "memory\n",
		"fs/cgroup/system.slice/a.service/memory.current": "10\n",
		"fs/cgroup/system.slice/a.service/memory.max":     "100\n",
	})
	got := watch(t, fs, sys("a.service"))
	set := func(v string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(root, "fs/cgroup/system.slice/a.service/memory.max"), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	limit := func() uint64 {
		t.Helper()
		got, err := fs.UnitResources(nil)
		if err != nil || len(got) != 1 {
			t.Fatalf("UnitResources = %+v, %v", got, err)
		}
		return got[0].MaxBytes
	}
	if got[0].MaxBytes != 100 {
		t.Fatalf("first read %+v", got)
	}
	set("200\n")
	if l := limit(); l != 100 {
		t.Errorf("between rescans the limit is %d, want the one read at Watch (100)", l)
	}
	fs.ScanUnitCgroups()
	fs.Watch([]UnitID{sys("a.service")})
	if l := limit(); l != 200 {
		t.Errorf("after a Watch the limit is %d, want 200", l)
	}
}
