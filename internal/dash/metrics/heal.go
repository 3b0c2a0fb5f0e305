package metrics

import (
	"sort"
	"strconv"

	"github.com/lmn-heal/lmn/internal/dash"
	"github.com/lmn-heal/lmn/internal/record"
)

func issues(e *expo, m *dash.Model) {
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
	outcomes := make([]dash.OutcomeKey, 0, len(m.Outcomes))
	for k := range m.Outcomes {
		outcomes = append(outcomes, k)
	}
	sort.Slice(outcomes, func(i, j int) bool {
		a, b := outcomes[i], outcomes[j]
		return a.Action+"\x00"+a.Tier+"\x00"+a.Outcome < b.Action+"\x00"+b.Tier+"\x00"+b.Outcome
	})
	e.family("lmn_heal_actions_total", "counter", "Heal steps finished, by action, tier and outcome (succeeded, failed, advised).")
	for _, k := range outcomes {
		e.sample("", float64(m.Outcomes[k]), "action", k.Action, "tier", k.Tier, "outcome", k.Outcome)
	}
	verified := make([]dash.VerifyKey, 0, len(m.Verified))
	for k := range m.Verified {
		verified = append(verified, k)
	}
	sort.Slice(verified, func(i, j int) bool {
		return verified[i].Action+"\x00"+verified[i].Outcome < verified[j].Action+"\x00"+verified[j].Outcome
	})
	e.family("lmn_heal_verifications_total", "counter", "Heal verifications, by action and outcome (recovered, not_recovered, worse).")
	for _, k := range verified {
		e.sample("", float64(m.Verified[k]), "action", k.Action, "outcome", k.Outcome)
	}
	durations(e, m)
	e.family("lmn_heal_breaker_retry_timestamp_seconds", "gauge", "For each open circuit breaker, when it allows a retry (Unix seconds).")
	for _, b := range m.OpenBreakers() {
		e.sample("", unix(b.RetryAt), "action", b.Action, "issue", b.Issue, "rule", b.Rule)
	}
}

func durations(e *expo, m *dash.Model) {
	actions := make([]string, 0, len(m.Durations))
	for a := range m.Durations {
		actions = append(actions, a)
	}
	sort.Strings(actions)
	e.family("lmn_heal_duration_seconds", "histogram", "How long finished heal steps took, by action.")
	for _, a := range actions {
		h := m.Durations[a]
		var cum uint64
		for i, le := range dash.DurationBuckets {
			cum += h.Counts[i]
			e.sample("_bucket", float64(cum), "action", a, "le", strconv.FormatFloat(le, 'g', -1, 64))
		}
		e.sample("_bucket", float64(h.Count), "action", a, "le", "+Inf")
		e.sample("_sum", h.Sum, "action", a)
		e.sample("_count", float64(h.Count), "action", a)
	}
}
