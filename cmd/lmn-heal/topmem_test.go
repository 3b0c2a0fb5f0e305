package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A dry-run replay of memory issues over samples that carry mem.top_units
// (memory use only): no unit is restarted, the largest least of all; each
// ladder advises and says why.
func TestReplayMemoryGolden(t *testing.T) {
	in := readFile(t, "testdata/replay_mem.ndjson")
	out, stderr, code := runWith(t, testConfig(t, "--dry-run"), in)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden(t, "replay_mem.golden", out)
	got := map[string][]string{}
	for _, h := range heals(t, out) {
		got[h.Issue] = append(got[h.Issue], h.Action+":"+h.Phase)
	}
	for _, id := range []string{"mem", "swap", "mem2"} {
		if g := strings.Join(got[id], " "); g != "advise:advised" {
			t.Errorf("%s: %s, want advise:advised", id, g)
		}
	}
	if n := strings.Count(out, "skipped: the stream shows no unit whose own cgroup is under memory pressure"); n != 3 {
		t.Errorf("%d advice records say why the restart was skipped, want 3", n)
	}
}

// TestMemoryPressureRestartsNothing: memory pressure next to a large idle
// service used to restart it (redis, 409 600 keys lost). With the samples
// saying nothing of each unit's own pressure, lmn-heal runs no systemctl
// at all. systemctl is a stand-in script that logs its arguments: PID 1
// here is not systemd, and a real restart would touch the host
// (e2e.TestMemoryPressureSparesRedis runs the real daemon).
func TestMemoryPressureRestartsNothing(t *testing.T) {
	log := filepath.Join(t.TempDir(), "calls")
	cfg := testConfig(t, "--tiers", "unprivileged,advise")
	cfg.systemctl = []string{"sh", "-c", `echo system "$@" >> ` + log, "systemctl"}
	cfg.userctl = []string{"sh", "-c", `echo user "$@" >> ` + log, "systemctl"}
	out, stderr, code := runWith(t, cfg, readFile(t, "testdata/replay_mem.ndjson"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if calls, err := os.ReadFile(log); err == nil {
		t.Errorf("systemctl ran: %s", calls)
	}
	for _, h := range heals(t, out) {
		if h.Phase != "advised" {
			t.Errorf("heal record %+v", h)
		}
	}
}
