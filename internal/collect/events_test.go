package collect

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/collect/collecttest"
	"github.com/lmn-heal/lmn/internal/probe"
	"github.com/lmn-heal/lmn/internal/psi"
	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
)

// unitSysRoot makes a sysfs root whose cgroup trees are a group the test
// owns, holding one service, system.slice/<unit>, limited to memLimit
// bytes: the collector finds it as it would a real service's cgroup.
func unitSysRoot(t *testing.T, unit string, memLimit int64) (sysRoot string, svc *sdtest.Group) {
	g := sdtest.NewGroup(t, 0)
	if g.Memory == "" {
		t.Skip("no memory controller to count a service's memory")
	}
	svc, err := g.Sub("system.slice/"+unit, memLimit)
	if err != nil {
		t.Fatal(err)
	}
	// A hybrid host's layout (fs/cgroup/unified, fs/cgroup/memory), or a
	// unified one's (fs/cgroup).
	sysRoot = t.TempDir()
	cg := filepath.Join(sysRoot, "fs", "cgroup")
	links := map[string]string{cg: g.Unified}
	if g.MemoryV1 {
		links = map[string]string{filepath.Join(cg, "unified"): g.Unified, filepath.Join(cg, "memory"): g.Memory}
	}
	for link, target := range links {
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	return sysRoot, svc
}

// waitTrigger waits until wake carries want.
func waitTrigger(t *testing.T, wake *Wake, want string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case <-wake.c:
			if got := wake.take(); got == want {
				return
			} else if got != "" {
				t.Logf("woken by %s", got)
			}
		case <-deadline:
			t.Fatalf("nothing woke the collector with %q within %v", want, within)
		}
	}
}

// TestEventsWatchUnits: the watched set reaches the sources. The
// collector ranks the test's service in mem.top_units; the first sample
// hands its cgroup to the sources, which arm a trigger on its
// memory.pressure and watch its OOM kills; then a load that stalls in
// reclaim wakes the collector with "psi", and an allocation past the
// service's limit, killed by the kernel, with "oom". The proc root is the
// fixture's, so no trigger of the machine itself can fire.
func TestEventsWatchUnits(t *testing.T) {
	const unit = "lmn-ev.service"
	sysRoot, svc := unitSysRoot(t, unit, 32<<20)
	keep := exec.Command("/bin/sleep", "120") // something to count in the service
	if err := svc.Start(keep); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keep.Process.Kill(); keep.Wait() })
	root := collecttest.Root(t)
	c := New(Config{ProcRoot: filepath.Join(root, "proc"), SysRoot: sysRoot, Units: UnitsNone, Statfs: collecttest.Statfs(t)})
	t.Cleanup(func() { c.Close() })
	wake := NewWake()
	ev := StartEvents(t.Context(), c, []string{SourcePSI, SourceOOM}, wake)
	t.Cleanup(func() { ev.Close() })
	if got := ev.Active(); !slices.Equal(got, []string{SourcePSI, SourceOOM}) {
		t.Fatalf("active sources %v", got)
	}
	c.Prime()
	s := c.Sample(t.Context())
	if s.Mem == nil || len(s.Mem.TopUnits) != 1 || s.Mem.TopUnits[0].Unit != unit {
		t.Fatalf("top units %+v, want %s", s.Mem, unit)
	}
	unified, memDir := filepath.Join(sysRoot, "fs", "cgroup"), filepath.Join(sysRoot, "fs", "cgroup")
	if svc.MemoryV1 {
		unified, memDir = filepath.Join(unified, "unified"), filepath.Join(memDir, "memory")
	}
	pressure := filepath.Join(unified, "system.slice", unit, "memory.pressure")
	memDir = filepath.Join(memDir, "system.slice", unit)
	if !slices.ContainsFunc(ev.psi.Armed(), func(tr psi.Trigger) bool { return tr.Path == pressure }) {
		t.Errorf("no trigger on %s: %v", pressure, ev.psi.Armed())
	}
	if w := ev.oom.Watched(); len(w) != 1 || w[0] != memDir {
		t.Errorf("OOM watches %v, want %s", w, memDir)
	}

	fill := exec.Command("/bin/sh", "-c", `for i in 1 2 3 4 5 6 7 8; do dd if=/dev/zero of="$0" bs=1M count=128 status=none; done`,
		filepath.Join(t.TempDir(), "fill"))
	if err := svc.Start(fill); err != nil {
		t.Fatal(err)
	}
	waitTrigger(t, wake, TriggerPSI, 30*time.Second)
	fill.Process.Kill()
	fill.Wait()

	hog := exec.Command("/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
	if err := svc.Start(hog); err != nil {
		t.Fatal(err)
	}
	hog.Wait()
	waitTrigger(t, wake, TriggerOOM, 10*time.Second)
}

// TestEventsProbe: a probe's verdict wakes the collector, a steady one
// does not. A real TCP probe checks a loopback listener: its first success
// wakes a sample (the service answers again), the successes after it do
// not, and once the listener is gone each failure does.
func TestEventsProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	probes, err := probe.Parse(fmt.Appendf(nil, `{"probes": [{"name": "svc", "interval": "%v", "tcp": {"address": %q}}]}`,
		probe.MinInterval, ln.Addr().String()), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	root := collecttest.Root(t)
	c := New(Config{ProcRoot: filepath.Join(root, "proc"), SysRoot: filepath.Join(root, "sys"), Units: UnitsNone, Statfs: collecttest.Statfs(t)})
	t.Cleanup(func() { c.Close() })
	sched := probe.NewScheduler(probes, 0)
	c.SetProbes(sched)
	wake := NewWake()
	ev := StartEvents(t.Context(), c, []string{SourceProbe}, wake)
	t.Cleanup(func() { ev.Close() })
	if got := ev.Active(); !slices.Equal(got, []string{SourceProbe}) {
		t.Fatalf("active sources %v", got)
	}
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	go func() { sched.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	waitTrigger(t, wake, TriggerProbe, 10*time.Second) // the first success
	for len(sched.Latest(nil)) == 0 || sched.Latest(nil)[0].Streak < 3 {
		time.Sleep(probe.MinInterval / 4)
	}
	if got := wake.take(); got != "" {
		t.Errorf("steady successes woke the collector with %q", got)
	}
	ln.Close()
	waitTrigger(t, wake, TriggerProbe, 10*time.Second) // the first failure
	if r := sched.Latest(nil)[0]; r.OK {
		t.Errorf("woken by %+v, want a failure", r)
	}
}
