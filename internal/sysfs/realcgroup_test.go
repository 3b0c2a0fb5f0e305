package sysfs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// realCgroups is a service's cgroup the test made in the machine's real
// hierarchies, and a sys root whose fs/cgroup shows only the test's own
// part of them (symlinks into the real trees).
type realCgroups struct {
	sysRoot  string
	memory   string // the service's cgroup of the memory controller
	unified  string // its cgroup2 cgroup where that is another one; "" on v2
	memoryV1 bool
	tops     []string // the test's top cgroups, removed at the end
}

// newRealCgroups makes system.slice/t.service below a new top cgroup
// named for the test binary, on a hybrid host (this machine's shape: v1
// memory controller, unified tree beside it) or a v2 host with the memory
// controller. It skips where cgroups cannot be made.
func newRealCgroups(t *testing.T) *realCgroups {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("making cgroups needs root")
	}
	top := fmt.Sprintf("lmn-sysfs-test-%d", os.Getpid())
	rc := &realCgroups{sysRoot: t.TempDir()}
	link := func(real, as string) {
		if err := os.MkdirAll(filepath.Dir(as), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(real, as); err != nil {
			t.Fatal(err)
		}
	}
	service := filepath.Join("system.slice", "t.service")
	switch {
	case exists("/sys/fs/cgroup/memory/memory.usage_in_bytes") && exists("/sys/fs/cgroup/unified/cgroup.controllers"):
		rc.memoryV1 = true
		for _, h := range []string{"/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified"} {
			rc.tops = append(rc.tops, filepath.Join(h, top))
		}
		link(rc.tops[0], filepath.Join(rc.sysRoot, "fs/cgroup/memory"))
		link(rc.tops[1], filepath.Join(rc.sysRoot, "fs/cgroup/unified"))
		rc.memory, rc.unified = filepath.Join(rc.tops[0], service), filepath.Join(rc.tops[1], service)
	case strings.Contains(read(t, "/sys/fs/cgroup/cgroup.subtree_control"), "memory"):
		rc.tops = []string{filepath.Join("/sys/fs/cgroup", top)}
		link(rc.tops[0], filepath.Join(rc.sysRoot, "fs/cgroup"))
		rc.memory = filepath.Join(rc.tops[0], service)
	default:
		t.Skip("no v1 memory controller beside a unified tree, and no v2 memory controller")
	}
	t.Cleanup(func() { rc.remove(t) })
	for _, top := range rc.tops {
		if err := os.Mkdir(top, 0o755); err != nil {
			t.Skipf("cannot make a cgroup: %v", err)
		}
	}
	if !rc.memoryV1 {
		rc.write(t, filepath.Join(rc.tops[0], "cgroup.subtree_control"), "+memory")
		rc.mkdir(t, filepath.Dir(rc.memory))
		rc.write(t, filepath.Join(filepath.Dir(rc.memory), "cgroup.subtree_control"), "+memory")
	}
	rc.start(t, "32M")
	return rc
}

// start makes the service's cgroups (its "start"), with a memory limit
// (and no swap beyond it) unless limit is "".
func (rc *realCgroups) start(t *testing.T, limit string) {
	t.Helper()
	for _, d := range rc.dirs() {
		rc.mkdir(t, filepath.Dir(d))
		rc.mkdir(t, d)
	}
	if limit == "" {
		return
	}
	files := []string{"memory.max", "memory.swap.max"}
	if rc.memoryV1 {
		files = []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"}
	}
	rc.write(t, filepath.Join(rc.memory, files[0]), limit)
	if p := filepath.Join(rc.memory, files[1]); exists(p) {
		rc.write(t, p, map[bool]string{true: limit, false: "0"}[rc.memoryV1])
	}
}

// stop removes the service's cgroups, as systemd does when it stops.
func (rc *realCgroups) stop(t *testing.T) {
	t.Helper()
	for _, d := range rc.dirs() {
		if err := os.Remove(d); err != nil {
			t.Fatal(err)
		}
	}
}

func (rc *realCgroups) dirs() []string {
	if rc.unified != "" {
		return []string{rc.memory, rc.unified}
	}
	return []string{rc.memory}
}

func (rc *realCgroups) mkdir(t *testing.T, d string) {
	t.Helper()
	if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		t.Fatal(err)
	}
}

func (rc *realCgroups) write(t *testing.T, path, v string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(v), 0o644); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

// remove removes the test's cgroups, deepest first; the only process the
// test put in them was waited for.
func (rc *realCgroups) remove(t *testing.T) {
	for _, top := range rc.tops {
		var dirs []string
		filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := os.Remove(dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("remove the test's cgroup: %v", err)
			}
		}
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func read(t *testing.T, p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// TestHelperMemoryHog is the process run in the test's cgroup: it moves
// itself there, then touches far more memory than the limit allows, until
// the kernel's OOM killer ends it.
func TestHelperMemoryHog(t *testing.T) {
	cgroups := os.Getenv("LMN_TEST_HOG_CGROUPS")
	if cgroups == "" {
		t.Skip("run by TestUnitResourcesRealCgroups")
	}
	for _, d := range strings.Split(cgroups, ":") {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte("0"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b := make([]byte, 256<<20)
	for i := range len(b) / 4096 {
		b[i*4096] = 1
	}
	t.Fatal("touched 256 MiB in a 32 MiB cgroup without being killed")
}

// The resources of a real service cgroup: its limit, an OOM kill counted
// through the kept-open files, and a restart (new cgroups where the old
// ones were) read again with a fresh count.
func TestUnitResourcesRealCgroups(t *testing.T) {
	rc := newRealCgroups(t)
	fs := NewFS(rc.sysRoot)
	defer fs.Close()
	id := sys("t.service")
	got := watch(t, fs, id)
	if len(got) != 1 || !got[0].HasCurrent || got[0].MaxBytes != 32<<20 || !got[0].HasMax || !got[0].HasOOMKills ||
		got[0].OOMKills != 0 || !got[0].HasPressure {
		t.Fatalf("before: %+v", got)
	}
	if cgs := fs.WatchedCgroups(nil); len(cgs) != 1 || cgs[0].V1 != rc.memoryV1 || !exists(cgs[0].Events()) || !exists(cgs[0].Pressure()) {
		t.Errorf("WatchedCgroups = %+v", cgs)
	}

	hog := exec.Command(os.Args[0], "-test.run=^TestHelperMemoryHog$", "-test.count=1")
	hog.Env = append(os.Environ(), "LMN_TEST_HOG_CGROUPS="+strings.Join(rc.dirs(), ":"))
	out, err := hog.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the hog was not OOM-killed: %v\n%s", err, out)
	}
	got, err = fs.UnitResources(nil)
	if err != nil || len(got) != 1 || got[0].OOMKills != 1 {
		t.Fatalf("after the OOM kill: %+v, %v; want oom_kill 1", got, err)
	}

	// A restart: the kept-open files are of removed cgroups; one reopen
	// reads the new ones, unlimited and without OOM kills.
	rc.stop(t)
	if got, err := fs.UnitResources(nil); err != nil || len(got) != 0 {
		t.Errorf("stopped: %+v, %v; want the unit left out", got, err)
	}
	rc.start(t, "")
	got, err = fs.UnitResources(nil)
	if err != nil || len(got) != 1 || got[0].HasMax || got[0].OOMKills != 0 || !got[0].HasCurrent || !got[0].HasPressure {
		t.Errorf("restarted: %+v, %v; want no limit and no OOM kill", got, err)
	}
}
