package detect

import (
	"slices"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// Defaults of a probe rule: fire after 3 failed results in a row, resolve
// after 2 passing ones.
const (
	defaultProbeHold    = 3
	defaultProbeResolve = 2
)

// probes evaluates probe rule i: one issue per probe of the sample's
// probes group whose kind the rule judges, subject {"probe": NAME} with
// the probe's "unit" and "scope" when it has a unit. It counts results,
// not samples: a result's streak (consecutive results with the same ok)
// says how many checks in a row failed or passed, however many samples
// repeated it. A sample without a probes group changes nothing; a probe
// gone from the group (the configuration changed) resolves.
func (e *Engine) probes(i int, s *record.Sample) {
	if s.Probes == nil {
		return
	}
	r := e.rules[i]
	ts := s.TS.Time
	for _, p := range s.Probes {
		if !r.judgesProbe(p) {
			continue
		}
		subj := probeSubject(p)
		key := probeKey(subj)
		st := e.states[i][key]
		if st == nil {
			if p.OK {
				continue
			}
			st = e.newSubject(i, key, subj)
		}
		st.Seen = record.Time{Time: ts}
		st.probeResult(r, p, ts)
		e.observe(i, st, ts)
		e.tidy(i, st, ts)
	}
	for _, st := range sortedSubjects(e.states[i]) {
		if st.Seen.Equal(ts) {
			continue
		}
		st.Active, st.Pending, st.Value = false, false, 0
		e.observe(i, st, ts)
		e.tidy(i, st, ts)
	}
}

// judgesProbe reports whether rule r judges probe p: its kind is one of
// the rule's probe_kinds (all when empty) and its name passes match.
func (r *rule) judgesProbe(p record.ProbeResult) bool {
	if len(r.ProbeKinds) > 0 && !slices.Contains(r.ProbeKinds, p.Kind) {
		return false
	}
	return r.matches(p.Name)
}

// probeResult moves st on by probe p's latest result: a streak of at
// least the hold of failures makes it active, one of resolve_after passes
// ends it. Value is the count of failed checks in a row (0 while it
// passes), Note the latest failure's error.
func (st *subject) probeResult(r *rule, p record.ProbeResult, ts time.Time) {
	hold := r.For.Samples
	if !p.OK {
		st.Value, st.Note = float64(p.Streak), p.Error
		if !st.Active && !st.Pending {
			st.Pending, st.PendingSince = true, record.Time{Time: ts}
		}
		if !st.Active && p.Streak >= hold {
			st.Active, st.Pending, st.Since = true, false, st.PendingSince
		}
		st.Threshold = float64(hold)
		return
	}
	st.Value = 0
	st.Pending = false
	if st.Active && p.Streak >= r.ResolveAfter {
		st.Active = false
	}
}

// probeSubject is the subject of an issue about probe p.
func probeSubject(p record.ProbeResult) map[string]string {
	subj := map[string]string{"probe": p.Name}
	if p.Unit != "" {
		subj["unit"], subj["scope"] = p.Unit, p.Scope
	}
	return subj
}

// probeKey names a probe's subject in a rule's state: its name, and its
// unit and scope, so that a probe moved to another unit is another
// subject.
func probeKey(subj map[string]string) string {
	if subj["unit"] == "" {
		return subj["probe"]
	}
	return subj["probe"] + " " + subj["scope"] + "/" + subj["unit"]
}

// probeText is how a summary names a probe: "redis (redis.service)",
// with ", user" for a user unit.
func probeText(subj map[string]string) string {
	s := subj["probe"]
	switch {
	case subj["unit"] == "":
	case subj["scope"] == "user":
		s += " (" + subj["unit"] + ", user)"
	default:
		s += " (" + subj["unit"] + ")"
	}
	return s
}
