package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A dry-run replay of memory issues over samples that carry mem.top_units:
// the restart is planned for the largest unit the default unit policy
// allows (dbus.service is refused), a user's service when it is the
// largest, and the step is skipped with advice when the latest sample
// lists no unit.
func TestReplayTopMemoryUnitGolden(t *testing.T) {
	in := readFile(t, "testdata/replay_mem.ndjson")
	out, stderr, code := runWith(t, testConfig(t, "--dry-run"), in)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden(t, "replay_mem.golden", out)
	got := map[string][]string{}
	for _, h := range heals(t, out) {
		s := h.Action + ":" + h.Phase
		if u := h.Params["unit"]; u != "" {
			s += ":" + u
		}
		if h.Outcome != "" {
			s += ":" + h.Outcome
		}
		got[h.Issue] = append(got[h.Issue], s)
	}
	want := map[string]string{
		"mem":  "restart_unit:planned:postgresql.service restart_unit:verified:postgresql.service:recovered",
		"swap": "restart_unit:planned:syncthing.service restart_unit:verified:syncthing.service:not_recovered advise:advised",
		"mem2": "advise:advised",
	}
	for id, w := range want {
		if g := strings.Join(got[id], " "); g != w {
			t.Errorf("%s:\n got %s\nwant %s", id, g, w)
		}
	}
	if !strings.Contains(out, "step 1 (restart_unit) skipped: the stream gives no top_memory_unit") {
		t.Error("mem2's advice does not say why the restart was skipped")
	}
}

// A user service that owns the most memory is restarted by the
// unprivileged tier through systemctl --user, never the system manager.
// systemctl is a stand-in script that logs its arguments: PID 1 here is
// not systemd, and a real restart would touch the host.
func TestTopMemoryUserUnitUsesSystemctlUser(t *testing.T) {
	log := filepath.Join(t.TempDir(), "calls")
	cfg := testConfig(t, "--tiers", "unprivileged,advise")
	cfg.systemctl = []string{"sh", "-c", `echo system "$@" >> ` + log, "systemctl"}
	cfg.userctl = []string{"sh", "-c", `echo user "$@" >> ` + log, "systemctl"}
	var in []string
	for _, l := range strings.Split(string(readFile(t, "testdata/replay_mem.ndjson")), "\n") {
		if strings.Contains(l, `"id": "swap"`) || strings.Contains(l, `"seq":3,`) {
			in = append(in, l) // the user service's sample and issue only
		}
	}
	out, stderr, code := runWith(t, cfg, []byte(strings.Join(in, "\n")+"\n"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	calls, err := os.ReadFile(log)
	if err != nil {
		t.Fatalf("systemctl never ran: %v\n%s", err, out)
	}
	// The first call lists the unit's names (their aliases are checked).
	lines := strings.Split(strings.TrimSpace(string(calls)), "\n")
	if len(lines) > 0 && strings.Contains(lines[0], " show ") {
		lines = lines[1:]
	}
	f := strings.Fields(lines[0])
	if len(lines) != 1 || f[0] != "user" || !strings.Contains(lines[0], " restart ") || f[len(f)-1] != "syncthing.service" {
		t.Errorf("systemctl calls = %q, want one systemctl --user restart of syncthing.service", lines)
	}
	hs := heals(t, out)
	if len(hs) < 2 || hs[1].Phase != "succeeded" || hs[1].Tier != "unprivileged" {
		t.Errorf("heal records = %+v", hs)
	}
}
