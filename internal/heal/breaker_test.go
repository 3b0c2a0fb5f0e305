package heal

import (
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

func restarts(h *harness) int {
	n := 0
	for _, j := range h.all {
		if !j.Check {
			n++
		}
	}
	return n
}

// startedUptime is the uptime_seconds of the ith started record, -1 when
// it has none.
func startedUptime(h *harness, i int) float64 {
	for _, r := range h.recs {
		if r.Phase != record.PhaseStarted {
			continue
		}
		if i--; i < 0 {
			if r.UptimeSeconds == nil {
				return -1
			}
			return *r.UptimeSeconds
		}
	}
	return -2
}

// TestBreakerHealedByUptime: a unit that crashes every 45 s, staying up
// between crashes, was healed by each restart: every crash starts a fresh
// count and is restarted at once, five times and more. The old breaker
// counted them all and gave up after three, with a growing wait.
func TestBreakerHealedByUptime(t *testing.T) {
	h := newHarness(t, nil, false) // the built-in breaker: 3 attempts, 30s backoff, healthy after 30s
	var crash time.Time
	for i := range 6 {
		crash = t0.Add(time.Duration(i) * 45 * time.Second)
		h.observe(issueLine(t, crash, "unit_failed", record.StateFiring, record.SeverityWarning, unit("redis.service")))
		if len(h.jobs) != 1 || h.jobs[0].Check {
			t.Fatalf("crash %d at %s: not restarted at once: %s", i+1, crash.Format(time.TimeOnly), h.phases())
		}
		h.complete(ok)
		h.observe(issueLine(t, crash.Add(time.Second), "unit_failed", record.StateResolved, record.SeverityWarning, unit("redis.service")))
		h.unitIs("active/running")
	}
	for i, want := range []float64{-1, 44, 44, 44, 44, 44} {
		if got := startedUptime(h, i); got != want {
			t.Errorf("restart %d: uptime_seconds %v, want %v", i+1, got, want)
		}
		if r := h.recs[3*i]; r.Phase != record.PhaseStarted || r.Attempt != 1 {
			t.Errorf("restart %d: %+v, want attempt 1 of a fresh count", i+1, r)
		}
	}
	// One that crashes 5 s after each start still gives up, bounded.
	h = newHarness(t, nil, false)
	when := t0
	for range 10 {
		h.observe(issueLine(t, when, "unit_failed", record.StateFiring, record.SeverityWarning, unit("bad.service")))
		for len(h.jobs) == 0 && !h.gaveUp() {
			when = when.Add(time.Second)
			h.observe(sampleLine(t, when))
		}
		if h.gaveUp() {
			break
		}
		h.complete(ok)
		when = when.Add(time.Second)
		h.observe(issueLine(t, when, "unit_failed", record.StateResolved, record.SeverityWarning, unit("bad.service")))
		h.unitIs("active/running")
		when = when.Add(5 * time.Second)
	}
	if !h.gaveUp() || restarts(h) != 3 {
		t.Fatalf("a unit up 5 s after each start: %d restarts, gave up %v: %s", restarts(h), h.gaveUp(), h.phases())
	}
	g := h.recs[len(h.recs)-1]
	if !strings.Contains(g.Advice, "bad.service keeps failing") || g.RetryAt == nil {
		t.Errorf("gave_up %+v", g)
	}
}

func (h *harness) gaveUp() bool {
	for _, r := range h.recs {
		if r.Phase == record.PhaseGaveUp {
			return true
		}
	}
	return false
}
