package detect

import (
	"sort"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// Absence is judged two ways. Between two samples, from their ts: a gap
// longer than intervals × the expected interval writes a firing issue
// stamped at the moment the gap became too long, then a resolved one at the
// sample that ended it, so replays are deterministic. In a live pipe no
// record arrives while the collector hangs, so the caller also measures
// the time since the last sample arrived and calls Silence; the issue it
// writes resolves with the next sample. At the end of input nothing is
// judged: a finished recording is not an absent collector.

// cadenceGaps is how many recent gaps between samples the engine keeps to
// learn how often samples come.
const cadenceGaps = 5

// expected returns the absence limit of rule r, or 0 when the cadence is
// not known yet. Without an interval in the rule the cadence is learnt:
// the larger of the last sample's interval_seconds and the median of the
// last gaps between ticks (samples an event caused come in between, and
// say nothing of the cadence), once two gaps are known. A collector run by
// a timer (--count 1 every minute) reports a short interval_seconds, but
// its samples come a minute apart.
func (e *Engine) expected(r *rule) time.Duration {
	interval := r.Interval.D()
	if interval == 0 {
		if len(e.gaps) < 2 {
			return 0
		}
		secs := max(e.lastInterval, median(e.gaps))
		interval = time.Duration(secs * float64(time.Second))
	}
	return time.Duration(r.Intervals) * interval
}

// median returns the lower median of xs.
func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[(len(s)-1)/2]
}

// learnGap remembers the gap before a tick at ts since the last tick.
func (e *Engine) learnGap(ts time.Time) {
	if e.lastTick.IsZero() || !ts.After(e.lastTick) {
		return
	}
	e.gaps = append(e.gaps, ts.Sub(e.lastTick).Seconds())
	if len(e.gaps) > cadenceGaps {
		e.gaps = append(e.gaps[:0], e.gaps[len(e.gaps)-cadenceGaps:]...)
	}
}

// absence evaluates absence rule i when sample s arrives.
func (e *Engine) absence(i int, s *record.Sample) {
	r := e.rules[i]
	ts := s.TS.Time
	limit := e.expected(r)
	if e.last.IsZero() || limit <= 0 {
		return
	}
	gap := ts.Sub(e.last)
	st := e.states[i][""]
	if st == nil && gap > limit {
		st = e.newSubject(i, "", map[string]string{})
		at := e.last.Add(limit)
		e.setAbsent(r, st, at, limit)
		e.observe(i, st, at)
	}
	if st == nil {
		return
	}
	if st.Active {
		st.advance(Hold{}, false, ts, e.tick)
		st.Value = gap.Seconds()
		e.observe(i, st, ts)
	}
	e.tidy(i, st, ts)
}

func (e *Engine) setAbsent(r *rule, st *subject, at time.Time, limit time.Duration) {
	st.Active, st.Pending, st.Since = true, false, record.Time{Time: e.last}
	st.Value = at.Sub(e.last).Seconds()
	st.Threshold = limit.Seconds()
	st.Clear = limit.Seconds() / float64(r.Intervals) // the interval, for {interval}
}

// AbsenceLimit returns the shortest time without a sample after which an
// absence rule fires, or 0 when there is none or the interval is not known.
func (e *Engine) AbsenceLimit() time.Duration {
	var limit time.Duration
	for _, r := range e.rules {
		if r.Kind != KindAbsence {
			continue
		}
		if l := e.expected(r); l > 0 && (limit == 0 || l < limit) {
			limit = l
		}
	}
	return limit
}

// Silence is called in a live pipe when elapsed time has passed since the
// last sample arrived with no new one. It fires the absence rules whose
// limit has passed, stamped at the last sample's ts plus elapsed.
func (e *Engine) Silence(elapsed time.Duration) []record.Issue {
	e.out = e.out[:0]
	if e.last.IsZero() {
		return e.out
	}
	now := e.last.Add(elapsed)
	for i, r := range e.rules {
		limit := e.expected(r)
		if r.Kind != KindAbsence || limit <= 0 || elapsed < limit {
			continue
		}
		st := e.states[i][""]
		if st != nil && st.Active {
			continue
		}
		if st == nil {
			st = e.newSubject(i, "", map[string]string{})
		}
		e.setAbsent(r, st, now, limit)
		e.observe(i, st, now)
	}
	for i, r := range e.rules {
		if r.Kind == KindGeneration {
			e.settled(i, now)
		}
	}
	return e.out
}

// NextWake returns when, counted from the last sample, the live pipe
// should call Silence next after elapsed has passed: the absence limit,
// or the end of a generation judgement's settle window (judged then from
// the last sample: a change since would have woken a sample); 0 when
// nothing is due.
func (e *Engine) NextWake(elapsed time.Duration) time.Duration {
	if e.last.IsZero() {
		return 0
	}
	var next time.Duration
	due := func(d time.Duration) {
		if d > elapsed && (next == 0 || d < next) {
			next = d
		}
	}
	due(e.AbsenceLimit())
	for i, r := range e.rules {
		if r.Kind != KindGeneration {
			continue
		}
		for _, st := range e.states[i] {
			if st.Pending {
				due(st.PendingSince.Add(r.Settle.D()).Sub(e.last))
			}
		}
	}
	return next
}
