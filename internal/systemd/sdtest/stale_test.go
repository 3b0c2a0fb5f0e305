package sdtest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// TestSweepStale plays a test binary killed before its cleanup: cgroups named
// after a dead pid still hold a process. The next Start must remove both.
func TestSweepStale(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	dead := exec.Command("/bin/true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	leaf := leafPrefix + strconv.Itoa(dead.Process.Pid) + "-1"
	dirs, err := makeCgroups(leaf)
	if errors.Is(err, errCgroupSetup) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeCgroups(dirs) })
	// A live process whose cgroups are named after us must survive the sweep.
	mine, err := makeCgroups(leafPrefix + strconv.Itoa(os.Getpid()) + "-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeCgroups(mine) })

	orphan := exec.Command("/bin/sleep", "3600")
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { orphan.Process.Kill(); orphan.Wait() })
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(orphan.Process.Pid)), 0); err != nil {
			t.Fatal(err)
		}
	}

	if err := sweepStale(); err != nil {
		t.Fatal(err)
	}
	err = orphan.Wait()
	if ws, ok := orphan.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Errorf("process in the stale cgroup ended with %v, want SIGKILL", err)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale cgroup %s not removed (%v)", d, err)
		}
	}
	for _, d := range mine {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("cgroup %s of a live process removed: %v", d, err)
		}
	}
}
