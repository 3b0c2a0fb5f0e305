package detect

import (
	"github.com/lmn-heal/lmn/internal/record"
)

// levels are a threshold rule's levels for one subject.
type levels struct {
	warn, crit       float64
	hasWarn, hasCrit bool
	fire, clear      float64 // the level that fires, the level that resolves
	critClear        float64 // the level a critical issue must get back past
}

// levels returns the rule's levels for element j of s, taking per-subject
// levels (warning_from, critical_from) from the sample where it has them.
func (r *rule) levels(s *record.Sample, j int) levels {
	var l levels
	if r.Warning != nil {
		l.warn, l.hasWarn = *r.Warning, true
	}
	if r.Critical != nil {
		l.crit, l.hasCrit = *r.Critical, true
	}
	margin := 0.0 // distance from fire level to clear level, signed
	if l.hasWarn {
		margin = l.warn - *r.Clear
	} else {
		margin = l.crit - *r.Clear
	}
	if r.warnFrom != nil {
		if w, ok := r.warnFrom.value(s, j); ok {
			l.warn, l.hasWarn = w, true
		}
	}
	if r.critFrom != nil {
		if c, ok := r.critFrom.value(s, j); ok {
			l.crit, l.hasCrit = c, true
		}
	}
	if l.hasWarn && l.hasCrit && l.warn != l.crit && beyond(l.warn, l.crit, r.above) {
		// A subject's own warning level lies past the rule's critical
		// level: trust the subject, and warn only.
		l.hasCrit = false
	}
	l.fire = l.crit
	if l.hasWarn {
		l.fire = l.warn
	}
	l.clear = l.fire - margin
	l.critClear = l.crit - margin
	return l
}

// condsHold reports whether every condition in cs holds for element j;
// while active, a condition holds until its value is back past its clear
// level. A condition whose metric the sample lacks does not hold.
func condsHold(cs []cond, s *record.Sample, j int, active bool) bool {
	for i := range cs {
		if !cs[i].holds(s, j, active) {
			return false
		}
	}
	return true
}

func anyHolds(cs []cond, s *record.Sample, j int, active bool) bool {
	for i := range cs {
		if cs[i].holds(s, j, active) {
			return true
		}
	}
	return false
}

func (c *cond) holds(s *record.Sample, j int, active bool) bool {
	v, ok := c.m.value(s, j)
	if !ok {
		return false
	}
	if active {
		return beyond(v, c.clear, c.above)
	}
	return beyond(v, c.level, c.above)
}

// threshold evaluates threshold rule i on every subject of s.
func (e *Engine) threshold(i int, s *record.Sample) {
	r := e.rules[i]
	ts := s.TS.Time
	each(r, s, func(j int, name string) {
		v, ok := r.metric.value(s, j)
		if !ok {
			return
		}
		st := e.states[i][name]
		l := r.levels(s, j)
		active := st != nil && st.Active
		var past bool
		if active {
			past = beyond(v, l.clear, r.above) && condsHold(r.and, s, j, true)
		} else {
			past = beyond(v, l.fire, r.above) && condsHold(r.and, s, j, false)
		}
		if st == nil {
			if !past {
				return
			}
			st = e.newSubject(i, name, r.subjectOf(s, j))
		}
		st.Seen = record.Time{Time: ts}
		st.advance(r.For, past, ts, e.tick)
		if st.Active {
			st.Critical = r.critical(s, j, v, l, st.Critical)
		}
		st.Value, st.Threshold, st.Clear = v, l.fire, l.clear
		if st.Critical && l.hasCrit && beyond(v, l.critClear, r.above) {
			st.Threshold, st.Clear = l.crit, l.critClear
		}
		e.observe(i, st, ts)
		e.tidy(i, st, ts)
	})
	e.gone(i, s, 0)
}

// critical reports whether an active issue is critical: past the critical
// level, or with an escalate condition holding, or for a rule with only a
// critical level. Once critical, it stays so until back past the critical
// level's clear distance.
func (r *rule) critical(s *record.Sample, j int, v float64, l levels, was bool) bool {
	if !l.hasWarn {
		return true
	}
	level := l.crit
	if was {
		level = l.critClear
	}
	if l.hasCrit && beyond(v, level, r.above) {
		return true
	}
	return anyHolds(r.escalate, s, j, was)
}
