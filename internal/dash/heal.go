package dash

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// DurationBuckets are the upper bounds, in seconds, of the heal duration
// histogram.
var DurationBuckets = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// Histogram counts observations into buckets.
type Histogram struct {
	Bounds []float64 // upper bounds of the buckets; nil means DurationBuckets
	Counts []uint64  // per bucket, not cumulative; one more for +Inf
	Sum    float64
	Count  uint64
}

// Buckets are the histogram's upper bounds.
func (h *Histogram) Buckets() []float64 {
	if h.Bounds == nil {
		return DurationBuckets
	}
	return h.Bounds
}

// Observe adds one value.
func (h *Histogram) Observe(v float64) {
	if h.Counts == nil {
		h.Counts = make([]uint64, len(h.Buckets())+1)
	}
	i := sort.SearchFloat64s(h.Buckets(), v)
	h.Counts[i]++
	h.Sum += v
	h.Count++
}

func (m *Model) applyHeal(line record.Line) (record.Header, error) {
	var h record.Heal
	if err := line.Decode(&h); err != nil {
		return h.Header, err
	}
	if h.Action == "" || h.Phase == "" {
		return h.Header, fmt.Errorf("heal record without action or phase")
	}
	switch h.Phase {
	case record.PhaseSucceeded, record.PhaseFailed:
		m.finished(&h)
	case record.PhaseAdvised:
		m.stat(m.ByAction, h.Action).Advised++
		m.stat(m.ByTier, tierOf(&h)).Advised++
		m.Outcomes[bounded(m.Outcomes, OutcomeKey{h.Action, tierOf(&h), "advised"}, OutcomeKey{Other, Other, Other})]++
	case record.PhaseVerified:
		if h.Outcome != "" {
			m.Verified[bounded(m.Verified, VerifyKey{h.Action, h.Outcome}, VerifyKey{Other, Other})]++
			st := m.stat(m.ByAction, h.Action)
			st.Verified++
			if h.Outcome == record.OutcomeRecovered {
				st.Recovered++
			}
		}
		m.verified(&h)
	case record.PhaseGaveUp:
		m.GaveUp[bounded(m.GaveUp, h.Action, Other)]++
		if h.RetryAt != nil {
			m.Breakers[breakerKey(&h)] = &Breaker{Issue: h.Issue, Rule: h.Rule, Action: h.Action,
				Subject: h.Subject, Since: h.TS.Time, RetryAt: h.RetryAt.Time, Error: h.Error}
		}
	case record.PhaseStarted:
		delete(m.Breakers, breakerKey(&h))
	case record.PhasePlanned:
		m.stat(m.ByAction, h.Action).Planned++
	}
	m.advise(&h)
	m.event(h.TS.Time, record.KindHeal, healLevel(&h), healText(&h))
	return h.Header, nil
}

// Advice is what lmn-heal last asked a person to do about an issue, kept
// whole (a command cut short cannot be run) until the issue resolves or
// the ladder acts again.
type Advice struct {
	Issue   string
	Rule    string
	Subject map[string]string
	Action  string
	Step    int
	Phase   string // advised, gave_up or held
	TS      time.Time
	Text    string
}

// advise keeps the advice of h, or forgets the issue's once its ladder
// acts again.
func (m *Model) advise(h *record.Heal) {
	switch {
	case h.Advice != "":
		if _, ok := m.Advice[h.Issue]; !ok && len(m.Advice) >= MaxIssues {
			return
		}
		m.Advice[h.Issue] = &Advice{Issue: h.Issue, Rule: h.Rule, Subject: h.Subject, Action: h.Action,
			Step: h.Step, Phase: h.Phase, TS: h.TS.Time, Text: h.Advice}
	case h.Phase == record.PhaseStarted, h.Phase == record.PhaseSucceeded, h.Phase == record.PhasePlanned:
		delete(m.Advice, h.Issue)
	}
}

// OpenAdvice returns the advice still open, newest first.
func (m *Model) OpenAdvice() []*Advice {
	out := make([]*Advice, 0, len(m.Advice))
	for _, a := range m.Advice {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].TS.Equal(out[j].TS) {
			return out[i].TS.After(out[j].TS)
		}
		return out[i].Issue < out[j].Issue
	})
	return out
}

func (m *Model) finished(h *record.Heal) {
	outcome := h.Phase
	for _, s := range []*HealStat{m.stat(m.ByAction, h.Action), m.stat(m.ByTier, tierOf(h))} {
		if outcome == record.PhaseSucceeded {
			s.Succeeded++
		} else {
			s.Failed++
		}
	}
	m.Outcomes[bounded(m.Outcomes, OutcomeKey{h.Action, tierOf(h), outcome}, OutcomeKey{Other, Other, Other})]++
	if h.DurationMS != nil && *h.DurationMS >= 0 {
		action := bounded(m.Durations, h.Action, Other)
		hist := m.Durations[action]
		if hist == nil {
			hist = &Histogram{}
			m.Durations[action] = hist
		}
		hist.Observe(*h.DurationMS / 1000)
	}
	if outcome == record.PhaseSucceeded {
		delete(m.Breakers, breakerKey(h))
	}
}

func (m *Model) stat(by map[string]*HealStat, key string) *HealStat {
	key = bounded(by, key, Other)
	s := by[key]
	if s == nil {
		s = &HealStat{}
		by[key] = s
	}
	return s
}

// MaxKeys bounds each map keyed by names from the stream (kinds, sources,
// actions, tiers, outcomes), so a stream of ever new names cannot grow the
// model without end; names past the bound are counted under Other.
const MaxKeys = 256

// Other is the name counted for names past MaxKeys.
const Other = "other"

func bounded[K comparable, V any](m map[K]V, k, other K) K {
	if _, ok := m[k]; ok || len(m) < MaxKeys {
		return k
	}
	return other
}

func (m *Model) closeBreakers(issue string) {
	for k, b := range m.Breakers {
		if b.Issue == issue {
			delete(m.Breakers, k)
		}
	}
}

// OpenBreakers returns the open breakers, soonest retry first.
func (m *Model) OpenBreakers() []*Breaker {
	out := make([]*Breaker, 0, len(m.Breakers))
	for _, b := range m.Breakers {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].RetryAt.Equal(out[j].RetryAt) {
			return out[i].RetryAt.Before(out[j].RetryAt)
		}
		return out[i].Issue+out[i].Action < out[j].Issue+out[j].Action
	})
	return out
}

// SortedKeys returns the keys of a stat map in order.
func SortedKeys(by map[string]*HealStat) []string {
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func breakerKey(h *record.Heal) string { return h.Issue + "\x00" + h.Action }

func tierOf(h *record.Heal) string {
	if h.Tier == "" {
		return "none"
	}
	return h.Tier
}

func healLevel(h *record.Heal) Level {
	switch h.Phase {
	case record.PhaseFailed, record.PhaseGaveUp:
		return LevelCritical
	case record.PhaseAdvised:
		return LevelWarning
	case record.PhaseVerified:
		if h.Outcome != record.OutcomeRecovered {
			return LevelWarning
		}
	}
	return LevelOK
}

func healText(h *record.Heal) string {
	var b strings.Builder
	if h.Phase == record.PhasePlanned {
		// --dry-run: nothing ran; say what would have.
		fmt.Fprintf(&b, "PLAN step %d %s", h.Step, h.Action)
		if p := SubjectString(h.Params); p != "" {
			fmt.Fprintf(&b, " %s", p)
		} else if s := SubjectString(h.Subject); s != "" {
			fmt.Fprintf(&b, " %s", s)
		}
		b.WriteString(" (dry run: not run)")
		return b.String()
	}
	fmt.Fprintf(&b, "HEAL %s %s", h.Action, strings.ToUpper(h.Phase))
	if h.Tier != "" {
		fmt.Fprintf(&b, " via %s", h.Tier)
	}
	if s := SubjectString(h.Subject); s != "" {
		fmt.Fprintf(&b, " %s", s)
	}
	if h.Outcome != "" {
		fmt.Fprintf(&b, " %s", h.Outcome)
	}
	if h.DurationMS != nil {
		fmt.Fprintf(&b, " in %s", time.Duration(*h.DurationMS*float64(time.Millisecond)).Round(time.Millisecond))
	}
	if h.RetryAt != nil {
		fmt.Fprintf(&b, " retry at %s", h.RetryAt.UTC().Format("15:04:05"))
	}
	switch {
	case h.Error != "":
		fmt.Fprintf(&b, ": %s", h.Error)
	case h.Advice != "":
		fmt.Fprintf(&b, ": %s", h.Advice)
	}
	return b.String()
}
