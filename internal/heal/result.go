package heal

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/record"
)

// What a job's result does to its ladder, and the records that say so.

// Complete takes the result of a job handed out by Drain, then advances
// every ladder. An unknown id is ignored.
func (e *Engine) Complete(id uint64, r Result) {
	e.complete(id, r)
	e.tick()
}

func (e *Engine) complete(id uint64, r Result) {
	f, ok := e.inflight[id]
	if !ok {
		return
	}
	if f.job.Check {
		e.checked(f, r)
		return
	}
	e.land(f)
	if f.job.Undo {
		e.restored(f, r)
		return
	}
	if f.job.MarkGood {
		e.marked(f, r)
		return
	}
	t := f.issue
	h := e.healOf(t, f.job.Action, f.job.Params, "", 0)
	h.Tier, h.Denied = r.Tier, r.Denied
	if !e.cfg.DryRun {
		h.DurationMS = ms(r.Duration)
	}
	switch {
	case r.Tier == record.TierAdvise:
		e.unrecord(f)
		h.Phase, h.Advice = record.PhaseAdvised, r.Advice
		e.emit(h)
		e.dropSaved(f.target, t.ID)
		t.Phase, t.Deadline = phaseDone, time.Time{}
	case r.Err != "":
		h.Phase, h.Error = record.PhaseFailed, r.Err
		h.Attempt = e.attempts(f.key)
		e.emit(h)
		e.dropSaved(f.target, t.ID)
		e.afterFailure(t)
	default:
		if !e.cfg.DryRun {
			h.Phase, h.Attempt = record.PhaseSucceeded, e.attempts(f.key)
			e.emit(h)
		}
		if f.job.Restore {
			e.saveAfter(f.target, r.Undo)
		}
		e.afterSuccess(t)
	}
}

// unrecord takes back the attempt of an action that did not run.
func (e *Engine) unrecord(f *flight) {
	if b := e.st.Breakers[f.key]; b != nil {
		b.forget(f.started)
	}
	for i := len(e.st.Budget) - 1; i >= 0; i-- {
		if e.st.Budget[i].Equal(f.started) {
			e.st.Budget = append(e.st.Budget[:i], e.st.Budget[i+1:]...)
			break
		}
	}
}

func (e *Engine) attempts(key string) int {
	if b := e.st.Breakers[key]; b != nil {
		return len(b.Attempts)
	}
	return 0
}

// afterFailure: a failed action fails its whole step. An issue that
// resolved meanwhile (a reset-failed clears the failed list) ends with the
// unit's real state: down, with advice, or running.
func (e *Engine) afterFailure(t *tracked) {
	switch {
	case t.Cleared:
		if !e.askUnit(t, checkResolved) {
			e.drop(t)
		}
	case t.Worse:
		e.endLadder(t)
	default:
		e.nextStep(t)
		e.queue(t)
	}
}

func (e *Engine) afterSuccess(t *tracked) {
	l := e.cfg.Policy.ladder(t.Ladder)
	if l == nil {
		e.drop(t)
		return
	}
	step := l.Steps[t.Step]
	t.ActedAt = e.now
	switch {
	case t.Worse:
		e.verified(t, record.OutcomeWorse, "", "")
		e.endLadder(t)
	case t.Act+1 < len(step.Actions):
		t.Act++
		t.Phase = phaseReady
		e.queueFront(t) // the step's next action, before anything else
	case t.Cleared:
		e.recover(t)
	default:
		t.Phase = phaseVerifying
		t.Deadline = e.now.Add(step.Verify.D())
		e.wake(t, t.Deadline)
	}
}

// verified writes the end of a step's verification.
func (e *Engine) verified(t *tracked, outcome, unitState, errText string) {
	l := e.cfg.Policy.ladder(t.Ladder)
	h := e.healOf(t, "", nil, record.PhaseVerified, 0)
	h.Outcome, h.UnitState, h.Error = outcome, unitState, errText
	// The probe's result the verdict rests on. A recovered issue that came
	// back while held firing shows its new failure last: lmn-detect's
	// count of the passes in between, which moved its since, stands for
	// them, and the failing result is left out.
	if p, ok := e.probeOf(t); ok && (p.OK || outcome != record.OutcomeRecovered) {
		h.Probe = &p
	}
	if l != nil && t.Step < len(l.Steps) {
		acts := l.Steps[t.Step].Actions
		last := acts[len(acts)-1]
		h.Action = last.Action
		h.Params, _, _ = expandParams(last.Params, t.Vars)
		h.Outcome = outcomeOf(outcome, last.Action)
	}
	e.emit(h)
}

// advise ends a ladder with its advice.
func (e *Engine) advise(t *tracked, l *Ladder) {
	h := e.healOf(t, record.TierAdvise, nil, record.PhaseAdvised, 0)
	h.Tier = record.TierAdvise
	h.Advice = e.adviceText(t, l, "")
	e.emit(h)
	t.Phase, t.Deadline = phaseDone, time.Time{}
	e.move(t)
	if t.Held > 0 {
		e.held[t.ID] = true
	}
}

func (e *Engine) gaveUp(t *tracked, l *Ladder, a planned, n int, retry time.Time) {
	h := e.healOf(t, a.Action, a.params, record.PhaseGaveUp, n)
	cfg := e.cfg.Policy.Breaker
	h.Error = fmt.Sprintf("circuit breaker open: %s tried %d times within %s, its target never up %s in between; one retry at %s",
		a.Action, n, cfg.Window.D(), cfg.HealthyUptime.D(), retry.UTC().Format(time.RFC3339))
	h.Advice = e.adviceText(t, l, e.command(a.Action, a.params, a.scope))
	rt := record.Time{Time: retry}
	h.RetryAt = &rt
	e.emit(h)
	t.Phase, t.Deadline = phaseDone, retry
	e.wake(t, retry)
}

// adviceText is the ladder's advice with every value from the stream
// quoted as one shell word, the command to retry by hand, and the notes.
func (e *Engine) adviceText(t *tracked, l *Ladder, cmd string, more ...string) string {
	quoted := make(map[string]string, len(t.Vars))
	for k, v := range t.Vars {
		if !slices.Contains(trusted, k) {
			v = action.Quote(v)
		}
		quoted[k] = v
	}
	text, _, ok := expand(l.Advice, quoted)
	if !ok {
		text = l.Advice
	}
	parts := []string{text}
	if cmd != "" {
		parts = append(parts, "to retry by hand: "+cmd)
	}
	parts = append(parts, more...)
	parts = append(parts, t.Notes...)
	return strings.Join(parts, "; ")
}

// healOf returns a heal record about t's current step.
func (e *Engine) healOf(t *tracked, action string, params map[string]string, phase string, attempt int) record.Heal {
	return record.Heal{
		Issue: t.ID, Rule: t.Rule, Subject: t.Subject,
		Action: action, Params: params, Step: t.Step + 1, Phase: phase, Attempt: attempt,
	}
}
