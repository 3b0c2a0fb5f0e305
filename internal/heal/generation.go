package heal

import (
	"maps"

	"github.com/lmn-heal/lmn/internal/record"
)

// NixOS generations. lmn-detect's generation_unhealthy judges a change of
// the running system; the policy's ladder for it rolls back with
// switch_generation (through lmn-privd, which keeps the record of rejected
// generations and the bounds), and a step of it that healed the issue is
// verified with outcome rolled_back. A change judged healthy comes as a
// resolved record of an issue that never fired: lmn-heal then has lmn-privd
// mark that generation known good (mark_generation_good), the one a later
// rollback goes back to, when the policy answers the rule at all.

// Actions on generations; both run only through lmn-privd.
const (
	rollbackAction = "switch_generation"
	markGoodAction = "mark_generation_good"
)

// outcomeOf is the outcome of a verified step whose last action was
// action: a recovery by a rollback is said as such.
func outcomeOf(outcome, action string) string {
	if outcome == record.OutcomeRecovered && action == rollbackAction {
		return record.OutcomeRolledBack
	}
	return outcome
}

// verdict takes a resolved generation_unhealthy record of an issue no
// ladder tracks: lmn-detect judged the system it names healthy after its
// settle window. Nothing is asked while paused, in a dry run (a planned
// record says what would run), for a system that is no generation, or
// when the policy does not answer the rule (lmn does not roll back here,
// so it keeps no known-good generation either).
func (e *Engine) verdict(is record.Issue) {
	n := is.Subject["generation"]
	if is.Rule != record.RuleGenerationUnhealthy || n == "" || e.pause.on != nil ||
		e.cfg.Policy.Find(is.Rule, e.vars(is)) == nil {
		return
	}
	params := map[string]string{"generation": n}
	target := e.target(markGoodAction, params, "")
	if e.cfg.DryRun {
		e.emit(record.Heal{Issue: is.ID, Rule: is.Rule, Subject: is.Subject, Action: markGoodAction, Params: params,
			Phase: record.PhasePlanned})
		return
	}
	if e.busy[target] > 0 {
		return // a switch runs: what it leaves running is judged anew
	}
	job := Job{ID: e.st.NextID, Issue: is.ID, Action: markGoodAction, Params: params, MarkGood: true}
	e.st.NextID++
	e.hand(&flight{job: job, key: markGoodAction + " " + target, subject: subjectKey(is.Subject), target: target,
		started: e.now, about: &markedIssue{rule: is.Rule, subject: maps.Clone(is.Subject)}})
}

// markedIssue is what a MarkGood job's record names.
type markedIssue struct {
	rule    string
	subject map[string]string
}

// marked records the end of a MarkGood job: step 0, as a restore, since it
// is no step of a ladder. A tier that could not act (no lmn-privd) writes
// nothing: marking is a courtesy to a later rollback, not a repair.
func (e *Engine) marked(f *flight, r Result) {
	if r.Tier == record.TierAdvise {
		return
	}
	h := record.Heal{Issue: f.job.Issue, Rule: f.about.rule, Subject: f.about.subject, Action: f.job.Action,
		Params: f.job.Params, Phase: record.PhaseSucceeded, Tier: r.Tier, Denied: r.Denied, DurationMS: ms(r.Duration)}
	if r.Err != "" {
		h.Phase, h.Error = record.PhaseFailed, r.Err
	}
	e.emit(h)
}
