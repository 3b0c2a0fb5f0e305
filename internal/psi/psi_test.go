package psi

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
	"golang.org/x/sys/unix"
)

func TestWindow(t *testing.T) {
	for _, c := range []struct {
		want       time.Duration
		privileged bool
		got        time.Duration
	}{
		{time.Second, true, time.Second},
		{time.Second, false, 2 * time.Second},
		{100 * time.Millisecond, true, MinWindow},
		{100 * time.Millisecond, false, 2 * time.Second},
		{3 * time.Second, false, 4 * time.Second},
		{4 * time.Second, false, 4 * time.Second},
		{time.Minute, true, MaxWindow},
		{time.Minute, false, MaxWindow},
	} {
		if got := Window(c.want, c.privileged); got != c.got {
			t.Errorf("Window(%v, %v) = %v, want %v", c.want, c.privileged, got, c.got)
		}
	}
	tr := Ratio("/proc/pressure/memory", false, 0.1, time.Second, false)
	if tr.Line() != "some 200000 2000000" || tr.String() != "/proc/pressure/memory: some 200000 2000000" {
		t.Errorf("Ratio: %q", tr)
	}
	if l := (Trigger{Full: true, Stall: 50 * time.Millisecond, Window: time.Second}).Line(); l != "full 50000 1000000" {
		t.Errorf("full line %q", l)
	}
}

// hostPressure returns the machine's memory pressure file, skipping where
// the kernel has none or this process may not write it.
func hostPressure(t *testing.T) string {
	const p = "/proc/pressure/memory"
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no writable %s: %v", p, err)
	}
	f.Close()
	return p
}

func newWatcher(t *testing.T) (*Watcher, chan Trigger) {
	fired := make(chan Trigger, 64)
	w, err := New(func(tr Trigger) {
		select {
		case fired <- tr:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	})
	return w, fired
}

// TestWindowRule checks the kernel's rule on this kernel, on the host's
// memory pressure file: 2 s windows arm for anyone; 1 s and 500 ms ones
// only with CAP_SYS_RESOURCE (ErrWindow without); a window under 500 ms, a
// stall longer than its window and a window over 10 s never.
func TestWindowRule(t *testing.T) {
	p := hostPressure(t)
	w, _ := newWatcher(t)
	arm := func(stall, window time.Duration) error {
		return w.Arm(Trigger{Path: p, Stall: stall, Window: window})
	}
	if err := arm(200*time.Millisecond, 2*time.Second); err != nil {
		t.Errorf("2s window: %v", err)
	}
	short := arm(100*time.Millisecond, time.Second)
	switch priv := Privileged(); {
	case priv && short != nil:
		t.Errorf("1s window with CAP_SYS_RESOURCE: %v", short)
	case !priv && !errors.Is(short, ErrWindow):
		t.Errorf("1s window without CAP_SYS_RESOURCE: %v, want ErrWindow", short)
	}
	for _, bad := range [][2]time.Duration{{10 * time.Millisecond, 400 * time.Millisecond},
		{3 * time.Second, 2 * time.Second}, {time.Second, 12 * time.Second}} {
		if err := arm(bad[0], bad[1]); !errors.Is(err, unix.EINVAL) {
			t.Errorf("stall %v in window %v: %v, want EINVAL", bad[0], bad[1], err)
		}
	}
	if n := len(w.Armed()); n != 1+boolInt(short == nil) {
		t.Errorf("%d triggers armed: %v", n, w.Armed())
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestWindowRulePrivileged runs TestPrivilegedChild in a new user
// namespace, where the process holds every capability of that namespace:
// the kernel judges a trigger by the opener's effective capabilities
// (cap_raised on file->f_cred), so this is the one way to see the
// privileged branch on a machine whose root lacks CAP_SYS_RESOURCE, as
// this one's does. lmn-collect never does this; the test only uses it to
// check Privileged and the short window against the real kernel.
func TestWindowRulePrivileged(t *testing.T) {
	hostPressure(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("no unshare(1) to make a user namespace")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(unshare, "--user", "--map-root-user", exe, "-test.run", "^TestPrivilegedChild$", "-test.v")
	cmd.Env = append(os.Environ(), "LMN_PSI_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(string(out), "unshare failed") {
		t.Skipf("no user namespaces here: %s", out)
	}
	if err != nil || !strings.Contains(string(out), "--- PASS: TestPrivilegedChild") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func TestPrivilegedChild(t *testing.T) {
	if os.Getenv("LMN_PSI_CHILD") != "1" {
		t.Skip("run by TestWindowRulePrivileged")
	}
	if !Privileged() {
		t.Fatal("Privileged() = false with every capability of the namespace")
	}
	w, _ := newWatcher(t)
	if err := w.Arm(Trigger{Path: "/proc/pressure/memory", Stall: 50 * time.Millisecond, Window: 500 * time.Millisecond}); err != nil {
		t.Fatalf("500ms window with CAP_SYS_RESOURCE: %v", err)
	}
}

// waitFired waits for a trigger on path to fire.
func waitFired(t *testing.T, fired chan Trigger, path string, within time.Duration) Trigger {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case tr := <-fired:
			if tr.Path == path {
				return tr
			}
		case <-deadline:
			t.Fatalf("no trigger on %s fired within %v", path, within)
		}
	}
}

// waitDisarmed waits until the watcher holds no trigger on path.
func waitDisarmed(t *testing.T, w *Watcher, path string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if !slices.ContainsFunc(w.Armed(), func(tr Trigger) bool { return tr.Path == path }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("trigger on %s still armed after its cgroup went away", path)
		}
	}
}

// TestCPUPressureInCgroup: two busy loops sharing one CPU in a cgroup the
// test creates stall each other; the trigger on that cgroup's cpu.pressure
// fires within a few windows, and none fires before the load starts.
// Removing the cgroup disarms the trigger instead of leaving the kernel's
// endless POLLERR to spin the watcher.
func TestCPUPressureInCgroup(t *testing.T) {
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		t.Skip("no taskset(1) to pin the load to one CPU")
	}
	g := sdtest.NewGroup(t, 0)
	w, fired := newWatcher(t)
	path := filepath.Join(g.Unified, "cpu.pressure")
	tr := Ratio(path, false, 0.2, time.Second, Privileged())
	if err := w.Arm(tr); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-fired:
		t.Fatalf("%v fired with nothing running in the cgroup", got)
	case <-time.After(tr.Window + 500*time.Millisecond):
	}
	start := time.Now()
	for range 2 {
		cmd := exec.Command(taskset, "-c", "0", "nice", "-n", "19", "/bin/sh", "-c", "while :; do :; done")
		if err := g.Start(cmd); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	waitFired(t, fired, path, 5*tr.Window)
	t.Logf("%v fired %v after the load started", tr, time.Since(start).Round(time.Millisecond))
	removeGroup(t, g)
	waitDisarmed(t, w, path)
}

// removeGroup kills the group's processes and removes its cgroup2
// directory while the test's watcher still holds a trigger there.
func removeGroup(t *testing.T, g *sdtest.Group) {
	t.Helper()
	os.WriteFile(filepath.Join(g.Unified, "cgroup.kill"), []byte("1"), 0)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		err := unix.Rmdir(g.Unified)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rmdir %s: %v", g.Unified, err)
		}
	}
}

// TestMemoryPressureInCgroup: a process writing a file four times larger
// than its cgroup's memory limit stalls in reclaim; the trigger on the
// cgroup's memory.pressure (the file lmn-collect watches for each watched
// unit) fires. On a hybrid host the limit is the v1 memory controller's and
// the pressure is read from the same process's cgroup2 directory.
func TestMemoryPressureInCgroup(t *testing.T) {
	g := sdtest.NewGroup(t, 32<<20)
	w, fired := newWatcher(t)
	path := filepath.Join(g.Unified, "memory.pressure")
	tr := Ratio(path, false, 0.05, time.Second, Privileged())
	if err := w.Arm(tr); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "fill")
	cmd := exec.Command("/bin/sh", "-c", `for i in 1 2 3 4 5 6 7 8; do dd if=/dev/zero of="$0" bs=1M count=128 status=none; done`, file)
	start := time.Now()
	if err := g.Start(cmd); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	waitFired(t, fired, path, 30*time.Second)
	b, _ := os.ReadFile(path)
	t.Logf("%v fired %v after the writes started; %s", tr, time.Since(start).Round(time.Millisecond), b)
}

// TestArmRefusesOtherFiles: a file outside procfs and cgroup2 (a fixture
// tree) is never written.
func TestArmRefusesOtherFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "memory")
	const fixture = "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
	if err := os.WriteFile(p, []byte(fixture), 0o644); err != nil {
		t.Fatal(err)
	}
	w, _ := newWatcher(t)
	if err := w.Arm(Trigger{Path: p, Stall: 200 * time.Millisecond, Window: 2 * time.Second}); !errors.Is(err, ErrNotPressure) {
		t.Errorf("Arm on a regular file: %v, want ErrNotPressure", err)
	}
	if b, _ := os.ReadFile(p); string(b) != fixture {
		t.Errorf("the file was written: %q", b)
	}
}
