package detect

import (
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// defaultIncreaseWindow is how long an increase issue stays firing after
// its counter last grew.
const defaultIncreaseWindow = 10 * time.Minute

// increase evaluates increase rule i: a counter (mem.units[].oom_kills)
// fires at once when it is higher than in the subject's previous sample,
// and resolves once it has not grown for the rule's window. The first
// value of a subject is its baseline (what happened before lmn-detect saw
// it is not news), and a value lower than the last (the unit restarted
// with a new cgroup) is a new baseline. The value is the counter,
// its threshold the count before it grew. A subject gone from its list
// resolves and is forgotten.
func (e *Engine) increase(i int, s *record.Sample) {
	r := e.rules[i]
	ts := s.TS.Time
	window := r.Window.D()
	each(r, s, func(j int, key string) {
		v, ok := r.metric.value(s, j)
		if !ok {
			return
		}
		st := e.states[i][key]
		if st == nil {
			st = e.newSubject(i, key, r.subjectOf(s, j))
			st.Seen, st.Last = record.Time{Time: ts}, &v
			return
		}
		st.Seen = record.Time{Time: ts}
		if st.Last != nil && v > *st.Last {
			if !st.Active {
				st.Since = record.Time{Time: ts}
			}
			st.Active, st.PendingSince, st.Threshold = true, record.Time{Time: ts}, *st.Last
		} else if st.Active && ts.Sub(st.PendingSince.Time) >= window {
			st.Active = false
		}
		st.Value, st.Last = v, &v
		e.observe(i, st, ts)
	})
	if r.list == nil || r.list.Len(s) == 0 {
		return // no list in this sample: nothing is known to be gone
	}
	for _, st := range sortedSubjects(e.states[i]) {
		if st.Seen.Equal(ts) {
			continue
		}
		st.Active, st.Last = false, nil
		e.observe(i, st, ts)
		e.tidy(i, st, ts)
	}
}
