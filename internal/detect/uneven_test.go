package detect

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// Streams from lmn-collect mix ticks, regular and marked "tick", with
// samples events cause between them, as soon as something happens and
// as close as 25 ms apart. The tests below run rules over such streams
// and check that nothing depends on the samples being evenly spaced.

// mixed is a stream being built: samples at offsets from t0, each a tick
// or an event sample, with what the previous one had unless changed.
type mixed struct {
	last    time.Duration
	samples []*record.Sample
}

// add appends a sample at d with trigger, changed by f.
func (m *mixed) add(d time.Duration, trigger string, f func(*record.Sample)) {
	s := at(d)
	s.Trigger = trigger
	s.IntervalSeconds = (d - m.last).Seconds()
	m.last = d
	f(s)
	m.samples = append(m.samples, s)
}

// ticks adds a tick every step from..to (inclusive), changed by f.
func (m *mixed) ticks(from, to, step time.Duration, f func(*record.Sample)) {
	for d := from; d <= to; d += step {
		m.add(d, "tick", f)
	}
}

// burst adds n event samples 25 ms apart from d, changed by f.
func (m *mixed) burst(d time.Duration, n int, trigger string, f func(*record.Sample)) {
	for i := range n {
		m.add(d+time.Duration(i)*25*time.Millisecond, trigger, f)
	}
}

// traceMS renders issues with their time to the millisecond.
func traceMS(issues []record.Issue) []string {
	var out []string
	for _, is := range issues {
		subj := strings.Join(sortedValues(is.Subject), ",")
		out = append(out, fmt.Sprintf("%s %s %s %s", is.TS.Format("15:04:05.000"), is.Rule, subj, is.State))
	}
	return out
}

func run(e *Engine, samples []*record.Sample) []string {
	var out []string
	for _, s := range samples {
		out = append(out, traceMS(e.Sample(s))...)
	}
	return out
}

func mountAt(used float64) func(*record.Sample) {
	return func(s *record.Sample) { withMount(s, "/", used) }
}

// TestCountHoldCountsTicks: "for": 3 means the sample that first sees the
// condition and two ticks after it. A burst of event samples (a unit
// storm) while a mount is briefly over its level must not stand in for
// the ticks; event samples that no longer see the condition still reset
// it.
func TestCountHoldCountsTicks(t *testing.T) {
	rules := rulesOf(t, `{"name": "disk", "kind": "threshold", "metric": "disks.mounts[].used_ratio", "warning": 0.9, "for": 3}`)
	var m mixed
	m.ticks(0, 30*time.Second, 30*time.Second, mountAt(0.5))
	m.add(40*time.Second, "unit", mountAt(0.95)) // first seen: 1
	m.burst(40*time.Second+25*time.Millisecond, 10, "unit", mountAt(0.95))
	m.ticks(60*time.Second, 60*time.Second, 30*time.Second, mountAt(0.95)) // 2
	m.add(70*time.Second, "psi", mountAt(0.5))                             // gone: the count restarts
	m.ticks(90*time.Second, 120*time.Second, 30*time.Second, mountAt(0.95))
	m.add(130*time.Second, "link", mountAt(0.95))
	m.ticks(150*time.Second, 150*time.Second, 30*time.Second, mountAt(0.95)) // the third tick since 90 s
	equalTrace(t, run(NewEngine(rules), m.samples), []string{"12:02:30.000 disk / firing"})
}

// TestCountHoldStartedByEvent: a condition an event sample sees first
// counts from there, so the hold ends one tick sooner than a tick-only
// stream would see it: an event makes detection faster, never a burst of
// them.
func TestCountHoldStartedByEvent(t *testing.T) {
	rules := rulesOf(t, `{"name": "no_route", "kind": "threshold", "metric": "net.default_route", "direction": "below", "critical": 0, "for": 2}`)
	route := func(up bool) func(*record.Sample) {
		return func(s *record.Sample) { s.Net = &record.Net{DefaultRoute: up} }
	}
	var m mixed
	m.ticks(0, 30*time.Second, 30*time.Second, route(true))
	m.add(45*time.Second, "route", route(false))
	m.burst(45*time.Second+25*time.Millisecond, 3, "link", route(false))
	m.ticks(60*time.Second, 90*time.Second, 30*time.Second, route(false))
	equalTrace(t, run(NewEngine(rules), m.samples), []string{"12:01:00.000 no_route  firing"})
}

// TestDurationHoldUneven: a duration hold counts record time, whatever
// the spacing; hysteresis holds an issue between its fire and clear
// levels across event samples.
func TestDurationHoldUneven(t *testing.T) {
	rules := rulesOf(t, `{"name": "disk", "kind": "threshold", "metric": "disks.mounts[].used_ratio", "warning": 0.9, "clear": 0.8, "for": "30s"}`)
	var m mixed
	m.ticks(0, 0, time.Second, mountAt(0.5))
	m.add(10*time.Second, "psi", mountAt(0.95)) // pending since 10 s
	m.burst(20*time.Second, 20, "unit", mountAt(0.95))
	m.add(39990*time.Millisecond, "unit", mountAt(0.95)) // 29.99 s: not yet
	m.add(40*time.Second, "oom", mountAt(0.95))          // fires
	m.burst(41*time.Second, 5, "unit", mountAt(0.85))    // between the levels: stays
	m.ticks(60*time.Second, 60*time.Second, time.Second, mountAt(0.79))
	equalTrace(t, run(NewEngine(rules), m.samples), []string{"12:00:40.000 disk / firing", "12:01:00.000 disk / resolved"})
}

// TestAbsenceCadenceFromTicks: a burst of event samples must not teach
// the engine a cadence of 25 ms, after which the next regular tick would
// look like a dead collector; the cadence is learnt from the ticks. Any
// sample still proves the collector alive.
func TestAbsenceCadenceFromTicks(t *testing.T) {
	rules := rulesOf(t, `{"name": "absent", "kind": "absence", "intervals": 3}`)
	var m mixed
	nothing := func(*record.Sample) {}
	m.ticks(0, 90*time.Second, 30*time.Second, nothing)
	m.burst(100*time.Second, 8, "unit", nothing)
	m.ticks(120*time.Second, 150*time.Second, 30*time.Second, nothing)
	e := NewEngine(rules)
	equalTrace(t, run(e, m.samples), nil)
	if got := e.AbsenceLimit(); got != 90*time.Second {
		t.Errorf("absence limit %v after ticks and a burst, want 3 × 30s", got)
	}
	// A tick missing twice over is still absence; an event sample ends it.
	m.add(300*time.Second, "link", nothing)
	equalTrace(t, run(e, m.samples[len(m.samples)-1:]), []string{"12:04:00.000 absent  firing", "12:05:00.000 absent  resolved"})
}

// TestTrendUneven: a trend fitted over ticks and bursts of event samples
// gives the ETA of the ticks alone: points closer than the window's
// 120th are merged, so a burst weighs as one point.
func TestTrendUneven(t *testing.T) {
	rules := rulesOf(t, `{"name": "fill", "kind": "trend", "metric": "disks.mounts[].used_ratio", "limit": 1, "window": "1h", "horizon": "6h", "min_history": "10m"}`)
	fill := func(d time.Duration) func(*record.Sample) {
		return func(s *record.Sample) { withMount(s, "/", 0.5+0.1*d.Hours()) } // full in 5 h
	}
	var mixedStream, tickStream mixed
	for d := time.Duration(0); d <= time.Hour; d += 30 * time.Second {
		mixedStream.add(d, "tick", fill(d))
		tickStream.add(d, "tick", fill(d))
		if d%(7*time.Minute) == 0 && d > 0 {
			for i := 1; i <= 10; i++ {
				e := d + time.Duration(i)*25*time.Millisecond
				mixedStream.add(e, "unit", fill(e))
			}
		}
	}
	eta := func(ss []*record.Sample) float64 {
		e := NewEngine(rules)
		var last float64
		for _, s := range ss {
			for _, is := range e.Sample(s) {
				if is.ETASeconds != nil {
					last = *is.ETASeconds
				}
			}
		}
		if st := e.states[0]["/"]; st != nil && st.ETA != nil {
			last = *st.ETA
		}
		return last
	}
	a, b := eta(mixedStream.samples), eta(tickStream.samples)
	if b == 0 || math.Abs(a-b) > 0.01*b {
		t.Errorf("ETA %v s with event samples, %v s with ticks alone", a, b)
	}
}

// TestMixedStreamAcrossState: a mixed stream judged in two runs with
// --state between them gives the issues of one run over the whole.
func TestMixedStreamAcrossState(t *testing.T) {
	rules := rulesOf(t, `{"name": "absent", "kind": "absence", "intervals": 3}`,
		`{"name": "disk", "kind": "threshold", "metric": "disks.mounts[].used_ratio", "warning": 0.9, "for": 3}`)
	var m mixed
	m.ticks(0, 90*time.Second, 30*time.Second, mountAt(0.5))
	m.burst(100*time.Second, 8, "unit", mountAt(0.95))
	m.ticks(120*time.Second, 180*time.Second, 30*time.Second, mountAt(0.95))
	m.add(400*time.Second, "tick", mountAt(0.95))
	whole := run(NewEngine(rules), m.samples)
	if len(whole) == 0 {
		t.Fatal("the stream causes no issue")
	}
	for cut := 1; cut < len(m.samples); cut++ {
		first := NewEngine(rules)
		got := run(first, m.samples[:cut])
		b, err := EncodeState(first.State(rules.Digest()))
		if err != nil {
			t.Fatal(err)
		}
		st, err := DecodeState(b)
		if err != nil {
			t.Fatal(err)
		}
		second := NewEngine(rules)
		second.Restore(st)
		got = append(got, run(second, m.samples[cut:])...)
		if strings.Join(got, "\n") != strings.Join(whole, "\n") {
			t.Fatalf("cut after sample %d:\n%s\nwhole:\n%s", cut, strings.Join(got, "\n"), strings.Join(whole, "\n"))
		}
	}
}
