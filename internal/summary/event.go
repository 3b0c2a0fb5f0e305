// Package summary says what lmn did, for a person: one line per event as
// it happens (an issue firing or resolving, a heal step), which lmn-detect
// and lmn-heal write on stderr and so into the journal, and a report over
// a recorded stream ("what did lmn do in the last hour"), in the spirit of
// monit summary: issues fired and resolved, heal steps by outcome, per
// subject. It reads records only.
package summary

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/lmn-heal/lmn/internal/record"
)

// Subject names an issue's subject as a person reads it: "unit
// flaky.service (user)", "mount /home", "probe redis", or "machine" for a
// machine-wide issue.
func Subject(s map[string]string) string {
	if len(s) == 0 {
		return "machine"
	}
	var parts []string
	scope := s["scope"]
	for _, k := range []string{"unit", "probe", "mount", "device", "interface", "sensor", "alertname"} {
		if v := s[k]; v != "" {
			parts = append(parts, k+" "+v)
		}
	}
	if len(parts) == 0 { // keys lmn does not know: all of them, sorted
		for _, k := range slices.Sorted(maps.Keys(s)) {
			if k != "scope" {
				parts = append(parts, k+" "+s[k])
			}
		}
	}
	out := strings.Join(parts, ", ")
	if scope == "user" {
		out += " (user)"
	}
	if out == "" {
		return "machine"
	}
	return out
}

// LogIssue writes the one line an issue record is worth on log: "issue
// firing" (warning) or "issue resolved" (info), with its rule, subject,
// severity, summary and id.
func LogIssue(log *slog.Logger, is *record.Issue) {
	level, msg := slog.LevelWarn, "issue firing"
	if is.State == record.StateResolved {
		level, msg = slog.LevelInfo, "issue resolved"
	}
	attrs := []any{"rule", is.Rule, "subject", Subject(is.Subject)}
	if is.State != record.StateResolved {
		attrs = append(attrs, "severity", is.Severity)
	}
	if is.Flapping {
		attrs = append(attrs, "flapping", true)
	}
	attrs = append(attrs, "summary", is.Summary, "issue", is.ID)
	log.Log(context.Background(), level, msg, attrs...)
}

// LogHeal writes the one line a heal record is worth on log: "heal " and
// its phase (started, succeeded, failed, verified, advised, gave_up, held,
// restored, planned), with the issue's rule and subject, the action and
// what came of it. A failure, an outcome other than recovered, and giving
// up are warnings.
func LogHeal(log *slog.Logger, h *record.Heal) {
	level := slog.LevelInfo
	switch {
	case h.Phase == record.PhaseFailed, h.Phase == record.PhaseGaveUp,
		h.Phase == record.PhaseVerified && h.Outcome != record.OutcomeRecovered:
		level = slog.LevelWarn
	}
	attrs := []any{"rule", h.Rule, "subject", Subject(h.Subject)}
	if h.Action != "" {
		attrs = append(attrs, "action", h.Action)
	}
	if t := target(h.Params); t != "" {
		attrs = append(attrs, "target", t)
	}
	if h.Step > 0 {
		attrs = append(attrs, "step", h.Step)
	}
	if h.Tier != "" {
		attrs = append(attrs, "tier", h.Tier)
	}
	if h.Outcome != "" {
		attrs = append(attrs, "outcome", h.Outcome)
	}
	if h.Error != "" {
		attrs = append(attrs, "error", h.Error)
	}
	if h.RetryAt != nil {
		attrs = append(attrs, "retry_at", h.RetryAt.UTC().Format("15:04:05Z"))
	}
	if h.Advice != "" {
		attrs = append(attrs, "advice", h.Advice)
	}
	attrs = append(attrs, "issue", h.Issue)
	log.Log(context.Background(), level, "heal "+h.Phase, attrs...)
}

// target is what an action acts on, from its params: the unit, mount or
// pid, or all params when none of those.
func target(p map[string]string) string {
	for _, k := range []string{"unit", "mount", "pid", "generation"} {
		if v := p[k]; v != "" {
			return v
		}
	}
	return ""
}
