package sysfs

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// cgroupTree writes files (path relative to root → content) under a new
// root and returns an FS over it.
func cgroupTree(t *testing.T, files map[string]string) (*FS, string) {
	t.Helper()
	root := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs := NewFS(root)
	t.Cleanup(func() { fs.Close() })
	return fs, root
}

func unitMemory(t *testing.T, fs *FS) []UnitMem {
	t.Helper()
	got, err := fs.UnitMemory(nil)
	if err != nil {
		t.Fatalf("UnitMemory: %v", err)
	}
	slices.SortFunc(got, func(a, b UnitMem) int { return strings.Compare(a.Scope+a.Unit, b.Scope+b.Unit) })
	return got
}

// The fixture machine is a unified (v2) host: system services (one in a
// template's sub-slice) and a user's services in nested slices; the user
// manager, scopes, mounts and a service without memory.current are not
// listed.
func TestUnitCgroupsUnifiedFixture(t *testing.T) {
	fs := fixture(t)
	if n := fs.ScanUnitCgroups(); n != 7 {
		t.Errorf("ScanUnitCgroups = %d, want 7", n)
	}
	want := []UnitMem{
		{"cron.service", "system", 4 << 20},
		{"getty@tty1.service", "system", 1 << 20},
		{"nginx.service", "system", 300 << 20},
		{"postgresql.service", "system", 500 << 20},
		{"sshd.service", "system", 8 << 20},
		{"pipewire.service", "user", 16 << 20},
		{"syncthing.service", "user", 700 << 20},
	}
	if got := unitMemory(t, fs); !slices.Equal(got, want) {
		t.Errorf("UnitMemory =\n%v\nwant\n%v", got, want)
	}
}

// A hybrid host (this container is one) has the unified tree without the
// memory controller, which is a v1 hierarchy of its own.
func TestUnitCgroupsHybrid(t *testing.T) {
	fs, _ := cgroupTree(t, map[string]string{
		"fs/cgroup/unified/system.slice/a.service/cgroup.procs":                                                   "",
		"fs/cgroup/systemd/system.slice/a.service/cgroup.procs":                                                   "",
		"fs/cgroup/memory/system.slice/a.service/memory.usage_in_bytes":                                           "100\n",
		"fs/cgroup/memory/system.slice/system-x.slice/x@1.service/memory.usage_in_bytes":                          "200\n",
		"fs/cgroup/memory/user.slice/user-1000.slice/user@1000.service/memory.usage_in_bytes":                     "999\n",
		"fs/cgroup/memory/user.slice/user-1000.slice/user@1000.service/app.slice/c.service/memory.usage_in_bytes": "50\n",
	})
	if n := fs.ScanUnitCgroups(); n != 3 {
		t.Errorf("ScanUnitCgroups = %d, want 3", n)
	}
	want := []UnitMem{{"a.service", "system", 100}, {"x@1.service", "system", 200}, {"c.service", "user", 50}}
	if got := unitMemory(t, fs); !slices.Equal(got, want) {
		t.Errorf("UnitMemory = %v, want %v", got, want)
	}
}

// A unified tree without the memory controller enabled (no memory.current)
// falls through to nothing, not to zeros.
func TestUnitCgroupsNone(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"empty":             {},
		"no memory files":   {"fs/cgroup/system.slice/a.service/cgroup.procs": ""},
		"v1 without slices": {"fs/cgroup/memory/memory.usage_in_bytes": "123\n"},
	} {
		fs, _ := cgroupTree(t, files)
		if n := fs.ScanUnitCgroups(); n != 0 {
			t.Errorf("%s: ScanUnitCgroups = %d, want 0", name, n)
		}
		if got, err := fs.UnitMemory(nil); len(got) != 0 || err != nil {
			t.Errorf("%s: UnitMemory = %v, %v", name, got, err)
		}
	}
}

// Between scans a stopped service is left out quietly, a changed value is
// read again through the kept-open file, and a bad value is an error naming
// the file that leaves the others in.
func TestUnitCgroupsBetweenScans(t *testing.T) {
	fs, root := cgroupTree(t, map[string]string{
		"fs/cgroup/system.slice/a.service/memory.current": "10\n",
		"fs/cgroup/system.slice/b.service/memory.current": "20\n",
		"fs/cgroup/system.slice/c.service/memory.current": "30\n",
	})
	fs.ScanUnitCgroups()
	// a stops before its file was first opened (on cgroupfs a kept-open
	// file of a removed cgroup fails too, with ENODEV; a fixture's regular
	// file would still read, so the test removes it before the first read).
	sys := filepath.Join(root, "fs/cgroup/system.slice")
	if err := os.RemoveAll(filepath.Join(sys, "a.service")); err != nil {
		t.Fatal(err)
	}
	if got, want := unitMemory(t, fs), []UnitMem{{"b.service", "system", 20}, {"c.service", "system", 30}}; !slices.Equal(got, want) {
		t.Errorf("after a stopped: %v, want %v", got, want)
	}
	write := func(rel, content string) {
		os.MkdirAll(filepath.Dir(filepath.Join(sys, rel)), 0o755)
		if err := os.WriteFile(filepath.Join(sys, rel), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.service/memory.current", "25\n")
	write("c.service/memory.current", "lots\n")
	write("d.service/memory.current", "40\n")
	got, err := fs.UnitMemory(nil)
	if err == nil || !strings.Contains(err.Error(), filepath.Join("c.service", "memory.current")) {
		t.Errorf("err = %v, want one naming c.service/memory.current", err)
	}
	if want := []UnitMem{{"b.service", "system", 25}}; !slices.Equal(got, want) {
		t.Errorf("before the rescan: %v, want %v", got, want)
	}
	kept := fs.cgroups[1].file // b.service's (after a's), open since the first read
	if fs.cgroups[1].unit != "b.service" {
		t.Fatalf("scan order: %+v", fs.cgroups)
	}
	fs.ScanUnitCgroups()
	if fs.cgroups[0].unit != "b.service" || fs.cgroups[0].file != kept {
		t.Errorf("rescan did not keep b.service's open file: %+v", fs.cgroups[0])
	}
	got, _ = fs.UnitMemory(nil)
	if want := []UnitMem{{"b.service", "system", 25}, {"d.service", "system", 40}}; !slices.Equal(got, want) {
		t.Errorf("after the rescan: %v, want %v", got, want)
	}
	if n := len(fs.Files()); n != 3 {
		t.Errorf("Files after rescan: %d kept open, want 3 (b, c, d)", n)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]uint64{"0\n": 0, "524288000\n": 500 << 20, " 7 ": 7} {
		if got, err := parseBytes([]byte(in)); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "-1", "-0", "max", "1.5", "1234567890123456789"} {
		if _, err := parseBytes([]byte(bad)); err == nil {
			t.Errorf("parseBytes(%q) succeeded", bad)
		}
	}
}

func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"524288000\n", "0", "-1", "", "max\n", "999999999999999999"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseBytes(b)
		if err != nil {
			return
		}
		want, serr := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if serr != nil || got != want {
			t.Errorf("parseBytes(%q) = %d; strconv: %d, %v", b, got, want, serr)
		}
	})
}

// TestUnitCgroup: each service found has its cgroup at the same path
// below the hierarchy's root, template instances in sub-slices and user
// services included; a unit not found is not watched.
func TestUnitCgroup(t *testing.T) {
	fs, root := cgroupTree(t, map[string]string{
		"fs/cgroup/memory/system.slice/a.service/memory.usage_in_bytes":                                           "100\n",
		"fs/cgroup/memory/system.slice/system-x.slice/x@1.service/memory.usage_in_bytes":                          "200\n",
		"fs/cgroup/memory/user.slice/user-1000.slice/user@1000.service/app.slice/c.service/memory.usage_in_bytes": "50\n",
	})
	fs.ScanUnitCgroups()
	want := map[UnitID]string{
		{"a.service", "system"}:   "system.slice/a.service",
		{"x@1.service", "system"}: "system.slice/system-x.slice/x@1.service",
		{"c.service", "user"}:     "user.slice/user-1000.slice/user@1000.service/app.slice/c.service",
	}
	fs.Watch([]UnitID{{"a.service", "system"}, {"x@1.service", "system"}, {"c.service", "user"},
		{"c.service", "system"}, {"gone.service", "system"}})
	got := fs.WatchedCgroups(nil)
	if len(got) != len(want) {
		t.Fatalf("watched %+v, want the %d units found", got, len(want))
	}
	for _, cg := range got {
		if p := filepath.Join(root, "fs/cgroup/memory", want[cg.UnitID]); cg.Memory != p || !cg.V1 {
			t.Errorf("%v: memory cgroup %q (v1 %v), want %q", cg.UnitID, cg.Memory, cg.V1, p)
		}
	}
}
