package oom

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
	"golang.org/x/sys/unix"
)

func TestParseCount(t *testing.T) {
	events := "low 0\nhigh 12\nmax 40\noom 3\noom_kill 2\noom_group_kill 0\n"
	control := "oom_kill_disable 0\nunder_oom 0\noom_kill 7\n"
	for _, c := range []struct {
		in, key string
		want    uint64
		err     string
	}{
		{events, "oom_kill", 2, ""},
		{events, "oom", 3, ""},
		{control, "oom_kill", 7, ""},
		{"oom_kill 5", "oom_kill", 5, ""},
		{"high 1\n", "oom_kill", 0, "no oom_kill line"},
		{"oom_kill -1\n", "oom_kill", 0, "not a count"},
		{"oom_kill 18446744073709551616\n", "oom_kill", 0, "not a count"},
		{"oom_kill\n", "oom_kill", 0, "no oom_kill line"},
		{"", "oom_kill", 0, "no oom_kill line"},
	} {
		got, err := parseCount([]byte(c.in), c.key)
		if got != c.want || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("parseCount(%q, %q) = %d, %v; want %d, %q", c.in, c.key, got, err, c.want, c.err)
		}
	}
}

func FuzzParseCount(f *testing.F) {
	f.Add([]byte("low 0\nhigh 12\nmax 40\noom 3\noom_kill 2\noom_group_kill 0\n"))
	f.Add([]byte("oom_kill_disable 0\nunder_oom 1\noom_kill 7\n"))
	f.Add([]byte("oom_kill 99999999999999999999\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := parseCount(b, "oom_kill")
		if err != nil && n != 0 {
			t.Fatalf("error %v with count %d", err, n)
		}
	})
}

// inotifyEvent encodes a struct inotify_event with a name of n bytes.
func inotifyEvent(wd int32, mask uint32, n int) []byte {
	b := binary.NativeEndian.AppendUint32(nil, uint32(wd))
	b = binary.NativeEndian.AppendUint32(b, mask)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = binary.NativeEndian.AppendUint32(b, uint32(n))
	return append(b, make([]byte, n)...)
}

func TestEachEvent(t *testing.T) {
	b := append(inotifyEvent(1, unix.IN_MODIFY, 0), inotifyEvent(2, unix.IN_IGNORED, 16)...)
	b = append(b, inotifyEvent(3, unix.IN_MODIFY, 0)[:10]...) // cut short
	var got [][2]uint32
	eachEvent(b, func(wd int32, mask uint32) { got = append(got, [2]uint32{uint32(wd), mask}) })
	want := [][2]uint32{{1, unix.IN_MODIFY}, {2, unix.IN_IGNORED}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func FuzzEachEvent(f *testing.F) {
	f.Add(append(inotifyEvent(1, unix.IN_MODIFY, 0), inotifyEvent(2, unix.IN_IGNORED, 16)...))
	f.Add(inotifyEvent(-1, unix.IN_Q_OVERFLOW, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		eachEvent(b, func(int32, uint32) { n++ })
		if n*unix.SizeofInotifyEvent > len(b) {
			t.Fatalf("%d events from %d bytes", n, len(b))
		}
	})
}

func newWatcher(t *testing.T) (*Watcher, chan string) {
	fired := make(chan string, 64)
	w, err := New(func(dir string) { fired <- dir })
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

func expectFired(t *testing.T, fired chan string, dir string, within time.Duration) {
	t.Helper()
	select {
	case d := <-fired:
		if d != dir {
			t.Fatalf("fired for %s, want %s", d, dir)
		}
	case <-time.After(within):
		t.Fatalf("nothing fired for %s within %v", dir, within)
	}
}

func expectQuiet(t *testing.T, fired chan string, what string) {
	t.Helper()
	select {
	case d := <-fired:
		t.Fatalf("%s: fired for %s", what, d)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestOOMKill: a process allocating 64 MiB in a cgroup the test limits to
// 16 MiB is killed by the kernel, and the watcher says so at once. On this
// hybrid host that is the v1 memory controller's eventfd; on a unified
// host with the memory controller, memory.events through inotify.
func TestOOMKill(t *testing.T) {
	g := sdtest.NewGroup(t, 16<<20)
	if g.Memory == "" {
		t.Skip("no memory controller to limit a cgroup")
	}
	w, fired := newWatcher(t)
	if err := w.Set([]string{g.Memory}); err != nil {
		t.Fatal(err)
	}
	expectQuiet(t, fired, "nothing running")
	cmd := exec.Command("/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
	if err := g.Start(cmd); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("dd in a 16 MiB cgroup: %v, want killed by the OOM killer", err)
	}
	expectFired(t, fired, g.Memory, 5*time.Second)
	if slices.Index(w.Watched(), g.Memory) < 0 {
		t.Errorf("%s no longer watched after a kill", g.Memory)
	}
}

// TestRemovedCgroupV1: removing a watched v1 cgroup signals its eventfd;
// the watcher drops it without reporting a kill.
func TestRemovedCgroupV1(t *testing.T) {
	g := sdtest.NewGroup(t, 16<<20)
	if !g.MemoryV1 {
		t.Skip("no v1 memory controller here")
	}
	w, fired := newWatcher(t)
	if err := w.Set([]string{g.Memory}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Rmdir(g.Memory); err != nil {
		t.Fatal(err)
	}
	expectQuiet(t, fired, "cgroup removed")
	for deadline := time.Now().Add(5 * time.Second); slices.Index(w.Watched(), g.Memory) >= 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("removed cgroup still watched")
		}
	}
}

// TestMemoryEventsInotify runs the v2 path over a regular file named
// memory.events, because this host's cgroup2 tree has no memory
// controller: the inotify watch, the count read at each change, a change
// of another counter ignored, a kill reported, the file's removal
// dropping the watch. That the kernel marks memory.events modified at each
// change is its documented behaviour (cgroup-v2.rst), which TestOOMKill
// checks on a unified host.
func TestMemoryEventsInotify(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "memory.events")
	write := func(s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n")
	w, fired := newWatcher(t)
	if err := w.Set([]string{dir}); err != nil {
		t.Fatal(err)
	}
	write("low 0\nhigh 5\nmax 2\noom 0\noom_kill 0\noom_group_kill 0\n")
	expectQuiet(t, fired, "high and max grew")
	write("low 0\nhigh 5\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n")
	expectFired(t, fired, dir, 5*time.Second)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); len(w.Watched()) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("removed file still watched")
		}
	}
	if err := w.Set([]string{dir}); err == nil || !strings.Contains(err.Error(), "neither memory.events nor memory.oom_control") {
		t.Errorf("Set on a directory with neither file: %v", err)
	}
}
