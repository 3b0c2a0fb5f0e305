// Package detect turns samples into issues. It is pure decision logic over
// record values: rules (schema, embedded defaults, validation), the rule
// kinds (threshold, trend, unit_failed, absence, probe, increase,
// generation), flap detection, and the engine state that --state keeps
// between runs. Time comes only from the records' ts (and, for absence and
// the end of a generation's settle window in a live pipe, from the time
// elapsed since the last sample, which the caller measures).
package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// Src is the src field of the records lmn-detect writes.
const Src = "lmn-detect"

// Engine evaluates rules over a stream of samples.
type Engine struct {
	rules  []*rule
	states []map[string]*subject // per rule, by subject name
	out    []record.Issue

	last         time.Time // ts of the last sample
	lastInterval float64   // its interval_seconds
	lastTick     time.Time // ts of the last sample at the collector's cadence
	gaps         []float64 // the last gaps between such samples, in seconds
	tick         bool      // whether the sample being judged is one
	host         string
	// restored: the engine took a saved state and has judged no sample
	// since; generation verdicts that stand are written again then.
	restored bool
}

// NewEngine returns an engine with no history.
func NewEngine(r *Rules) *Engine {
	e := &Engine{rules: r.compiled, states: make([]map[string]*subject, len(r.compiled))}
	for i := range e.states {
		e.states[i] = map[string]*subject{}
	}
	return e
}

// subject is the state of one rule for one subject: the condition's
// progress, the issue as last written, flap history and trend points. It is
// what --state saves.
type subject struct {
	Rule    string            `json:"rule"`
	Name    string            `json:"name"`
	ID      string            `json:"id"`
	Subject map[string]string `json:"subject"`

	Pending      bool        `json:"pending,omitempty"`
	PendingSince record.Time `json:"pending_since,omitzero"`
	Count        int         `json:"count,omitempty"`
	Active       bool        `json:"active,omitempty"`
	Critical     bool        `json:"critical,omitempty"`
	Since        record.Time `json:"since,omitzero"`
	Seen         record.Time `json:"seen,omitzero"`

	Firing      bool          `json:"firing,omitempty"`
	Severity    string        `json:"severity,omitempty"`
	Flapping    bool          `json:"flapping,omitempty"`
	Raw         bool          `json:"raw,omitempty"`
	Transitions []record.Time `json:"transitions,omitempty"`

	Value     float64  `json:"value"`
	Threshold float64  `json:"threshold"`
	Clear     float64  `json:"clear"`
	ETA       *float64 `json:"eta_seconds,omitempty"`
	// Written and WrittenETA are when the issue record was last written
	// and the ETA it said.
	Written    record.Time `json:"written,omitzero"`
	WrittenETA *float64    `json:"written_eta_seconds,omitempty"`
	Points     []point     `json:"points,omitempty"`
	// Note is a probe's latest error; Last an increase rule's counter at
	// the subject's previous sample.
	Note string   `json:"note,omitempty"`
	Last *float64 `json:"last,omitempty"`
	// Of a generation rule (generation.go): Baseline is what failed
	// before the change judged, Failures what fails now (the watch) or
	// what the change added (a verdict); Running and Generation are what
	// ran at the latest sample (the watch).
	Baseline   []string `json:"baseline,omitempty"`
	Failures   []string `json:"failures,omitempty"`
	Running    string   `json:"running,omitempty"`
	Generation int      `json:"generation,omitempty"`

	sums fitSums // the trend fit's sums over Points but the last (not saved)
}

// ID returns the stable fingerprint of a rule and a subject: the first 16
// hex digits of SHA-256 over the rule name and the subject's sorted
// key=value pairs.
func ID(rule string, subj map[string]string) string {
	h := sha256.New()
	h.Write([]byte(rule))
	for _, k := range sortedKeys(subj) {
		h.Write([]byte{0})
		h.Write([]byte(k + "=" + subj[k]))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func (e *Engine) newSubject(i int, name string, subj map[string]string) *subject {
	r := e.rules[i]
	st := &subject{Rule: r.Name, Name: name, ID: ID(r.Name, subj), Subject: subj}
	e.states[i][name] = st
	return st
}

// subjectOf returns the subject map for element j of the rule's list in
// s: its name and, for a list of units, its scope.
func (r *rule) subjectOf(s *record.Sample, j int) map[string]string {
	if r.list == nil {
		return map[string]string{}
	}
	subj := map[string]string{r.list.Key: r.list.Name(s, j)}
	if r.list.ScopeKey != "" {
		subj[r.list.ScopeKey] = r.list.Scope(s, j)
	}
	return subj
}

// Sample evaluates every rule on s and returns the issues it causes, in a
// stable order. The slice is reused by the next call.
func (e *Engine) Sample(s *record.Sample) []record.Issue {
	e.out = e.out[:0]
	ts := s.TS.Time
	e.host = s.Host
	e.tick = isTick(s)
	// Absence first: what it finds happened before this sample.
	for i, r := range e.rules {
		if r.Kind == KindAbsence {
			e.absence(i, s)
		}
	}
	for i, r := range e.rules {
		switch r.Kind {
		case KindThreshold:
			e.threshold(i, s)
		case KindTrend:
			e.trend(i, s)
		case KindUnitFailed:
			e.units(i, s)
		case KindProbe:
			e.probes(i, s)
		case KindIncrease:
			e.increase(i, s)
		case KindGeneration:
			e.generation(i, s)
		}
		e.quiet(i, ts)
	}
	if e.tick && ts.After(e.lastTick) {
		e.learnGap(ts)
		e.lastTick = ts
	}
	if ts.After(e.last) {
		e.last = ts
		e.lastInterval = s.IntervalSeconds
	}
	e.restored = false
	return e.out
}

// isTick reports whether s came at the collector's cadence: a tick, or a
// sample of a stream from before lmn-collect followed events. Samples
// that events caused come in between, as close as 25 ms apart: they must
// see a condition for it to hold, but they neither add to a hold counted
// in samples nor teach the absence rule a cadence.
func isTick(s *record.Sample) bool {
	return s.Trigger == "" || s.Trigger == "tick"
}

// each calls f for every subject of rule r in s that its match list lets
// through: every element of the rule's list, or once (j = 0, key "") for a
// machine-wide rule. key names the subject in the rule's state: the
// element's name, "scope/name" in a list of units with scopes.
func each(r *rule, s *record.Sample, f func(j int, key string)) {
	if r.list == nil {
		f(0, "")
		return
	}
	n := r.list.Len(s)
	for j := range n {
		name := r.list.Name(s, j)
		if !r.matches(name) {
			continue
		}
		if r.list.ScopeKey != "" {
			name = r.list.Scope(s, j) + "/" + name
		}
		f(j, name)
	}
}

// gone resolves the subjects of a list rule that were not in this sample
// although their list was, and forgets those idle for long.
func (e *Engine) gone(i int, s *record.Sample, forget time.Duration) {
	r := e.rules[i]
	if r.list == nil || r.list.Len(s) == 0 {
		return
	}
	ts := s.TS.Time
	if allSeen(e.states[i], ts) {
		return // the usual case: every subject was in this sample
	}
	for _, name := range sortedKeys(e.states[i]) {
		st := e.states[i][name]
		if st.Seen.Equal(ts) {
			continue
		}
		if st.Active || st.Pending {
			st.advance(Hold{}, false, ts, e.tick)
			e.observe(i, st, ts)
		}
		if ts.Sub(st.Seen.Time) > forget {
			st.Points, st.sums = nil, fitSums{}
		}
		e.tidy(i, st, ts)
	}
}

// allSeen reports whether every subject was seen at ts.
func allSeen(m map[string]*subject, ts time.Time) bool {
	for _, st := range m {
		if !st.Seen.Equal(ts) {
			return false
		}
	}
	return true
}

// advance moves the condition of st on: past says whether the value is
// past the fire level (or, while active, still short of the clear level).
// A hold counted in samples counts the sample that first sees the
// condition and, after it, only samples at the collector's cadence (tick).
func (st *subject) advance(hold Hold, past bool, ts time.Time, tick bool) {
	if !past {
		st.Pending, st.Count, st.Active, st.Critical = false, 0, false, false
		return
	}
	if st.Active {
		return
	}
	switch {
	case !st.Pending:
		st.Pending, st.PendingSince, st.Count = true, record.Time{Time: ts}, 1
	case tick:
		st.Count++
	}
	if hold.reached(st.Count, st.PendingSince.Time, ts) {
		st.Active, st.Pending, st.Since = true, false, st.PendingSince
	}
}

// tidy forgets a subject that has nothing left to remember.
func (e *Engine) tidy(i int, st *subject, ts time.Time) {
	pruneTransitions(st, e.rules[i], ts)
	if !st.Firing && !st.Pending && !st.Active && len(st.Transitions) == 0 && len(st.Points) == 0 && st.Last == nil {
		delete(e.states[i], st.Name)
	}
}

// emit writes an issue record for st in its current state.
func (e *Engine) emit(i int, st *subject, state string, ts time.Time) {
	r := e.rules[i]
	is := record.Issue{
		Header:     record.NewHeader(record.KindIssue, Src, e.host, ts),
		ID:         st.ID,
		Rule:       r.Name,
		Subject:    st.Subject,
		State:      state,
		Severity:   st.Severity,
		Value:      st.Value,
		Threshold:  st.Threshold,
		Since:      st.Since,
		ETASeconds: st.ETA,
		Flapping:   st.Flapping,
	}
	v := vars{
		rule: r.Name, severity: st.Severity,
		value: st.Value, threshold: st.Threshold, clear: st.Clear, eta: st.ETA,
	}
	if r.metric != nil {
		v.metric, v.unit = r.metric.Path, r.metric.unit
	}
	e.describe(r, st, &v)
	t := r.summary
	if state == record.StateResolved {
		t = r.resolved
	}
	is.Summary = t.render(&v)
	st.Written, st.WrittenETA = record.Time{Time: ts}, nil
	if st.ETA != nil {
		eta := *st.ETA
		st.WrittenETA = &eta
	}
	if st.Flapping {
		is.Summary += " (flapping: held firing until quiet for " + r.Flapping.Window.String() + ")"
	}
	e.out = append(e.out, is)
}

// describe fills the subject-specific parts of a summary.
func (e *Engine) describe(r *rule, st *subject, v *vars) {
	switch r.Kind {
	case KindUnitFailed:
		v.subject, v.scope = st.Subject["unit"], st.Subject["scope"]
	case KindAbsence:
		v.unit, v.interval = "seconds", st.Clear
	case KindProbe:
		v.subject, v.scope, v.unit, v.err = probeText(st.Subject), st.Subject["scope"], "", st.Note
	case KindGeneration:
		v.subject, v.unit, v.err = generationText(st.Subject), "", st.Note
	default:
		if r.list != nil {
			v.subject, v.scope = st.Subject[r.list.Key], st.Subject[r.list.ScopeKey]
		}
	}
	if v.subject == "" {
		v.subject = strings.Join(sortedValues(st.Subject), " ")
	}
}

func sortedValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out
}

func sortedSubjects(m map[string]*subject) []*subject {
	out := make([]*subject, 0, len(m))
	for _, st := range m {
		out = append(out, st)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}
