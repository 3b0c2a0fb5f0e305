package heal

import (
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

func redisProbe(scope string) map[string]string {
	return map[string]string{"probe": "redis", "unit": "redis.service", "scope": scope}
}

// probeSampleLine is a sample at ts whose probes group holds redis's
// latest result, checked at checked.
func probeSampleLine(t testing.TB, ts, checked time.Time, ok bool, streak int) record.Line {
	t.Helper()
	r := record.ProbeResult{Name: "redis", Unit: "redis.service", Scope: "system", Kind: "tcp", OK: ok, Streak: streak,
		CheckedAt: record.Time{Time: checked}}
	if !ok {
		r.Error = "timeout after 2s"
	}
	s := record.Sample{Header: record.NewHeader(record.KindSample, "lmn-collect", "h", ts), Probes: []record.ProbeResult{r}}
	return lineOfRecord(t, s, record.KindSample)
}

// A hung service's probe fails: its unit is restarted in its scope, and
// the step is recovered once the probe passes again (the issue resolves)
// and the unit runs; the verified record carries the probe's result.
func TestProbeFailedRestarts(t *testing.T) {
	h := newHarness(t, nil, false)
	subj := redisProbe("user")
	h.observe(probeSampleLine(t, t0, t0, false, 3))
	h.observe(issueLine(t, t0, "probe_failed", record.StateFiring, record.SeverityWarning, subj))
	j := h.complete(ok)
	if j.Action != "restart_unit" || j.Params["unit"] != "redis.service" || j.Scope != "user" {
		t.Fatalf("job %+v", j)
	}
	h.observe(probeSampleLine(t, at(t, "3s"), at(t, "3s"), true, 2))
	h.observe(issueLine(t, at(t, "3s"), "probe_failed", record.StateResolved, record.SeverityWarning, subj))
	h.unitIs("active/running")
	h.want("1:restart_unit:started 1:restart_unit:succeeded 1:restart_unit:verified:recovered")
	v := h.recs[2]
	if v.Probe == nil || !v.Probe.OK || v.Probe.Name != "redis" || v.Probe.Streak != 2 || v.UnitState != "active/running" {
		t.Errorf("verified %+v, probe %+v", v, v.Probe)
	}
}

// A probe that names no unit: advice only, nothing runs.
func TestProbeWithoutUnitAdvises(t *testing.T) {
	h := newHarness(t, nil, false)
	h.observe(issueLine(t, t0, "probe_failed", record.StateFiring, record.SeverityWarning, map[string]string{"probe": "upstream"}))
	h.want("1:advise:advised")
	if len(h.all) != 0 || !strings.Contains(h.recs[0].Advice, "probe upstream fails and names no unit") {
		t.Errorf("jobs %+v, advice %q", h.all, h.recs[0].Advice)
	}
}

// Held firing by lmn-detect's flapping hold at the end of the window, a
// probe's issue is not recovered because its unit runs: the probe must
// have passed since the step acted. (Before, a unit that was up was
// enough, as it is for unit_failed.)
func TestProbeHeldFiringNeedsTheProbe(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ok      bool
		checked string
		want    string
	}{
		{"the probe still fails", false, "1m", "verified:not_recovered 2:reset_failed_unit:started"},
		{"its last pass is from before the restart", true, "-1s", "verified:not_recovered 2:reset_failed_unit:started"},
		{"it passed after the restart", true, "1m", "verified:recovered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, false)
			subj := redisProbe("system")
			h.observe(flappingIssue(t, t0, t0, "probe_failed", subj))
			h.complete(ok)
			h.observe(probeSampleLine(t, at(t, "2m"), at(t, tc.checked), tc.ok, 4))
			h.unitIs("active/running")
			got := h.phases()
			if !strings.Contains(got, "1:restart_unit:"+tc.want) {
				t.Errorf("records %s, want …%s", got, tc.want)
			}
			v := h.recs[2]
			if v.Probe == nil || v.Probe.OK != tc.ok {
				t.Errorf("verified %+v carries probe %+v", v, v.Probe)
			}
			if !tc.ok && !strings.Contains(v.Error, "probe redis has not passed since the step acted") {
				t.Errorf("verified error %q", v.Error)
			}
		})
	}
}

// Restarts for a failing probe and for a failed unit share the breaker of
// (restart_unit, the unit): a unit never up in between is one streak, and
// the third reason to restart it within the window trips it.
func TestProbeSharesTheBreaker(t *testing.T) {
	h := newHarness(t, nil, false)
	u := unit("redis.service")
	probe := redisProbe("system")
	h.observe(issueLine(t, t0, "probe_failed", record.StateFiring, record.SeverityWarning, probe))
	h.complete(ok) // attempt 1
	h.observe(issueLine(t, at(t, "5s"), "probe_failed", record.StateResolved, record.SeverityWarning, probe))
	h.unitIs("active/running")
	h.observe(issueLine(t, at(t, "10s"), "unit_failed", record.StateFiring, record.SeverityWarning, u))
	if len(h.jobs) != 0 {
		t.Fatalf("restarted at once after 5 s up: %+v", h.jobs)
	}
	h.observe(sampleLine(t, at(t, "31s"))) // the backoff after attempt 1
	j := h.complete(ok)
	if r := h.recs[len(h.recs)-2]; j.Action != "restart_unit" || r.Phase != record.PhaseStarted || r.Attempt != 2 {
		t.Fatalf("unit_failed's restart %+v: want attempt 2 of the probe's streak", r)
	}
}

// A unit near its own memory limit is restarted gracefully (restart_unit:
// systemd's stop, SIGTERM first) in its scope; an OOM kill is advised on,
// naming the unit.
func TestUnitMemoryLadders(t *testing.T) {
	h := newHarness(t, nil, false)
	subj := map[string]string{"unit": "redis.service", "scope": "user"}
	h.observe(issueLine(t, t0, "unit_memory_near_limit", record.StateFiring, record.SeverityWarning, subj))
	j := h.complete(ok)
	if j.Action != "restart_unit" || j.Params["unit"] != "redis.service" || j.Scope != "user" {
		t.Fatalf("job %+v", j)
	}
	h.observe(issueLine(t, at(t, "20s"), "unit_memory_near_limit", record.StateResolved, record.SeverityWarning, subj))
	h.unitIs("active/running")
	h.observe(issueLine(t, at(t, "1m"), "unit_memory_pressure", record.StateFiring, record.SeverityCritical, subj))
	if len(h.jobs) != 1 || h.jobs[0].Action != "restart_unit" {
		t.Errorf("unit_memory_pressure: jobs %+v", h.jobs)
	}
	o := newHarness(t, nil, false)
	o.observe(issueLine(t, t0, "unit_oom_killed", record.StateFiring, record.SeverityWarning, subj))
	o.want("1:advise:advised")
	if a := o.recs[0].Advice; len(o.all) != 0 || !strings.Contains(a, "killed a process of redis.service (user)") ||
		!strings.Contains(a, "journalctl --user -u redis.service") {
		t.Errorf("jobs %+v, advice %q", o.all, a)
	}
}

// dns_failure finally has a rule behind it: the dns ladder flushes the
// resolver's caches.
func TestDNSFailureFlushes(t *testing.T) {
	h := newHarness(t, nil, false)
	h.observe(issueLine(t, t0, "dns_failure", record.StateFiring, record.SeverityWarning, map[string]string{"probe": "resolver"}))
	if j := h.complete(ok); j.Action != "flush_dns" {
		t.Errorf("job %+v", j)
	}
}

// A probe's issue that came back while held firing (a later since) was
// healed by the step until then: recovered, without the new failure's
// result, which the verdict does not rest on.
func TestProbeBackWhileHeld(t *testing.T) {
	h := newHarness(t, nil, false)
	subj := redisProbe("system")
	h.observe(flappingIssue(t, t0, t0, "probe_failed", subj))
	h.complete(ok)
	h.observe(probeSampleLine(t, at(t, "20s"), at(t, "20s"), false, 1))
	h.observe(flappingIssue(t, at(t, "22s"), at(t, "20s"), "probe_failed", subj))
	if got := h.phases(); !strings.HasPrefix(got, "1:restart_unit:started 1:restart_unit:succeeded 1:restart_unit:verified:recovered") {
		t.Fatalf("records %s", got)
	}
	if v := h.recs[2]; v.Probe != nil || !strings.Contains(v.Error, "came back while held firing") {
		t.Errorf("verified %+v carries probe %+v", v, v.Probe)
	}
}
