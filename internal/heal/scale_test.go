package heal

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// trackMany has h track n failed units; the budget runs out after the
// first 20, so the rest wait.
func trackMany(t testing.TB, h *harness, n int) {
	for i := range n {
		h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit(fmt.Sprintf("u%d.service", i))))
		for len(h.jobs) > 0 {
			h.complete(ok)
		}
	}
}

// TestRecordCostIndependentOfTracked: the work a sample costs does not
// grow with the issues tracked. The old engine advanced every tracked
// issue on every record: 10 k issues 1.1 s, 100 k 332 s. Here the count of
// ladders a sample makes the engine look at is the deterministic measure;
// BenchmarkObserveTracked gives the time.
func TestRecordCostIndependentOfTracked(t *testing.T) {
	for _, n := range []int{100, 5000} {
		h := newHarness(t, nil, false)
		trackMany(t, h, n)
		if h.e.Tracked() != n {
			t.Fatalf("tracked %d of %d", h.e.Tracked(), n)
		}
		before := h.e.visits
		for i := range 100 {
			h.observe(sampleLine(t, t0.Add(time.Duration(i+1)*time.Millisecond)))
		}
		if per := float64(h.e.visits-before) / 100; per > 1 {
			t.Errorf("%d tracked: %.1f ladders looked at per sample, want at most 1 (the head of the queue)", n, per)
		}
	}
}

// TestMaxIssues: past max_issues, an issue is refused with advice, and
// counted.
func TestMaxIssues(t *testing.T) {
	p := DefaultPolicy()
	p.MaxIssues = 50
	h := newHarness(t, p, false)
	trackMany(t, h, 80)
	if h.e.Tracked() != 50 || h.e.Overflow() != 30 {
		t.Fatalf("tracked %d, overflow %d; want 50 and 30", h.e.Tracked(), h.e.Overflow())
	}
	last := h.recs[len(h.recs)-1]
	if last.Phase != record.PhaseAdvised || !strings.Contains(last.Error, "at most 50 issues") || !strings.Contains(last.Error, "30 refused") {
		t.Errorf("refusal record %+v", last)
	}
	// A resolved issue makes room.
	h.observe(issueLine(t, at(t, "1s"), "unit_failed", record.StateResolved, record.SeverityWarning, unit("u49.service")))
	h.observe(issueLine(t, at(t, "1s"), "unit_failed", record.StateFiring, record.SeverityWarning, unit("new.service")))
	if h.e.Tracked() != 50 || h.e.Overflow() != 30 {
		t.Errorf("tracked %d, overflow %d after a resolve", h.e.Tracked(), h.e.Overflow())
	}
}

// BenchmarkObserveTracked is the cost of one sample with n issues tracked
// (20 acting, the rest waiting for the budget).
func BenchmarkObserveTracked(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			p := DefaultPolicy()
			p.MaxIssues = n
			h := newHarness(b, p, false)
			trackMany(b, h, n)
			lines := make([]record.Line, 1000)
			for i := range lines {
				lines[i] = sampleLine(b, t0.Add(time.Duration(i+1)*time.Millisecond))
			}
			b.ResetTimer()
			for i := range b.N {
				h.e.Observe(lines[i%len(lines)])
			}
		})
	}
}
