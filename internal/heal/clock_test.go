package heal

import (
	"errors"
	"strings"
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

// deadlinePolicy restarts a unit, verifies for 10 s, restarts it again
// when the breaker's backoff (15 s after the first) ends, and gives advice.
const deadlinePolicy = `{"breaker": {"max_attempts": 3, "window": "30m", "backoff": "15s", "max_backoff": "10m",
  "cooldown": "30m", "reset_after": "1h", "healthy_uptime": "30s"},
  "ladders": [{"name": "u", "rules": ["unit_failed"],
  "steps": [{"actions": [{"action": "restart_unit", "params": {"unit": "{{unit}}"}}], "verify": "10s"},
            {"actions": [{"action": "restart_unit", "params": {"unit": "{{unit}}"}}], "verify": "10s"}],
  "advice": "look at {{unit}}"}]}`

// TestDeadlineBetweenRecords: a verification window that ends between
// two samples 30 s apart is judged at its end, not at the next sample;
// so is the backoff that holds the next step. Replaying the records
// (the next sample takes the clock past the deadlines) and a live pipe
// waking at each deadline (Next, Advance) give the same heal records,
// stamped with the deadlines. Without the stepping, the replay stamps
// them at the next sample, 30 s, and the live pipe has nothing to wake
// for.
func TestDeadlineBetweenRecords(t *testing.T) {
	p, err := ParsePolicy("policy.json", []byte(deadlinePolicy), nil)
	if err != nil {
		t.Fatal(err)
	}
	firing := issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit("a.service"))
	later := sampleLine(t, at(t, "30s"))
	const want = "1:restart_unit:planned 1:restart_unit:verified:not_recovered 2:restart_unit:planned 2:restart_unit:verified:not_recovered 3:advise:advised"
	stamps := func(h *harness) []string {
		var out []string
		for _, r := range h.recs {
			out = append(out, r.TS.Sub(t0).String())
		}
		return out
	}

	replay := newHarness(t, p, true)
	replay.observe(sampleLine(t, t0))
	replay.observe(firing)
	replay.want("1:restart_unit:planned")
	replay.observe(later)
	replay.want(want)

	live := newHarness(t, p, true)
	live.observe(sampleLine(t, t0))
	live.observe(firing)
	var woke []string
	for {
		next, ok := live.e.Next()
		if !ok {
			break
		}
		if next.After(at(t, "30s")) {
			t.Fatalf("a deadline at %v, after the next sample", next)
		}
		woke = append(woke, next.Sub(t0).String())
		live.e.Advance(next) // the wake-up, exactly at the deadline
		live.drain()
		if !live.e.Now().Equal(next) {
			t.Fatalf("clock %v after Advance(%v)", live.e.Now(), next)
		}
	}
	live.want(want)
	live.observe(later)
	live.want(want)
	if got, want := stamps(live), stamps(replay); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("live records at %v, replayed at %v", got, want)
	}
	if got := strings.Join(stamps(replay), " "); got != "0s 10s 15s 25s 25s" {
		t.Errorf("records at %v, want 0s 10s 15s 25s 25s: the windows end at 10s and 25s, the backoff at 15s", got)
	}
	t.Logf("woke at %v; records at %v", woke, stamps(live))
}
