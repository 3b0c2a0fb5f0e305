package heal

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// Phases of a tracked issue's ladder.
const (
	phaseReady     = "ready"     // the current action may start when bounds allow
	phaseRunning   = "running"   // the current action was handed out
	phaseVerifying = "verifying" // the step acted; waiting for the issue to resolve
	phaseDone      = "done"      // advised or gave up; waits for resolve or RetryAt
)

// tracked is one firing issue and where its ladder stands.
type tracked struct {
	ID       string            `json:"id"`
	Rule     string            `json:"rule"`
	Subject  map[string]string `json:"subject,omitempty"`
	Severity string            `json:"severity"`
	Ladder   string            `json:"ladder"`
	Vars     map[string]string `json:"vars"`
	Step     int               `json:"step"` // 0-based index into the ladder's steps
	Act      int               `json:"act"`  // 0-based index into the step's actions
	Phase    string            `json:"phase"`
	// Deadline ends a verification window (verifying) or an open
	// breaker's wait (done; zero: until the issue resolves).
	Deadline time.Time `json:"deadline,omitzero"`
	Resolved bool      `json:"resolved,omitempty"` // resolved while its action ran
	Worse    bool      `json:"worse,omitempty"`    // severity rose while its action ran
	Notes    []string  `json:"notes,omitempty"`
	gone     bool
}

func severityRank(s string) int {
	switch s {
	case record.SeverityCritical:
		return 2
	case record.SeverityWarning:
		return 1
	}
	return 0
}

// issue takes an issue record.
func (e *Engine) issue(is record.Issue) {
	t := e.find(is.ID)
	switch is.State {
	case record.StateResolved:
		e.ownerFiring(is.ID, false)
		if t != nil {
			e.resolved(t)
		}
		return
	case record.StateFiring:
	default:
		return
	}
	e.ownerFiring(is.ID, true)
	if t == nil {
		e.track(is)
		return
	}
	rose := severityRank(is.Severity) > severityRank(t.Severity)
	t.Severity = is.Severity
	t.Resolved = false
	if !rose {
		return
	}
	switch t.Phase {
	case phaseVerifying:
		e.verified(t, record.OutcomeWorse)
		e.endLadder(t)
	case phaseRunning:
		t.Worse = true
	}
}

func (e *Engine) track(is record.Issue) {
	vars := e.vars(is)
	l := e.cfg.Policy.Find(is.Rule, vars)
	if l == nil {
		return
	}
	e.st.Issues = append(e.st.Issues, &tracked{
		ID: is.ID, Rule: is.Rule, Subject: maps.Clone(is.Subject), Severity: is.Severity,
		Ladder: l.Name, Vars: vars, Phase: phaseReady,
	})
}

func (e *Engine) resolved(t *tracked) {
	switch t.Phase {
	case phaseRunning:
		t.Resolved = true
	case phaseVerifying:
		e.verified(t, record.OutcomeRecovered)
		t.gone = true
	default:
		t.gone = true
	}
}

// endLadder skips the remaining steps: the next advance advises.
func (e *Engine) endLadder(t *tracked) {
	if l := e.cfg.Policy.ladder(t.Ladder); l != nil {
		t.Step = len(l.Steps)
	}
	t.Act = 0
	t.Phase = phaseReady
}

func (e *Engine) nextStep(t *tracked) {
	t.Step++
	t.Act = 0
	t.Phase = phaseReady
}

// advance moves one ladder as far as the clock and the bounds allow.
func (e *Engine) advance(t *tracked) {
	l := e.cfg.Policy.ladder(t.Ladder)
	if l == nil { // the policy changed since the state was saved
		t.gone = true
		return
	}
	if t.Step < len(l.Steps) && t.Act >= len(l.Steps[t.Step].Actions) {
		t.Act = 0 // the policy changed since the state was saved
	}
	switch t.Phase {
	case phaseVerifying:
		if e.now.Before(t.Deadline) {
			return
		}
		e.verified(t, record.OutcomeNotRecovered)
		e.nextStep(t)
	case phaseDone:
		if t.Deadline.IsZero() || e.now.Before(t.Deadline) {
			return
		}
		t.Deadline = time.Time{} // the half-open retry, at the same step
		t.Phase = phaseReady
	case phaseRunning:
		return
	}
	e.tryStart(t, l)
}

// tryStart starts the ladder's current action if every bound allows.
func (e *Engine) tryStart(t *tracked, l *Ladder) {
	if e.holds(t, l) {
		return
	}
	if t.Step < len(l.Steps) && (e.running >= e.cfg.Policy.Concurrency || len(e.st.Budget) >= e.cfg.Policy.Budget.MaxActions) {
		return // cheap test first: a storm waits here
	}
	a, params, ok := e.current(t, l)
	if !ok {
		return
	}
	scope := actScope(t, params)
	target := e.target(a.Action, params, scope)
	subject := subjectKey(t.Subject)
	if e.busy[subject] > 0 || e.busy[target] > 0 || e.running >= e.cfg.Policy.Concurrency {
		return
	}
	key := a.Action + " " + target
	b := e.breaker(key)
	v, until := b.check(e.cfg.Policy.Breaker, e.now)
	switch v {
	case wait:
		return
	case tripped:
		e.gaveUp(t, l, a.Action, params, len(b.Attempts), until)
		return
	}
	if len(e.st.Budget) >= e.cfg.Policy.Budget.MaxActions {
		return
	}
	b.record(e.now, v)
	e.st.Budget = append(e.st.Budget, e.now)
	job := Job{ID: e.st.NextID, Issue: t.ID, Action: a.Action, Params: params, Scope: scope, Restore: a.Restore}
	e.st.NextID++
	e.hand(&flight{job: job, issue: t, key: key, subject: subject, target: target, started: e.now})
	t.Phase = phaseRunning
	if a.Restore && !e.cfg.DryRun {
		e.saveBefore(target, t, a.Action, params)
	}
	phase := record.PhaseStarted
	if e.cfg.DryRun {
		phase = record.PhasePlanned
	}
	e.emit(e.healOf(t, a.Action, params, phase, len(b.Attempts)))
	if e.cfg.DryRun {
		e.complete(job.ID, Result{})
		if t.Phase == phaseReady && !t.gone {
			e.tryStart(t, l) // the step's next action
		}
	}
}

// current returns the ladder's current action with its params filled in,
// skipping steps whose params the stream cannot fill. ok is false when
// nothing is left to start (the ladder advised).
func (e *Engine) current(t *tracked, l *Ladder) (Act, map[string]string, bool) {
	for t.Step < len(l.Steps) {
		a := l.Steps[t.Step].Actions[t.Act]
		params, missing, ok := expandParams(a.Params, t.Vars)
		if ok {
			return a, params, true
		}
		t.Notes = append(t.Notes, fmt.Sprintf("step %d (%s) skipped: the stream gives no %s", t.Step+1, a.Action, missing))
		e.nextStep(t)
	}
	e.advise(t, l)
	return Act{}, nil, false
}

// hand puts a flight in the air: its job goes to the caller.
func (e *Engine) hand(f *flight) {
	e.inflight[f.job.ID] = f
	e.running++
	e.busy[f.subject]++
	e.busy[f.target]++
	e.busy[f.key]++
	if !e.cfg.DryRun {
		e.jobs = append(e.jobs, f.job)
	}
}

func (e *Engine) land(f *flight) {
	delete(e.inflight, f.job.ID)
	e.running--
	for _, k := range []string{f.subject, f.target, f.key} {
		if e.busy[k]--; e.busy[k] <= 0 {
			delete(e.busy, k)
		}
	}
}

func (e *Engine) breaker(key string) *breaker {
	b := e.st.Breakers[key]
	if b == nil {
		b = &breaker{State: breakerClosed}
		e.st.Breakers[key] = b
	}
	return b
}

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
	e.land(f)
	if f.job.Undo {
		e.restored(f, r)
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

func (e *Engine) afterFailure(t *tracked) {
	if t.Resolved {
		t.gone = true
		return
	}
	if t.Worse {
		e.endLadder(t)
		return
	}
	e.nextStep(t)
}

func (e *Engine) afterSuccess(t *tracked) {
	l := e.cfg.Policy.ladder(t.Ladder)
	if l == nil {
		t.gone = true
		return
	}
	step := l.Steps[t.Step]
	switch {
	case t.Worse:
		e.verified(t, record.OutcomeWorse)
		e.endLadder(t)
	case t.Resolved:
		e.verified(t, record.OutcomeRecovered)
		t.gone = true
	case t.Act+1 < len(step.Actions):
		t.Act++
		t.Phase = phaseReady
	default:
		t.Phase = phaseVerifying
		t.Deadline = e.now.Add(step.Verify.D())
	}
}

func (e *Engine) verified(t *tracked, outcome string) {
	l := e.cfg.Policy.ladder(t.Ladder)
	h := e.healOf(t, "", nil, record.PhaseVerified, 0)
	h.Outcome = outcome
	if l != nil && t.Step < len(l.Steps) {
		acts := l.Steps[t.Step].Actions
		last := acts[len(acts)-1]
		h.Action = last.Action
		h.Params, _, _ = expandParams(last.Params, t.Vars)
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
}

func (e *Engine) gaveUp(t *tracked, l *Ladder, action string, params map[string]string, n int, retry time.Time) {
	h := e.healOf(t, action, params, record.PhaseGaveUp, n)
	cfg := e.cfg.Policy.Breaker
	h.Error = fmt.Sprintf("circuit breaker open: %s tried %d times within %s; one retry at %s",
		action, n, cfg.Window.D(), retry.UTC().Format(time.RFC3339))
	h.Advice = e.adviceText(t, l, e.command(action, params, actScope(t, params)))
	rt := record.Time{Time: retry}
	h.RetryAt = &rt
	e.emit(h)
	t.Phase, t.Deadline = phaseDone, retry
}

func (e *Engine) adviceText(t *tracked, l *Ladder, cmd string) string {
	text, _, ok := expand(l.Advice, t.Vars)
	if !ok {
		text = l.Advice
	}
	parts := []string{text}
	if cmd != "" {
		parts = append(parts, "to retry by hand: "+cmd)
	}
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
