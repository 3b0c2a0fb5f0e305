package heal

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/config"
	"github.com/lmn-heal/lmn/internal/record"
)

func TestUnitRecovered(t *testing.T) {
	h := newHarness(t, nil, false)
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit("a.service")))
	h.want("1:restart_unit:started")
	if len(h.jobs) != 1 || h.jobs[0].Params["unit"] != "a.service" || h.jobs[0].Scope != "system" {
		t.Fatalf("jobs = %+v", h.jobs)
	}
	h.complete(ok)
	h.observe(sampleLine(t, at(t, "1m")))
	h.observe(issueLine(t, at(t, "90s"), "unit_failed", record.StateResolved, record.SeverityWarning, unit("a.service")))
	h.want("1:restart_unit:started 1:restart_unit:succeeded")
	h.unitIs("active/running")
	h.want("1:restart_unit:started 1:restart_unit:succeeded 1:restart_unit:verified:recovered")
	last := h.recs[len(h.recs)-1]
	if last.UnitState != "active/running" {
		t.Errorf("verified record without the unit's state: %+v", last)
	}
	if !last.TS.Equal(at(t, "90s")) || last.Src != Src || last.Kind != record.KindHeal {
		t.Errorf("header = %+v", last.Header)
	}
	if s := h.recs[1]; s.Tier != record.TierUnprivileged || s.DurationMS == nil || *s.DurationMS != 10 || s.Attempt != 1 {
		t.Errorf("succeeded record = %+v", s)
	}
	// Nothing more happens once it is resolved.
	h.observe(sampleLine(t, at(t, "1h")))
	if len(h.recs) != 3 || len(h.jobs) != 0 {
		t.Errorf("after resolve: %s, %d jobs", h.phases(), len(h.jobs))
	}
}

func TestLadderNotRecovered(t *testing.T) {
	h := newHarness(t, nil, false)
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit("a.service")))
	h.complete(ok)
	h.observe(sampleLine(t, at(t, "1m59s")))
	h.want("1:restart_unit:started 1:restart_unit:succeeded")
	h.observe(sampleLine(t, at(t, "2m")))
	h.want("1:restart_unit:started 1:restart_unit:succeeded 1:restart_unit:verified:not_recovered 2:reset_failed_unit:started")
	h.complete(ok)
	h.want("1:restart_unit:started 1:restart_unit:succeeded 1:restart_unit:verified:not_recovered 2:reset_failed_unit:started 2:reset_failed_unit:succeeded 2:restart_unit:started")
	h.complete(ok)
	h.observe(sampleLine(t, at(t, "4m")))
	got := h.phases()
	if !strings.HasSuffix(got, "2:restart_unit:succeeded 2:restart_unit:verified:not_recovered 3:advise:advised") {
		t.Fatalf("records: %s", got)
	}
	adv := h.recs[len(h.recs)-1]
	if adv.Tier != record.TierAdvise || !strings.Contains(adv.Advice, "a.service keeps failing") {
		t.Errorf("advice record = %+v", adv)
	}
	if a := h.recs[len(h.recs)-3]; a.Attempt != 2 {
		t.Errorf("second restart attempt = %d, want 2", a.Attempt)
	}
	// The ladder is done: more samples change nothing.
	n := len(h.recs)
	h.observe(sampleLine(t, at(t, "3h")))
	if len(h.recs) != n || len(h.all) != 3 {
		t.Errorf("after advice: %s", h.phases())
	}
}

func TestFailedActionGoesToNextStep(t *testing.T) {
	h := newHarness(t, nil, false)
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit("a.service")))
	h.complete(Result{Tier: "", Denied: map[string]string{"privd": "no socket"}, Err: "exit status 1"})
	h.want("1:restart_unit:started 1:restart_unit:failed")
	if r := h.recs[1]; r.Error != "exit status 1" || r.Denied["privd"] != "no socket" {
		t.Errorf("failed record = %+v", r)
	}
	// Step 2 restarts the unit too: it starts once restart_unit's
	// backoff (30s after the first attempt) has passed.
	h.observe(sampleLine(t, at(t, "30s")))
	h.want("1:restart_unit:started 1:restart_unit:failed 2:reset_failed_unit:started")
}

// TestStepStartsWhole: a step's actions start together or not at all. The
// old engine ran step 2's reset-failed at once while its restart waited
// out the restart's backoff: the unit was inactive instead of failed, the
// issue resolved, and the dead unit was forgotten.
func TestStepStartsWhole(t *testing.T) {
	h := newHarness(t, nil, false)
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit("a.service")))
	h.complete(Result{Tier: record.TierUnprivileged, Err: "Job for a.service failed"})
	for _, d := range []string{"1s", "10s", "29s"} {
		h.observe(sampleLine(t, at(t, d)))
		if len(h.jobs) != 0 {
			t.Fatalf("at %s, within restart_unit's backoff, step 2 started %+v", d, h.jobs)
		}
	}
	h.observe(sampleLine(t, at(t, "30s")))
	h.complete(ok) // reset-failed
	if len(h.jobs) != 1 || h.jobs[0].Action != "restart_unit" {
		t.Fatalf("the restart did not follow the reset-failed at once: %+v", h.jobs)
	}
	// The reset-failed alone clears the failed list: the issue resolves
	// while the restart runs. The unit's real state decides.
	h.observe(issueLine(t, at(t, "31s"), "unit_failed", record.StateResolved, record.SeverityWarning, unit("a.service")))
	h.complete(Result{Tier: record.TierUnprivileged, Err: "Job for a.service failed"})
	h.unitIs("failed/failed")
	h.want("1:restart_unit:started 1:restart_unit:failed 2:reset_failed_unit:started 2:reset_failed_unit:succeeded " +
		"2:restart_unit:started 2:restart_unit:failed 2:restart_unit:verified:not_recovered 2:advise:advised")
	if a := h.recs[len(h.recs)-1].Advice; !strings.Contains(a, "a.service is failed/failed after lmn acted on it") {
		t.Errorf("advice %q", a)
	}
	if len(h.e.issues) != 0 {
		t.Errorf("still tracked after the issue resolved and the step failed: %+v", h.e.issues)
	}
}

// TestResolvedButDown: the issue resolves after a successful restart, but
// the unit is not running (it exited cleanly, or reset-failed cleared
// it): reported down with advice, never recovered.
func TestResolvedButDown(t *testing.T) {
	h := newHarness(t, nil, false)
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit("a.service")))
	h.complete(ok)
	h.observe(issueLine(t, at(t, "5s"), "unit_failed", record.StateResolved, record.SeverityWarning, unit("a.service")))
	h.unitIs("inactive/dead")
	h.want("1:restart_unit:started 1:restart_unit:succeeded 1:restart_unit:verified:not_recovered 1:advise:advised")
	adv := h.recs[len(h.recs)-1]
	for _, want := range []string{"a.service is inactive/dead after lmn acted on it", "to retry by hand: cmd restart_unit"} {
		if !strings.Contains(adv.Advice, want) {
			t.Errorf("advice %q lacks %q", adv.Advice, want)
		}
	}
	if v := h.recs[2]; v.UnitState != "inactive/dead" {
		t.Errorf("verified record %+v", v)
	}
	// The unit state cannot be read: the stream's word stands.
	h = newHarness(t, nil, false)
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit("a.service")))
	h.complete(ok)
	h.observe(issueLine(t, at(t, "5s"), "unit_failed", record.StateResolved, record.SeverityWarning, unit("a.service")))
	h.complete(Result{Err: "systemctl: not found"})
	h.want("1:restart_unit:started 1:restart_unit:succeeded 1:restart_unit:verified:recovered")
	if v := h.recs[2]; !strings.Contains(v.Error, "unit state not read") {
		t.Errorf("verified record %+v", v)
	}
}

func TestAdviseTierEndsLadder(t *testing.T) {
	h := newHarness(t, nil, false)
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit("a.service")))
	h.complete(Result{Tier: record.TierAdvise, Denied: map[string]string{"unprivileged": "permission denied"}, Advice: "sudo systemctl restart a.service"})
	h.observe(sampleLine(t, at(t, "1h")))
	h.want("1:restart_unit:started 1:restart_unit:advised")
	r := h.recs[1]
	if r.Advice != "sudo systemctl restart a.service" || r.Tier != record.TierAdvise || r.Denied["unprivileged"] == "" {
		t.Errorf("advised record = %+v", r)
	}
	// An advised action was not an attempt.
	if n := h.e.attempts("restart_unit unit:a.service"); n != 0 {
		t.Errorf("attempts after advice = %d", n)
	}
	if len(h.e.st.Budget) != 0 {
		t.Errorf("budget after advice = %v", h.e.st.Budget)
	}
}

func TestWorse(t *testing.T) {
	h := newHarness(t, nil, false)
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit("a.service")))
	h.complete(ok)
	h.observe(issueLine(t, at(t, "30s"), "unit_failed", record.StateFiring, record.SeverityCritical, unit("a.service")))
	h.want("1:restart_unit:started 1:restart_unit:succeeded 1:restart_unit:verified:worse 3:advise:advised")
}

func TestWorseWhileRunning(t *testing.T) {
	h := newHarness(t, nil, false)
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit("a.service")))
	h.observe(issueLine(t, at(t, "1s"), "unit_failed", record.StateFiring, record.SeverityCritical, unit("a.service")))
	h.complete(ok)
	h.want("1:restart_unit:started 1:restart_unit:succeeded 1:restart_unit:verified:worse 3:advise:advised")
}

func TestResolvedWhileRunning(t *testing.T) {
	h := newHarness(t, nil, false)
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit("a.service")))
	h.observe(issueLine(t, at(t, "1s"), "unit_failed", record.StateResolved, record.SeverityWarning, unit("a.service")))
	h.complete(ok)
	h.unitIs("active/running")
	h.want("1:restart_unit:started 1:restart_unit:succeeded 1:restart_unit:verified:recovered")
	if len(h.e.issues) != 0 {
		t.Errorf("issue still tracked: %+v", h.e.issues)
	}
}

// shortPolicy is a policy with a ladder of n restarts and a small breaker.
func shortPolicy(n, maxAttempts int) *Policy {
	p := DefaultPolicy()
	p.Breaker = Breaker{MaxAttempts: maxAttempts, Window: config.Duration(30 * time.Minute), Backoff: config.Duration(10 * time.Second),
		MaxBackoff: config.Duration(time.Minute), Cooldown: config.Duration(10 * time.Minute), ResetAfter: config.Duration(time.Hour),
		HealthyUptime: config.Duration(30 * time.Second)}
	var steps []Step
	for range n {
		steps = append(steps, Step{Actions: []Act{{Action: "restart_unit", Params: map[string]string{"unit": "{{unit}}"}}}, Verify: config.Duration(time.Minute)})
	}
	p.Ladders = []Ladder{{Name: "u", Rules: []string{"unit_failed"}, Steps: steps, Advice: "fix {{unit}}"}}
	return p
}

func TestBreakerGivesUpThenHalfOpen(t *testing.T) {
	h := newHarness(t, shortPolicy(5, 2), false)
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit("a.service")))
	h.complete(ok)
	h.observe(sampleLine(t, at(t, "1m")))
	h.complete(ok)
	h.observe(sampleLine(t, at(t, "2m")))
	h.want("1:restart_unit:started 1:restart_unit:succeeded 1:restart_unit:verified:not_recovered " +
		"2:restart_unit:started 2:restart_unit:succeeded 2:restart_unit:verified:not_recovered 3:restart_unit:gave_up")
	g := h.recs[len(h.recs)-1]
	if g.RetryAt == nil || !g.RetryAt.Equal(at(t, "12m")) || !strings.Contains(g.Advice, "fix a.service") || g.Attempt != 2 {
		t.Fatalf("gave_up record = %+v", g)
	}
	// Nothing until the cool-down has passed.
	h.observe(sampleLine(t, at(t, "11m59s")))
	if len(h.jobs) != 0 {
		t.Fatal("job started before the cool-down")
	}
	n := len(h.recs)
	h.observe(sampleLine(t, at(t, "12m")))
	if len(h.jobs) != 1 || h.recs[n].Phase != record.PhaseStarted || h.recs[n].Step != 3 {
		t.Fatalf("no half-open retry: %s", h.phases())
	}
	h.complete(ok)
	h.observe(sampleLine(t, at(t, "13m")))
	// The retry did not help: open again, for twice as long.
	g = h.recs[len(h.recs)-1]
	if g.Phase != record.PhaseGaveUp || g.Step != 4 || !g.RetryAt.Equal(at(t, "33m")) {
		t.Fatalf("after failed retry: %s; last %+v", h.phases(), g)
	}
	if len(h.all) != 3 {
		t.Errorf("actions run = %d, want 3", len(h.all))
	}
}

func TestBreakerCountsAcrossRefires(t *testing.T) {
	// A unit that recovers after each restart and fails again: the
	// crash loop trips the breaker although each restart "worked".
	h := newHarness(t, shortPolicy(1, 3), false)
	fire := func(d string) {
		h.observe(issueLine(t, at(t, d), "unit_failed", record.StateFiring, record.SeverityWarning, unit("a.service")))
	}
	resolve := func(d string) {
		h.observe(issueLine(t, at(t, d), "unit_failed", record.StateResolved, record.SeverityWarning, unit("a.service")))
		if len(h.jobs) > 0 {
			h.unitIs("active/running")
		}
	}
	fire("0s")
	h.complete(ok)
	resolve("5s")
	fire("6s") // backoff: 10s after the first attempt
	if len(h.jobs) != 0 {
		t.Fatal("restarted within the backoff")
	}
	h.observe(sampleLine(t, at(t, "10s")))
	h.complete(ok)
	resolve("15s")
	fire("16s")
	h.observe(sampleLine(t, at(t, "29s"))) // backoff after 2 attempts: 20s
	if len(h.jobs) != 0 {
		t.Fatal("restarted within the doubled backoff")
	}
	h.observe(sampleLine(t, at(t, "30s")))
	h.complete(ok)
	resolve("35s")
	fire("36s")
	h.observe(sampleLine(t, at(t, "5m")))
	last := h.recs[len(h.recs)-1]
	if last.Phase != record.PhaseGaveUp || restarts(h) != 3 {
		t.Fatalf("records: %s", h.phases())
	}
	for i, want := range []float64{-1, 1, 1} { // up 1s after each restart; the first has none before it
		if got := startedUptime(h, i); got != want {
			t.Errorf("restart %d: uptime_seconds %v, want %v", i+1, got, want)
		}
	}
	// A healthy hour resets the breaker.
	resolve("6m")
	h.observe(sampleLine(t, at(t, "2h")))
	if len(h.e.st.Breakers) != 0 {
		t.Errorf("breakers not reset: %+v", h.e.st.Breakers)
	}
	fire("2h1m")
	if len(h.jobs) != 1 {
		t.Errorf("no restart after the reset: %s", h.phases())
	}
}

func TestConcurrencyAndSubjects(t *testing.T) {
	h := newHarness(t, nil, false)
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit("a.service")))
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit("b.service")))
	if len(h.jobs) != 1 {
		t.Fatalf("jobs = %d, want 1 (concurrency 1)", len(h.jobs))
	}
	j := h.complete(ok)
	if j.Params["unit"] != "a.service" || len(h.jobs) != 1 || h.jobs[0].Params["unit"] != "b.service" {
		t.Fatalf("second job did not follow the first: %+v", h.jobs)
	}
}

func TestStorm(t *testing.T) {
	// 1000 identical records of one issue, then 1000 distinct failed
	// units at once: no more actions than the bounds allow.
	h := newHarness(t, nil, false)
	for range 1000 {
		h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit("same.service")))
	}
	if len(h.all) != 1 {
		t.Fatalf("identical storm ran %d actions, want 1", len(h.all))
	}
	for i := range 1000 {
		h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit(fmt.Sprintf("u%d.service", i))))
	}
	maxInFlight := 0
	for i := 0; len(h.jobs) > 0 && i < 5000; i++ {
		maxInFlight = max(maxInFlight, len(h.jobs))
		h.complete(ok)
	}
	h.observe(sampleLine(t, at(t, "10m")))
	for len(h.jobs) > 0 {
		maxInFlight = max(maxInFlight, len(h.jobs))
		h.complete(ok)
	}
	p := DefaultPolicy()
	if maxInFlight > p.Concurrency {
		t.Errorf("in flight at once = %d, want ≤ %d", maxInFlight, p.Concurrency)
	}
	if len(h.all) > p.Budget.MaxActions {
		t.Errorf("storm ran %d actions, budget %d", len(h.all), p.Budget.MaxActions)
	}
	if len(h.all) != p.Budget.MaxActions {
		t.Errorf("storm ran %d actions, want the whole budget %d used", len(h.all), p.Budget.MaxActions)
	}
}

func TestRestoreGovernor(t *testing.T) {
	h := newHarness(t, nil, false)
	sensor := map[string]string{"sensor": "thermal_zone0"}
	h.observe(issueLine(t, t0, "temperature", record.StateFiring, record.SeverityWarning, sensor))
	if !h.e.Dirty() {
		t.Error("save before the action not requested")
	}
	if _, ok := h.e.st.Saved["set_cpu_governor"]; !ok {
		t.Fatal("change not recorded before the action")
	}
	undo := &Request{Action: "set_cpu_governor", Params: map[string]string{"policy": "policy0:schedutil"}}
	h.complete(Result{Tier: record.TierPrivd, Undo: undo})
	h.observe(issueLine(t, at(t, "1m"), "temperature", record.StateResolved, record.SeverityWarning, sensor))
	h.observe(sampleLine(t, at(t, "5m")))
	if len(h.jobs) != 0 {
		t.Fatal("restored before the quiet period")
	}
	// Fires again within the quiet period: the restore waits.
	h.observe(issueLine(t, at(t, "5m30s"), "temperature", record.StateFiring, record.SeverityWarning, sensor))
	h.observe(issueLine(t, at(t, "6m30s"), "temperature", record.StateResolved, record.SeverityWarning, sensor))
	h.observe(sampleLine(t, at(t, "7m")))
	for len(h.jobs) > 0 && !h.jobs[0].Undo { // the second powersave
		h.complete(Result{Tier: record.TierPrivd, Undo: &Request{Action: "set_cpu_governor", Params: map[string]string{"policy": "policy0:powersave"}}})
	}
	h.observe(sampleLine(t, at(t, "11m29s")))
	if len(h.jobs) != 0 {
		t.Fatalf("restored before quiet after the refire: %s", h.phases())
	}
	h.observe(sampleLine(t, at(t, "11m30s")))
	if len(h.jobs) != 1 || !h.jobs[0].Undo || h.jobs[0].Params["policy"] != "policy0:schedutil" {
		t.Fatalf("restore job = %+v (records %s)", h.jobs, h.phases())
	}
	h.complete(Result{Tier: record.TierPrivd})
	last := h.recs[len(h.recs)-1]
	if last.Phase != record.PhaseRestored || last.Params["policy"] != "policy0:schedutil" || last.Issue == "" {
		t.Errorf("restored record = %+v", last)
	}
	if len(h.e.st.Saved) != 0 {
		t.Errorf("saved left: %+v", h.e.st.Saved)
	}
}

func TestSkippedStepAdvises(t *testing.T) {
	h := newHarness(t, nil, false)
	h.observe(issueLine(t, t0, "mem_pressure", record.StateFiring, record.SeverityWarning, map[string]string{}))
	h.want("2:advise:advised")
	if a := h.recs[0].Advice; !strings.Contains(a, "skipped: the stream shows no unit whose own cgroup is under memory pressure") {
		t.Errorf("advice = %q", a)
	}
	if len(h.all) != 0 {
		t.Errorf("jobs = %+v", h.all)
	}
}

func TestLadderByFacts(t *testing.T) {
	for _, tc := range []struct {
		mount record.Mount
		want  string
	}{
		{record.Mount{Mount: "/", UsedRatio: 0.95, HoldsNixStore: true, HoldsVarLog: true}, "nix_gc"},
		{record.Mount{Mount: "/", UsedRatio: 0.95, HoldsVarLog: true}, "journal_vacuum"},
		{record.Mount{Mount: "/", UsedRatio: 0.95}, "advise"},
	} {
		h := newHarness(t, nil, false)
		h.observe(sampleLine(t, t0, tc.mount))
		h.observe(issueLineSince(t, at(t, "11m"), t0, "disk_usage", record.SeverityCritical, map[string]string{"mount": "/"}))
		if len(h.recs) == 0 || h.recs[0].Action != tc.want {
			t.Errorf("%+v: records %s, want %s first", tc.mount, h.phases(), tc.want)
		}
	}
}

func TestDryRun(t *testing.T) {
	h := newHarness(t, nil, true)
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit("a.service")))
	h.observe(sampleLine(t, at(t, "2m")))
	h.observe(sampleLine(t, at(t, "4m")))
	h.want("1:restart_unit:planned 1:restart_unit:verified:not_recovered 2:reset_failed_unit:planned 2:restart_unit:planned 2:restart_unit:verified:not_recovered 3:advise:advised")
	if len(h.all) != 0 {
		t.Errorf("dry run handed out jobs: %+v", h.all)
	}
	for _, r := range h.recs {
		if r.DurationMS != nil || r.Tier != "" && r.Phase != record.PhaseAdvised {
			t.Errorf("dry-run record claims it ran: %+v", r)
		}
	}
}

func TestUserScopeTarget(t *testing.T) {
	h := newHarness(t, nil, false)
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, map[string]string{"unit": "a.service", "scope": "user"}))
	if len(h.jobs) != 1 || h.jobs[0].Scope != "user" {
		t.Fatalf("jobs = %+v", h.jobs)
	}
	if _, ok := h.e.busy["user:unit:a.service"]; !ok {
		t.Errorf("user unit target not scoped: %v", h.e.busy)
	}
}

func TestRestoreWaitsForSlowAction(t *testing.T) {
	// The issue resolves while its governor change is still running, and
	// restore_after passes before the action reports: the saved value
	// must survive until it does.
	h := newHarness(t, nil, false)
	sensor := map[string]string{"sensor": "thermal_zone0"}
	h.observe(issueLine(t, t0, "temperature", record.StateFiring, record.SeverityWarning, sensor))
	h.observe(issueLine(t, at(t, "1s"), "temperature", record.StateResolved, record.SeverityWarning, sensor))
	h.observe(sampleLine(t, at(t, "10m")))
	undo := &Request{Action: "set_cpu_governor", Params: map[string]string{"policy": "policy0:schedutil"}}
	h.complete(Result{Tier: record.TierPrivd, Undo: undo})
	h.observe(sampleLine(t, at(t, "11m")))
	if len(h.jobs) != 1 || !h.jobs[0].Undo {
		t.Fatalf("no restore after the slow action: jobs %+v, records %s", h.jobs, h.phases())
	}
}

// TestFailedAgainGoesOn: the restart of step 1 fails, and the stream saw
// the unit between its failures as no longer failed (events show every
// state). The unit is failed again: step 2 runs, not advice.
func TestFailedAgainGoesOn(t *testing.T) {
	h := newHarness(t, nil, false)
	a := unit("a.service")
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, a))
	h.observe(issueLine(t, at(t, "30ms"), "unit_failed", record.StateResolved, record.SeverityWarning, a))
	h.complete(Result{Tier: record.TierUnprivileged, Err: "Job for a.service failed"})
	h.unitIs("failed/failed")
	h.observe(issueLineSince(t, at(t, "60ms"), at(t, "60ms"), "unit_failed", record.SeverityWarning, a))
	h.observe(sampleLine(t, at(t, "31s"))) // past restart_unit's backoff
	h.want("1:restart_unit:started 1:restart_unit:failed 1:restart_unit:verified:not_recovered 2:reset_failed_unit:started")
}
