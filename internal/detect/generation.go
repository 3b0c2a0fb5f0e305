package detect

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// A generation rule judges a change of the running NixOS system (the
// sample's nix.current_system): a switch to a new generation, a test, a
// rollback. When what runs changes, the rule takes as its baseline what
// was wrong just before (the failed units and failing probes the rule's
// match lets through) and, once the settle window has passed since the
// change, compares what is wrong then: a unit or probe failing that was not
// failing before is the new system's doing. It judges new failures only,
// never their count: a unit broken before the switch, or
// switch-to-configuration's own noise, does not make a generation
// unhealthy.
//
// The verdict is an issue about the system, subject {"generation": N,
// "system": STORE_PATH} and "rollback_to": the generation lmn should go
// back to (lmn-privd's last known-good one, else the one that ran before
// the change, never one lmn-privd rejected; absent when there is none).
// Unhealthy: the issue fires, critical, naming what broke, and resolves
// when the machine is back to its baseline. Healthy: one resolved record at
// the end of the settle window, "healthy", which lmn-heal takes as its cue
// to mark the generation known good.
//
// While a verdict of unhealthy stands, a further change (lmn's rollback)
// is judged against the same baseline, not against the broken state: if
// the older generation is unhealthy too, it fires as well.

// defaultSettle is how long a new system has to start what it starts
// before it is judged.
const defaultSettle = time.Minute

// watchKey names the rule's own state: what runs and what fails now.
const watchKey = "running"

// generation evaluates generation rule i. A sample without a nix group,
// or one that cannot tell what runs, changes nothing.
func (e *Engine) generation(i int, s *record.Sample) {
	if s.Nix == nil || s.Nix.CurrentSystem == "" {
		return
	}
	r := e.rules[i]
	ts := s.TS.Time
	cur := s.Nix.CurrentSystem
	w := e.states[i][watchKey]
	failing := r.failures(s, w)
	if w == nil {
		w = &subject{Rule: r.Name, Name: watchKey, ID: ID(r.Name, map[string]string{}), Subject: map[string]string{}}
		e.states[i][watchKey] = w
		w.Running, w.Generation = cur, s.Nix.CurrentGeneration
	}
	if e.restored {
		e.standing(i, ts)
	}
	if cur != w.Running {
		e.changed(i, s, w)
	}
	w.Running, w.Generation, w.Failures = cur, s.Nix.CurrentGeneration, failing
	for _, st := range sortedSubjects(e.states[i]) {
		if st != w {
			e.judge(i, st, cur, failing, ts)
		}
	}
}

// changed starts the judgement of the system now running. A judgement
// still in its settle window is dropped unfinished: its system runs no
// more.
func (e *Engine) changed(i int, s *record.Sample, w *subject) {
	baseline := w.Failures
	for _, st := range sortedSubjects(e.states[i]) {
		switch {
		case st == w:
		case st.Firing:
			baseline = st.Baseline // judged against what was fine, not what broke
		case st.Pending:
			delete(e.states[i], st.Name)
		}
	}
	n := s.Nix
	subj := map[string]string{SubjectSystem: n.CurrentSystem}
	if n.CurrentGeneration > 0 {
		subj[SubjectGeneration] = strconv.Itoa(n.CurrentGeneration)
	}
	if to := rollbackTo(n, w, e.states[i]); to > 0 {
		subj[SubjectRollbackTo] = strconv.Itoa(to)
	}
	st := e.states[i][n.CurrentSystem]
	if st != nil && st.Firing {
		return // back to a system whose verdict stands
	}
	st = e.newSubject(i, n.CurrentSystem, subj)
	st.Pending, st.PendingSince = true, s.TS
	st.Baseline = slices.Clone(baseline)
}

// rollbackTo is the generation to go back to from what runs now: the last
// known-good one, else the one that ran before; never a rejected one, nor
// the system now running, nor one this rule judges unhealthy. 0 when there
// is none.
func rollbackTo(n *record.Nix, w *subject, judged map[string]*subject) int {
	rejected := func(p string) bool {
		if st := judged[p]; st != nil && st.Firing {
			return true
		}
		return slices.ContainsFunc(n.Rejected, func(r record.NixSystem) bool { return r.StorePath == p })
	}
	if k := n.KnownGood; k != nil && k.Generation > 0 && k.StorePath != n.CurrentSystem && !rejected(k.StorePath) {
		return k.Generation
	}
	if w.Generation > 0 && w.Running != n.CurrentSystem && !rejected(w.Running) {
		return w.Generation
	}
	return 0
}

// standing writes again, after a restart from --state, the verdicts of
// unhealthy that stand: a reader that started with this run (lmn-dash's
// gate at boot, in a generation judged unhealthy at its previous boot)
// has not seen them.
func (e *Engine) standing(i int, ts time.Time) {
	for _, st := range sortedSubjects(e.states[i]) {
		if st.Firing {
			e.emit(i, st, record.StateFiring, ts)
		}
	}
}

// settled judges, at now with no new sample, the judgements whose settle
// window has passed, from what the last sample showed.
func (e *Engine) settled(i int, now time.Time) {
	w := e.states[i][watchKey]
	if w == nil {
		return
	}
	for _, st := range sortedSubjects(e.states[i]) {
		if st != w && st.Pending {
			e.judge(i, st, w.Running, w.Failures, now)
		}
	}
}

// judge moves the judgement st on: at the end of its settle window a
// verdict, later the end of an unhealthy one.
func (e *Engine) judge(i int, st *subject, cur string, failing []string, ts time.Time) {
	r := e.rules[i]
	added := without(failing, st.Baseline)
	switch {
	case st.Pending && ts.Sub(st.PendingSince.Time) >= r.Settle.D():
		st.Pending = false
		if len(added) == 0 {
			st.Since = st.PendingSince
			st.Note = "healthy " + r.Settle.String() + " after the switch: nothing fails that did not before"
			e.emit(i, st, record.StateResolved, ts)
			delete(e.states[i], st.Name)
			return
		}
		st.Firing, st.Active, st.Since, st.Severity = true, true, st.PendingSince, record.SeverityCritical
		st.Failures, st.Value, st.Threshold = added, float64(len(added)), 1
		st.Note = describeFailures(added) + " after the switch"
		e.emit(i, st, record.StateFiring, ts)
	case st.Firing && len(added) == 0:
		st.Firing, st.Active, st.Value = false, false, 0
		st.Note = "back to what failed before the switch"
		if cur != st.Subject["system"] {
			st.Note += " (now running " + cur + ")"
		}
		e.emit(i, st, record.StateResolved, ts)
		delete(e.states[i], st.Name)
	}
}

// failures are the sample's failed units ("unit:SCOPE/NAME") and failing
// probes ("probe:NAME") that the rule's match lets through, sorted. A
// sample without a units group keeps the units failing at the previous
// one (w), without probes the probes.
func (r *rule) failures(s *record.Sample, w *subject) []string {
	var out []string
	keep := func(prefix string) {
		if w == nil {
			return
		}
		for _, f := range w.Failures {
			if strings.HasPrefix(f, prefix) {
				out = append(out, f)
			}
		}
	}
	if u := s.Units; u != nil {
		for _, f := range u.Failed {
			if r.matches(f.Unit) {
				out = append(out, "unit:"+u.Scope+"/"+f.Unit)
			}
		}
	} else {
		keep("unit:")
	}
	if s.Probes != nil {
		for _, p := range s.Probes {
			if !p.OK && r.matches(p.Name) {
				out = append(out, "probe:"+p.Name)
			}
		}
	} else {
		keep("probe:")
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// without is a minus b, both sorted.
func without(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			out = append(out, x)
		}
	}
	return out
}

// describeFailures says what broke: "web.service (system) failed, probe
// web fails".
func describeFailures(fs []string) string {
	parts := make([]string, 0, len(fs))
	for _, f := range fs {
		if u, ok := strings.CutPrefix(f, "unit:"); ok {
			scope, name, _ := strings.Cut(u, "/")
			parts = append(parts, name+" ("+scope+") failed")
		} else if p, ok := strings.CutPrefix(f, "probe:"); ok {
			parts = append(parts, "probe "+p+" fails")
		}
	}
	return strings.Join(parts, ", ")
}

// generationText is the {subject} of a generation issue: "generation 7",
// or the store path of a system that is no generation (a test).
func generationText(subj map[string]string) string {
	if g := subj["generation"]; g != "" {
		return "generation " + g
	}
	return subj["system"]
}
