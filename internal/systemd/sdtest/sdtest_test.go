package sdtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// failedUnits decodes systemctl --user list-units --failed --output=json.
func failedUnits(t *testing.T, m *Manager) map[string]string {
	t.Helper()
	out := m.Run(t, "list-units", "--failed", "--output=json")
	var units []struct {
		Unit   string `json:"unit"`
		Active string `json:"active"`
	}
	if err := json.Unmarshal([]byte(out), &units); err != nil {
		t.Fatalf("decode list-units output %q: %v", out, err)
	}
	got := make(map[string]string)
	for _, u := range units {
		got[u.Unit] = u.Active
	}
	return got
}

// waitState polls the real manager until unit reaches active/sub or the
// deadline passes. Polling an external process, not timing our own logic.
func waitState(t *testing.T, m *Manager, unit, active, sub string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		a, s, _ := m.State(t, unit)
		if a == active && s == sub {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: state %s/%s, want %s/%s", unit, a, s, active, sub)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestManagerFailRestart(t *testing.T) {
	pid1Before, err := os.ReadFile("/proc/1/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	m := Start(t)

	m.WriteUnit(t, "lmn-flaky.service", "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'exit 1'\n")
	if _, err := m.Output(t.Context(), "start", "lmn-flaky.service"); err == nil {
		t.Fatal("starting a oneshot service that exits 1 succeeded")
	}
	if got := failedUnits(t, m)["lmn-flaky.service"]; got != "failed" {
		t.Fatalf("list-units --failed: lmn-flaky.service is %q, want failed", got)
	}
	if active, sub, _ := m.State(t, "lmn-flaky.service"); active != "failed" || sub != "failed" {
		t.Fatalf("State = %s/%s, want failed/failed", active, sub)
	}

	m.WriteUnit(t, "lmn-flaky.service", "[Service]\nExecStart=/bin/sleep 3600\n")
	m.Run(t, "restart", "lmn-flaky.service")
	waitState(t, m, "lmn-flaky.service", "active", "running")
	if _, ok := failedUnits(t, m)["lmn-flaky.service"]; ok {
		t.Fatal("lmn-flaky.service still listed as failed after restart")
	}
	st, err := m.UnitState(t.Context(), "lmn-flaky.service")
	if err != nil {
		t.Fatal(err)
	}
	assertInCgroup(t, m, st.MainPID)

	cgroups := m.Cgroups()
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	assertGone(t, m, cgroups, st.MainPID)
	pid1After, err := os.ReadFile("/proc/1/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	if string(pid1After) != string(pid1Before) {
		t.Fatalf("PID 1 cgroup changed:\nbefore:\n%s\nafter:\n%s", pid1Before, pid1After)
	}
}

func TestManagerCountsRestarts(t *testing.T) {
	m := Start(t)
	m.WriteUnit(t, "lmn-crash.service", "[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=/bin/sh -c 'exit 1'\nRestart=on-failure\nRestartSec=50ms\n")
	m.Run(t, "start", "lmn-crash.service")
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, _, n := m.State(t, "lmn-crash.service")
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("NRestarts = %d after 30s, want >= 2", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.Run(t, "stop", "lmn-crash.service")
}

// TestCloseAfterManagerCrash kills the manager outright, as a crash would,
// and checks Close still kills the service it left and removes its cgroups.
func TestCloseAfterManagerCrash(t *testing.T) {
	m := Start(t)
	m.WriteUnit(t, "lmn-orphan.service", "[Service]\nExecStart=/bin/sleep 3600\n")
	m.Run(t, "start", "lmn-orphan.service")
	st, err := m.UnitState(t.Context(), "lmn-orphan.service")
	if err != nil {
		t.Fatal(err)
	}
	assertInCgroup(t, m, st.MainPID)
	if err := syscall.Kill(m.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-m.exited
	if err := syscall.Kill(st.MainPID, 0); err != nil {
		t.Fatalf("service pid %d died with the manager (%v); the test needs it orphaned", st.MainPID, err)
	}
	cgroups := m.Cgroups()
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	assertGone(t, m, cgroups, st.MainPID)
}

func assertInCgroup(t *testing.T, m *Manager, pid int) {
	t.Helper()
	if pid <= 0 {
		t.Fatalf("no main pid (%d)", pid)
	}
	for _, cg := range m.Cgroups() {
		pids, err := cgroupPids(cg)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, p := range pids {
			found = found || p == pid
		}
		if !found {
			t.Fatalf("service pid %d not under %s (has %v)", pid, cg, pids)
		}
	}
}

func assertGone(t *testing.T, m *Manager, cgroups []string, servicePid int) {
	t.Helper()
	for _, cg := range cgroups {
		if _, err := os.Stat(cg); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cgroup %s still exists (%v)", cg, err)
		}
	}
	for _, pid := range []int{m.Pid(), servicePid} {
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && !isZombie(string(b)) {
			t.Errorf("pid %d still running: %s", pid, b)
		}
	}
	if pids := namespaceMembers(m.mntNS); len(pids) > 0 {
		t.Errorf("processes %v still in the manager's mount namespace", pids)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), "lmn-sdtest") {
		t.Errorf("sandbox mount visible in this namespace:\n%s", mounts)
	}
}

// isZombie reports whether a /proc/PID/stat line is of an exited process
// waiting for its parent (PID 1 here) to reap it.
func isZombie(stat string) bool {
	i := strings.LastIndexByte(stat, ')')
	return i >= 0 && strings.HasPrefix(stat[i+1:], " Z")
}

// TestGroup: a process started in a Group is in its cgroup2 directory and
// in its memory group under the limit; the cleanup kills it and removes
// both.
func TestGroup(t *testing.T) {
	var g *Group
	t.Run("use", func(t *testing.T) {
		g = NewGroup(t, 64<<20)
		cmd := exec.Command("/bin/sleep", "60")
		if err := g.Start(cmd); err != nil {
			t.Fatal(err)
		}
		go cmd.Wait()
		deadline := time.Now().Add(5 * time.Second)
		for {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", cmd.Process.Pid))
			if err != nil {
				t.Fatal(err)
			}
			inV1 := !g.MemoryV1 || strings.Contains(string(b), ":memory:/"+g.Name+"\n")
			if strings.Contains(string(b), "0::/"+g.Name+"\n") && inV1 {
				break // the shell moved itself into the memory group and exec'd sleep
			}
			if time.Now().After(deadline) {
				t.Fatalf("pid %d is in\n%s\nwant %s in the cgroup2 tree and the memory hierarchy", cmd.Process.Pid, b, g.Name)
			}
			time.Sleep(10 * time.Millisecond)
		}
		limit := "memory.max"
		if g.MemoryV1 {
			limit = "memory.limit_in_bytes"
		}
		if b, err := os.ReadFile(filepath.Join(g.Memory, limit)); err != nil || strings.TrimSpace(string(b)) != "67108864" {
			t.Errorf("%s: %q, %v", limit, b, err)
		}
	})
	if g == nil {
		return
	}
	for _, d := range []string{g.Unified, g.Memory} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after the test: %v", d, err)
		}
	}
}
