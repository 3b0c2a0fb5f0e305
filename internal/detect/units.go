package detect

import (
	"github.com/lmn-heal/lmn/internal/record"
)

// units evaluates unit_failed rule i: one issue per failed unit of the
// sample's scope, resolved when the unit leaves that scope's failed list. A
// sample without a units group changes nothing.
func (e *Engine) units(i int, s *record.Sample) {
	if s.Units == nil {
		return
	}
	r := e.rules[i]
	ts := s.TS.Time
	scope := s.Units.Scope
	for _, u := range s.Units.Failed {
		if u.Unit == "" || !r.matches(u.Unit) { // no name: nothing to act on, nor to keep in --state
			continue
		}
		name := scope + "/" + u.Unit
		st := e.states[i][name]
		if st == nil {
			st = e.newSubject(i, name, map[string]string{"unit": u.Unit, "scope": scope})
		}
		st.Seen = record.Time{Time: ts}
		st.advance(r.For, true, ts, e.tick)
		st.Value, st.Threshold, st.Clear = 1, 1, 0
		e.observe(i, st, ts)
	}
	for _, st := range sortedSubjects(e.states[i]) {
		if st.Subject["scope"] != scope || st.Seen.Equal(ts) {
			continue
		}
		st.advance(r.For, false, ts, e.tick)
		st.Value = 0
		e.observe(i, st, ts)
		e.tidy(i, st, ts)
	}
}
