package dash

import (
	"slices"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// What a fleet alerts on (lmn_heal_*, lmn_issue_age_seconds, lmn_pipe_up):
// the series lmn-heal may write are known from its start record, so they
// are exported at zero before their first event and Prometheus' increase()
// sees the first heal; and each issue's first firing is remembered so its
// recovery can be timed.

// RecoveryBuckets are the upper bounds, in seconds, of the time from an
// issue firing to its recovered verification.
var RecoveryBuckets = []float64{1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

// healSettings reads the actions and tiers of lmn-heal's start record.
func (m *Model) healSettings(line record.Line, src string) {
	if src != "lmn-heal" {
		return
	}
	var st struct {
		Settings struct {
			Actions []string `json:"actions"`
			Tiers   []string `json:"tiers"`
		} `json:"settings"`
	}
	if line.Decode(&st) != nil {
		return
	}
	m.HealActions = bound(st.Settings.Actions)
	m.HealTiers = bound(st.Settings.Tiers)
}

// bound keeps at most MaxKeys names, sorted, without repeats.
func bound(names []string) []string {
	out := slices.Compact(slices.Sorted(slices.Values(names)))
	if len(out) > MaxKeys {
		out = out[:MaxKeys]
	}
	return out
}

// Firing is when an issue fired: its first firing record since it last
// resolved. Resolved, it is kept for the verification that follows.
type Firing struct {
	At       time.Time
	Resolved bool
}

// fired remembers an issue's first firing record; past MaxIssues resolved
// entries are forgotten.
func (m *Model) fired(is *record.Issue) {
	if f, ok := m.Fired[is.ID]; ok && !f.Resolved {
		return
	}
	if len(m.Fired) >= MaxIssues {
		for id, f := range m.Fired {
			if f.Resolved {
				delete(m.Fired, id)
			}
		}
		if len(m.Fired) >= MaxIssues {
			return
		}
	}
	m.Fired[is.ID] = Firing{At: is.TS.Time}
}

// resolvedIssue marks an issue's firing resolved.
func (m *Model) resolvedIssue(id string) {
	if f, ok := m.Fired[id]; ok {
		f.Resolved = true
		m.Fired[id] = f
	}
}

// verified times a recovery, from the issue's first firing to h, and
// forgets a resolved firing.
func (m *Model) verified(h *record.Heal) {
	f, ok := m.Fired[h.Issue]
	if !ok {
		return
	}
	if f.Resolved {
		delete(m.Fired, h.Issue)
	}
	at := f.At
	if h.Outcome != record.OutcomeRecovered || h.TS.Before(at) {
		return
	}
	action := bounded(m.Recovery, h.Action, Other)
	hist := m.Recovery[action]
	if hist == nil {
		hist = &Histogram{Bounds: RecoveryBuckets}
		m.Recovery[action] = hist
	}
	hist.Observe(h.TS.Sub(at).Seconds())
}

// Age is how long the issue id has been firing at now, from its first
// firing record; ok is false when that is not known.
func (m *Model) Age(id string, now time.Time) (time.Duration, bool) {
	f, ok := m.Fired[id]
	if !ok || f.Resolved {
		return 0, false
	}
	return now.Sub(f.At), true
}

// PipeUp reports whether the pipe is alive at now: a record came within
// the larger of a minute and three sample intervals.
func (m *Model) PipeUp(now time.Time) bool {
	if m.LastTS.IsZero() {
		return false
	}
	limit := max(time.Minute, 3*m.SampleGap)
	return now.Sub(m.LastTS) <= limit
}
