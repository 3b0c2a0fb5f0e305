package metrics

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/lmn-heal/lmn/internal/dash"
	"github.com/lmn-heal/lmn/internal/record"
)

func issues(e *expo, m *dash.Model, now time.Time) {
	firing := m.FiringIssues()
	e.family("lmn_issues_firing", "gauge", "Firing issues, by severity.")
	for _, sev := range []string{record.SeverityWarning, record.SeverityCritical} {
		n := 0
		for _, is := range firing {
			if is.Severity == sev {
				n++
			}
		}
		e.sample("", float64(n), "severity", sev)
	}
	type ruleKey struct{ rule, severity string }
	byRule := map[ruleKey]int{}
	for _, is := range firing {
		byRule[ruleKey{is.Rule, is.Severity}]++
	}
	e.family("lmn_rule_issues_firing", "gauge", "Firing issues, by rule and severity.")
	for _, k := range slices.SortedFunc(maps.Keys(byRule), func(a, b ruleKey) int {
		return cmp.Or(cmp.Compare(a.rule, b.rule), cmp.Compare(a.severity, b.severity))
	}) {
		e.sample("", float64(byRule[k]), "rule", k.rule, "severity", k.severity)
	}
	e.family("lmn_issue_age_seconds", "gauge", "How long each firing issue has been firing, from its first firing record to now (wall clock).")
	for _, is := range firing {
		if age, ok := m.Age(is.ID, now); ok {
			e.sample("", age.Seconds(), issueLabels(is)...)
		}
	}
	e.family("lmn_issue_firing", "gauge", "1 for each firing issue; labels are its id, rule, severity and subject.")
	for _, is := range firing {
		e.sample("", 1, issueLabels(is)...)
	}
	e.family("lmn_issue_value", "gauge", "The value that made each firing issue fire.")
	for _, is := range firing {
		e.sample("", is.Value, issueLabels(is)...)
	}
	e.family("lmn_issue_eta_seconds", "gauge", "For firing trend issues, the time until the limit is reached.")
	for _, is := range firing {
		if is.ETASeconds != nil {
			e.sample("", *is.ETASeconds, issueLabels(is)...)
		}
	}
	e.family("lmn_issue_since_timestamp_seconds", "gauge", "When each firing issue's condition began (Unix seconds).")
	for _, is := range firing {
		e.sample("", unix(is.Since.Time), issueLabels(is)...)
	}
}

func issueLabels(is *record.Issue) []string {
	return subjectLabels([]string{"id", is.ID, "rule", is.Rule, "severity", is.Severity}, is.Subject)
}

func heal(e *expo, m *dash.Model) {
	outcomes := make(map[dash.OutcomeKey]uint64, len(m.Outcomes))
	verified := make(map[dash.VerifyKey]uint64, len(m.Verified))
	gaveUp := map[string]uint64{}
	// The series lmn-heal's start record makes known, at zero until
	// their first event.
	for _, a := range m.HealActions {
		for _, t := range m.HealTiers {
			if t == record.TierAdvise {
				outcomes[dash.OutcomeKey{Action: a, Tier: t, Outcome: "advised"}] = 0
				continue
			}
			outcomes[dash.OutcomeKey{Action: a, Tier: t, Outcome: record.PhaseSucceeded}] = 0
			outcomes[dash.OutcomeKey{Action: a, Tier: t, Outcome: record.PhaseFailed}] = 0
		}
		for _, o := range []string{record.OutcomeRecovered, record.OutcomeNotRecovered, record.OutcomeWorse} {
			verified[dash.VerifyKey{Action: a, Outcome: o}] = 0
		}
		gaveUp[a] = 0
	}
	if m.HealActions != nil {
		outcomes[dash.OutcomeKey{Action: record.TierAdvise, Tier: record.TierAdvise, Outcome: "advised"}] = 0
	}
	maps.Copy(outcomes, m.Outcomes)
	maps.Copy(verified, m.Verified)
	maps.Copy(gaveUp, m.GaveUp)
	e.family("lmn_heal_actions_total", "counter", "Heal steps finished, by action, tier and outcome (succeeded, failed, advised).")
	for _, k := range slices.SortedFunc(maps.Keys(outcomes), func(a, b dash.OutcomeKey) int {
		return cmp.Or(cmp.Compare(a.Action, b.Action), cmp.Compare(a.Tier, b.Tier), cmp.Compare(a.Outcome, b.Outcome))
	}) {
		e.sample("", float64(outcomes[k]), "action", k.Action, "tier", k.Tier, "outcome", k.Outcome)
	}
	e.family("lmn_heal_verifications_total", "counter", "Heal verifications, by action and outcome (recovered, not_recovered, worse).")
	for _, k := range slices.SortedFunc(maps.Keys(verified), func(a, b dash.VerifyKey) int {
		return cmp.Or(cmp.Compare(a.Action, b.Action), cmp.Compare(a.Outcome, b.Outcome))
	}) {
		e.sample("", float64(verified[k]), "action", k.Action, "outcome", k.Outcome)
	}
	e.family("lmn_heal_gave_up_total", "counter", "Times lmn-heal gave up behind an open circuit breaker, by action.")
	for _, a := range slices.Sorted(maps.Keys(gaveUp)) {
		e.sample("", float64(gaveUp[a]), "action", a)
	}
	histograms(e, "lmn_heal_duration_seconds", "How long finished heal steps took, by action.", m.Durations, m.HealActions, dash.DurationBuckets)
	histograms(e, "lmn_heal_time_to_recover_seconds", "From an issue firing to the verification that it recovered, by the action of that step.",
		m.Recovery, m.HealActions, dash.RecoveryBuckets)
	if m.HealActions != nil || len(m.Breakers) > 0 {
		e.gauge("lmn_heal_breakers_open", "Circuit breakers open: lmn-heal gave up on an action for an issue until its retry.", float64(len(m.Breakers)))
	}
	e.family("lmn_heal_breaker_retry_timestamp_seconds", "gauge", "For each open circuit breaker, when it allows a retry (Unix seconds).")
	for _, b := range m.OpenBreakers() {
		e.sample("", unix(b.RetryAt), "action", b.Action, "issue", b.Issue, "rule", b.Rule)
	}
}

// histograms writes one histogram per action: those observed, and at zero
// the known ones not observed yet.
func histograms(e *expo, name, help string, hs map[string]*dash.Histogram, known []string, bounds []float64) {
	all := maps.Clone(hs)
	for _, a := range known {
		if all[a] == nil {
			all[a] = &dash.Histogram{Bounds: bounds}
		}
	}
	e.family(name, "histogram", help)
	for _, a := range slices.Sorted(maps.Keys(all)) {
		h := all[a]
		var cum uint64
		for i, le := range h.Buckets() {
			if h.Counts != nil {
				cum += h.Counts[i]
			}
			e.sample("_bucket", float64(cum), "action", a, "le", strconv.FormatFloat(le, 'g', -1, 64))
		}
		e.sample("_bucket", float64(h.Count), "action", a, "le", "+Inf")
		e.sample("_sum", h.Sum, "action", a)
		e.sample("_count", float64(h.Count), "action", a)
	}
}
