package collect

import (
	"slices"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/probe"
	"github.com/lmn-heal/lmn/internal/record"
)

// The probes group is the latest result of each probe as the scheduler
// has it, scope only with a unit, absent before any result.
func TestProbeResults(t *testing.T) {
	c, clk, _ := newFixture(t, collecttestRoot(t))
	c.units.disabled = true
	at := time.Date(2026, 12, 5, 10, 0, 0, 123456789, time.UTC)
	var results []probe.Result
	c.cfg.Probes = func(dst []probe.Result) []probe.Result { return append(dst, results...) }
	c.Prime()
	clk.t = clk.t.Add(time.Second)
	if s := c.Sample(t.Context()); s.Probes != nil {
		t.Errorf("before any result: %+v", s.Probes)
	}
	results = []probe.Result{
		{Name: "redis", Unit: "redis.service", Scope: "user", Kind: "tcp", Latency: 2 * time.Second, CheckedAt: at,
			Error: "timeout after 2s", Streak: 3},
		{Name: "resolver", Scope: "system", Kind: "dns", OK: true, Latency: 1234567 * time.Nanosecond, CheckedAt: at.Add(time.Second), Streak: 9},
	}
	clk.t = clk.t.Add(time.Second)
	got := c.Sample(t.Context()).Probes
	want := []record.ProbeResult{
		{Name: "redis", Unit: "redis.service", Scope: "user", Kind: "tcp", LatencySeconds: 2, CheckedAt: record.Time{Time: at},
			Error: "timeout after 2s", Streak: 3},
		{Name: "resolver", Kind: "dns", OK: true, LatencySeconds: 0.001235, CheckedAt: record.Time{Time: at.Add(time.Second)}, Streak: 9},
	}
	if !slices.Equal(got, want) {
		t.Errorf("probes =\n%+v\nwant\n%+v", got, want)
	}
}
