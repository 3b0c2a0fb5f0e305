package detect

import (
	"math"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// observe writes what changed about st's issue after its condition was
// evaluated at ts: a firing record when it starts or changes severity, a
// resolved record when it ends, unless the subject flaps. A subject whose
// condition came and went more than the rule's flapping.transitions times
// within flapping.window is marked flapping and held firing until its
// condition has been gone for a whole window (see quiet); while held, each
// return of the condition is written firing again, with its new since, so
// that a consumer acting on it (lmn-heal) sees the new failure. A firing
// trend issue is written again when its ETA moved by more than etaRefresh
// of the last written one.
func (e *Engine) observe(i int, st *subject, ts time.Time) {
	r := e.rules[i]
	active := st.Active
	back := active && !st.Raw
	if active != st.Raw {
		st.Raw = active
		st.Transitions = append(st.Transitions, record.Time{Time: ts})
	}
	pruneTransitions(st, r, ts)
	flapping := r.Flapping.Transitions > 0 && len(st.Transitions) > r.Flapping.Transitions
	sev := record.SeverityWarning
	if st.Critical {
		sev = record.SeverityCritical
	}
	switch {
	case active && !st.Firing:
		st.Firing, st.Severity, st.Flapping = true, sev, flapping
		e.emit(i, st, record.StateFiring, ts)
	case active && (sev != st.Severity || flapping && !st.Flapping || back && st.Flapping || etaMoved(st, ts)):
		st.Severity, st.Flapping = sev, st.Flapping || flapping
		e.emit(i, st, record.StateFiring, ts)
	case !active && st.Firing && !st.Flapping:
		if flapping {
			st.Flapping = true
			e.emit(i, st, record.StateFiring, ts)
			return
		}
		st.Firing = false
		e.emit(i, st, record.StateResolved, ts)
	}
}

// quiet resolves flapping issues of rule i whose condition has been gone
// for the rule's whole flapping window.
func (e *Engine) quiet(i int, ts time.Time) {
	r := e.rules[i]
	held := false
	for _, st := range e.states[i] {
		held = held || st.Flapping && !st.Raw
	}
	if !held {
		return
	}
	for _, st := range sortedSubjects(e.states[i]) {
		if !st.Flapping || st.Raw {
			continue
		}
		lastChange := time.Time{}
		if n := len(st.Transitions); n > 0 {
			lastChange = st.Transitions[n-1].Time
		}
		if ts.Sub(lastChange) < r.Flapping.Window.D() {
			continue
		}
		st.Flapping, st.Firing = false, false
		e.emit(i, st, record.StateResolved, ts)
		e.tidy(i, st, ts)
	}
}

// pruneTransitions drops transitions older than the flapping window, but
// keeps the last one while the subject is flapping (quiet measures from it).
func pruneTransitions(st *subject, r *rule, ts time.Time) {
	keep := 0
	if st.Flapping && len(st.Transitions) > 0 {
		keep = 1
	}
	cut := ts.Add(-r.Flapping.Window.D())
	n := 0
	for n < len(st.Transitions)-keep && !st.Transitions[n].After(cut) {
		n++
	}
	if n > 0 {
		st.Transitions = append(st.Transitions[:0], st.Transitions[n:]...)
	}
}

// A firing trend issue is written again when its ETA moved by more than
// etaRefresh of the one last written, at most once per etaRefreshEvery.
const (
	etaRefresh      = 0.2
	etaRefreshEvery = time.Minute
)

// etaMoved reports whether st's ETA is due to be written again at ts.
func etaMoved(st *subject, ts time.Time) bool {
	if st.ETA == nil || ts.Sub(st.Written.Time) < etaRefreshEvery {
		return false
	}
	return st.WrittenETA == nil || math.Abs(*st.ETA-*st.WrittenETA) > etaRefresh**st.WrittenETA
}
