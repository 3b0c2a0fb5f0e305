package heal

import (
	"strings"
	"testing"

	"github.com/lmn-heal/lmn/internal/record"
)

var testPause = &Pause{File: "/run/luminous/pause", Reason: "maintenance", Since: t0}

func TestPauseHoldsEveryActionAndResumes(t *testing.T) {
	h := newHarness(t, nil, false)
	h.e.SetPause(testPause)
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit("a.service")))
	h.observe(sampleLine(t, at(t, "10s")))
	h.observe(sampleLine(t, at(t, "20s")))
	h.want("1:restart_unit:held")
	if len(h.all) != 0 {
		t.Fatalf("jobs handed out while paused: %+v", h.all)
	}
	held := h.recs[0]
	if !strings.Contains(held.Error, "/run/luminous/pause exists") || !strings.Contains(held.Error, "maintenance") ||
		!strings.Contains(held.Advice, "remove /run/luminous/pause") || held.Params["unit"] != "a.service" {
		t.Errorf("held record %+v", held)
	}
	h.e.SetPause(nil)
	h.drain()
	h.want("1:restart_unit:held 1:restart_unit:started")
	if len(h.jobs) != 1 {
		t.Fatalf("resume handed out %d jobs, want 1", len(h.jobs))
	}
}

func TestPauseMidLadderHoldsTheNextStep(t *testing.T) {
	h := newHarness(t, nil, false)
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit("a.service")))
	h.complete(ok)
	h.e.SetPause(testPause)
	h.drain()
	h.observe(sampleLine(t, at(t, "3m"))) // the first step's window ends
	h.want("1:restart_unit:started 1:restart_unit:succeeded 1:restart_unit:verified:not_recovered 2:reset_failed_unit:held")
	h.observe(sampleLine(t, at(t, "4m")))
	if len(h.jobs) != 0 || len(h.recs) != 4 {
		t.Fatalf("while paused: %s, %d jobs", h.phases(), len(h.jobs))
	}
	// An issue that resolves while held is simply gone.
	h.observe(issueLine(t, at(t, "5m"), "unit_failed", record.StateResolved, record.SeverityWarning, unit("a.service")))
	h.e.SetPause(nil)
	h.drain()
	if len(h.jobs) != 0 {
		t.Errorf("a resolved issue started %+v on resume", h.jobs)
	}
}

func TestHoldTakesBackAJobNotRun(t *testing.T) {
	h := newHarness(t, nil, false)
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit("a.service")))
	j := h.jobs[0]
	h.jobs = nil
	h.e.Hold(j.ID, testPause) // the caller saw the pause file before running it
	h.drain()
	h.want("1:restart_unit:started 1:restart_unit:held")
	if h.e.Running() != 0 || len(h.jobs) != 0 {
		t.Fatalf("running %d, jobs %+v", h.e.Running(), h.jobs)
	}
	h.e.SetPause(nil)
	h.drain()
	h.want("1:restart_unit:started 1:restart_unit:held 1:restart_unit:started")
	if a := h.recs[2].Attempt; a != 1 {
		t.Errorf("the held attempt was counted: attempt %d, want 1", a)
	}
}
