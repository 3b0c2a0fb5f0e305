package heal

import (
	"errors"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

func startLine(t testing.TB, ts time.Time) record.Line {
	t.Helper()
	return lineOfRecord(t, record.Start{Header: record.NewHeader(record.KindStart, "lmn-detect", "h", ts), Version: "dev"}, record.KindStart)
}

// TestReplayKeepsTheRecordsTime: replaying a recorded stream, lmn-detect's
// fresh start record carries today's time. It used to move the clock to
// today, past every record of the recording, so no verification window
// ever ended (1 heal record instead of 6).
func TestReplayKeepsTheRecordsTime(t *testing.T) {
	h := newHarness(t, nil, true)
	today := t0.Add(32 * 24 * time.Hour)
	h.observe(startLine(t, today))
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit("a.service")))
	for s := 1; s <= 300; s++ {
		h.observe(sampleLine(t, t0.Add(time.Duration(s)*time.Second)))
	}
	h.want("1:restart_unit:planned 1:restart_unit:verified:not_recovered 2:reset_failed_unit:planned 2:restart_unit:planned 2:restart_unit:verified:not_recovered 3:advise:advised")
	if !h.e.Now().Equal(at(t, "5m")) {
		t.Errorf("clock %v, want the recording's last time", h.e.Now())
	}
	for _, r := range h.recs {
		if r.TS.After(at(t, "5m")) {
			t.Errorf("heal record stamped %v, after the recording", r.TS.Time)
		}
	}
}

// wallHarness is a harness whose machine clock the test sets.
func wallHarness(t *testing.T, wall *time.Time) *harness {
	h := newHarness(t, nil, false)
	h.e.cfg.Wall = func() time.Time { return *wall }
	return h
}

// TestFutureRecordDoesNotStopHealing: one record dated 2099 used to move
// the clock for good, and every later record was in its past: 0 actions
// for 180 failing units in 3 hours. It is reported and does not move the
// clock.
func TestFutureRecordDoesNotStopHealing(t *testing.T) {
	wall := t0
	h := wallHarness(t, &wall)
	h.observe(sampleLine(t, t0))
	future := lineOfRecord(t, record.Sample{Header: record.NewHeader(record.KindSample, "lmn-collect", "h",
		time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC))}, record.KindSample)
	err := h.e.Observe(future)
	var ce *ClockError
	if !errors.As(err, &ce) || h.e.Skewed() != 1 {
		t.Fatalf("Observe(2099) = %v, skewed %d; want a ClockError", err, h.e.Skewed())
	}
	for i := range 3 {
		wall = t0.Add(time.Duration(i+1) * time.Minute)
		h.observe(issueLine(t, wall, "unit_failed", record.StateFiring, record.SeverityWarning, unit(string(rune('a'+i))+".service")))
		for len(h.jobs) > 0 {
			h.complete(ok)
		}
	}
	restarted := map[string]bool{}
	for _, r := range h.recs {
		if r.Phase == record.PhaseStarted {
			restarted[r.Subject["unit"]] = true
		}
	}
	if len(restarted) != 3 || !h.e.Now().Equal(at(t, "3m")) {
		t.Errorf("restarted %v, clock %v; want all 3 units and the records' time", restarted, h.e.Now())
	}
}

// TestFarJumpNeedsConfirming: mid-stream, a record far ahead of the others
// (and of what the machine's clock did since) waits for the next one: it
// moves the clock if that one agrees, and is reported if not.
func TestFarJumpNeedsConfirming(t *testing.T) {
	wall := t0.Add(24 * time.Hour) // a replay: the machine's clock stands far ahead
	h := wallHarness(t, &wall)
	h.observe(sampleLine(t, t0))
	h.observe(sampleLine(t, at(t, "5h")))
	if !h.e.Now().Equal(t0) {
		t.Fatalf("one far record moved the clock to %v", h.e.Now())
	}
	err := h.e.Observe(sampleLine(t, at(t, "1s")))
	var ce *ClockError
	if !errors.As(err, &ce) || !ce.TS.Equal(at(t, "5h")) || !h.e.Now().Equal(at(t, "1s")) {
		t.Fatalf("after the outlier: err %v, clock %v", err, h.e.Now())
	}
	// A machine back from a suspend: the next record confirms.
	h.observe(sampleLine(t, at(t, "3h")))
	h.observe(sampleLine(t, at(t, "3h5s")))
	if !h.e.Now().Equal(at(t, "3h5s")) {
		t.Errorf("clock %v after a confirmed jump", h.e.Now())
	}
	// Live, the machine's clock moved as much: believed at once.
	wall = wall.Add(2 * time.Hour)
	h.observe(sampleLine(t, at(t, "5h5s")))
	if !h.e.Now().Equal(at(t, "5h5s")) {
		t.Errorf("clock %v after a live jump", h.e.Now())
	}
}

// TestAbsurdStateClockRepaired: a state saved with the clock in 2099 is
// moved back at start, every interval kept, so healing goes on.
func TestAbsurdStateClockRepaired(t *testing.T) {
	future := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	h := newHarness(t, shortPolicy(2, 1), false)
	h.observe(issueLine(t, future, "unit_failed", record.StateFiring, record.SeverityWarning, unit("a.service")))
	h.complete(ok)
	h.observe(sampleLine(t, future.Add(time.Minute))) // not recovered: step 2 finds the breaker open for 10m
	data, err := h.e.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	wall := t0
	g := wallHarness(t, &wall)
	g.e.cfg.Policy = shortPolicy(2, 1)
	err = g.e.LoadState(data)
	var re *RepairError
	if !errors.As(err, &re) || !g.e.Now().Equal(t0) {
		t.Fatalf("LoadState = %v, clock %v; want a repair to %v", err, g.e.Now(), t0)
	}
	b := g.e.st.Breakers["restart_unit unit:a.service"]
	if b == nil || b.State != breakerOpen || !b.RetryAt.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("breaker after repair: %+v", b)
	}
	data, err = g.e.MarshalState()
	if err != nil || len(data) == 0 {
		t.Fatalf("state not saved after repair: %v", err)
	}
	g.observe(sampleLine(t, at(t, "10m")))
	if len(g.jobs) != 1 {
		t.Errorf("no half-open retry after the repaired cool-down: %s", g.phases())
	}
}
