package heal

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// Phases of a tracked issue's ladder.
const (
	phaseReady     = "ready"     // the current step may start when bounds allow
	phaseRunning   = "running"   // the current action was handed out
	phaseVerifying = "verifying" // the step acted; waiting for the issue to resolve
	phaseChecking  = "checking"  // asking for the real state of the unit the step acted on
	phaseDone      = "done"      // advised, gave up or recovered; waits for resolve, a new failure or RetryAt
)

// tracked is one firing issue and where its ladder stands.
type tracked struct {
	ID       string            `json:"id"`
	Seq      uint64            `json:"seq"` // the order issues were tracked in
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
	// Since is when the issue's condition began, as its latest record
	// says; a later since is a new failure. FailedAt is when the failure
	// this round of the ladder answers began.
	Since    time.Time `json:"since,omitzero"`
	FailedAt time.Time `json:"failed_at,omitzero"`
	// Keys are the breakers of the attempts made this round.
	Keys []string `json:"keys,omitempty"`
	// Held is the first step held back for a stronger signal (1-based).
	Held     int      `json:"held,omitempty"`
	CheckFor string   `json:"check_for,omitempty"`
	Cleared  bool     `json:"cleared,omitempty"`  // the stream says resolved
	Flapping bool     `json:"flapping,omitempty"` // lmn-detect holds it firing
	Worse    bool     `json:"worse,omitempty"`    // severity rose while its action ran
	Notes    []string `json:"notes,omitempty"`
	// ActedAt is when the current step's last action succeeded: a probe
	// must pass after it for the step to have healed (check.go).
	ActedAt time.Time `json:"acted_at,omitzero"`

	gone bool
	gen  uint64 // bumped by every move between queues (sched.go)
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

func sortTracked(ts []*tracked) {
	slices.SortFunc(ts, func(a, b *tracked) int { return int(a.Seq - b.Seq) })
}

// issue takes an issue record.
func (e *Engine) issue(is record.Issue) {
	t := e.issues[is.ID]
	switch is.State {
	case record.StateResolved:
		e.ownerFiring(is.ID, false)
		if t != nil {
			e.resolved(t)
		} else {
			e.verdict(is)
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
	since := sinceOf(is)
	t.Cleared, t.Flapping = false, is.Flapping
	if since.After(t.Since) {
		t.Since = since
		switch t.Phase {
		case phaseDone:
			e.newRound(t, since) // it failed again after the ladder ended
			return
		case phaseVerifying:
			if !is.Flapping {
				break
			}
			// The condition ended and came back within the window, its end
			// hidden by lmn-detect's flapping hold: the step healed it
			// until now, and this is a new failure.
			e.recovered(t, "", "unit state not read: the issue came back while held firing by its flapping hold", true)
			e.newRound(t, since)
			return
		}
	}
	rose := severityRank(is.Severity) > severityRank(t.Severity)
	t.Severity = is.Severity
	if !rose {
		return
	}
	switch t.Phase {
	case phaseVerifying:
		e.verified(t, record.OutcomeWorse, "", "")
		e.endLadder(t)
	case phaseRunning, phaseChecking:
		t.Worse = true
	}
}

// sinceOf is when the issue's condition began, or its time.
func sinceOf(is record.Issue) time.Time {
	if !is.Since.IsZero() {
		return is.Since.Time
	}
	return is.TS.Time
}

func (e *Engine) track(is record.Issue) {
	vars := e.vars(is)
	l := e.cfg.Policy.Find(is.Rule, vars)
	if l == nil {
		return
	}
	if len(e.issues) >= e.cfg.Policy.MaxIssues {
		e.overflow++
		h := record.Heal{Issue: is.ID, Rule: is.Rule, Subject: is.Subject, Action: record.TierAdvise,
			Phase: record.PhaseAdvised, Tier: record.TierAdvise, Step: 1,
			Error: fmt.Sprintf("not tracked: lmn-heal tracks at most %d issues at once (max_issues); %d refused so far",
				e.cfg.Policy.MaxIssues, e.overflow),
			Advice: fmt.Sprintf("too many issues at once for lmn-heal to act on this one (%s): look at it by hand", is.Summary)}
		e.emit(h)
		return
	}
	since := sinceOf(is)
	e.seq++
	t := &tracked{
		ID: is.ID, Seq: e.seq, Rule: is.Rule, Subject: maps.Clone(is.Subject), Severity: is.Severity,
		Ladder: l.Name, Vars: vars, Phase: phaseReady, Since: since, FailedAt: since, Flapping: is.Flapping,
	}
	e.issues[t.ID] = t
	e.queue(t)
}

// newRound climbs t's ladder again from the first step: its issue failed
// anew (a later since) after the ladder had ended. Breakers judge the
// uptime since the last attempt.
func (e *Engine) newRound(t *tracked, since time.Time) {
	delete(e.held, t.ID)
	t.Step, t.Act, t.Held, t.Notes, t.Worse = 0, 0, 0, nil, false
	t.Deadline, t.FailedAt = time.Time{}, since
	t.Phase = phaseReady
	e.queue(t)
}

func (e *Engine) resolved(t *tracked) {
	t.Cleared = true
	switch t.Phase {
	case phaseRunning, phaseChecking:
		// decided when the job returns
	case phaseVerifying:
		e.recover(t)
	default:
		e.drop(t)
	}
}

// drop forgets t: its issue resolved or it is untracked.
func (e *Engine) drop(t *tracked) {
	t.gone = true
	e.move(t)
	delete(e.issues, t.ID)
	delete(e.held, t.ID)
}

// endLadder skips the remaining steps: the next start advises.
func (e *Engine) endLadder(t *tracked) {
	if l := e.cfg.Policy.ladder(t.Ladder); l != nil {
		t.Step = len(l.Steps)
	}
	t.Act = 0
	t.Phase = phaseReady
	e.queue(t)
}

func (e *Engine) nextStep(t *tracked) {
	t.Step++
	t.Act = 0
	t.Phase = phaseReady
}

// wakeUp advances t when its timer is due.
func (e *Engine) wakeUp(t *tracked) {
	e.visits++
	switch t.Phase {
	case phaseVerifying:
		if t.Cleared { // a check lost in a restart: ask again
			e.recover(t)
			return
		}
		if t.Flapping && e.askUnit(t, checkDeadline) {
			return
		}
		e.verified(t, record.OutcomeNotRecovered, "", "")
		e.nextStep(t)
		e.queue(t)
	case phaseDone:
		t.Deadline = time.Time{} // the half-open retry, at the same step
		t.Phase = phaseReady
		e.queue(t)
	case phaseReady:
		e.queue(t) // a breaker's backoff passed
	}
}

// planned is one action of a step, ready to start.
type planned struct {
	Act
	params             map[string]string
	scope, target, key string
}

// tryStart starts t's current action if every bound allows. It returns
// false, changing nothing, when a global bound (concurrency, budget)
// holds it back; true when t started, advised, or waits elsewhere.
func (e *Engine) tryStart(t *tracked) bool {
	e.visits++
	l := e.cfg.Policy.ladder(t.Ladder)
	if l == nil { // the policy changed since the state was saved
		e.drop(t)
		return true
	}
	if e.holds(t, l) {
		return true // paused: the resume queues it again (pause.go)
	}
	acts, ok := e.current(t, l)
	if !ok {
		return true
	}
	need := 1
	if t.Act == 0 {
		need = len(acts) // a step starts only with room for all its actions
	}
	if e.running >= e.cfg.Policy.Concurrency || len(e.st.Budget)+need > e.cfg.Policy.Budget.MaxActions {
		return false
	}
	a := acts[0]
	for _, k := range []string{subjectKey(t.Subject), a.target, a.key} {
		if e.busy[k] > 0 {
			e.park(t, k)
			return true
		}
	}
	v := allow
	if t.Act == 0 {
		// A step's actions start together or not at all: every one's
		// breaker is asked before the first runs.
		var until time.Time
		for i, x := range acts {
			b := e.breaker(x.key)
			xv, xu := b.check(e.cfg.Policy.Breaker, e.now, t.FailedAt)
			switch xv {
			case tripped:
				e.gaveUp(t, l, x, len(b.Attempts), xu)
				return true
			case wait:
				until = later(until, xu)
			}
			if i == 0 {
				v = xv
			}
		}
		if !until.IsZero() {
			e.wake(t, until)
			return true
		}
	} else if b := e.breaker(a.key); b.State == breakerOpen && !e.now.Before(b.RetryAt) {
		v = halfOpen // the step was let in as the retry after a cool-down
	}
	e.start(t, a, v)
	return true
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// start hands out a's job for t.
func (e *Engine) start(t *tracked, a planned, v verdict) {
	b := e.breaker(a.key)
	up, known := b.uptime(t.FailedAt)
	b.record(e.now, v)
	e.st.Budget = append(e.st.Budget, e.now)
	if !slices.Contains(t.Keys, a.key) {
		t.Keys = append(t.Keys, a.key)
	}
	job := Job{ID: e.st.NextID, Issue: t.ID, Action: a.Action, Params: a.params, Scope: a.scope, Restore: a.Restore}
	e.st.NextID++
	e.hand(&flight{job: job, issue: t, key: a.key, subject: subjectKey(t.Subject), target: a.target, started: e.now})
	t.Phase = phaseRunning
	e.move(t)
	if a.Restore && !e.cfg.DryRun {
		e.saveBefore(a.target, t, a.Action, a.params)
	}
	phase := record.PhaseStarted
	if e.cfg.DryRun {
		phase = record.PhasePlanned
	}
	h := e.healOf(t, a.Action, a.params, phase, len(b.Attempts))
	if known {
		h.UptimeSeconds = seconds(up)
	}
	e.emit(h)
	if e.cfg.DryRun {
		e.complete(job.ID, Result{})
	}
}

// current returns the current step's actions from t.Act on, with params
// filled in, skipping steps whose params the stream cannot fill and
// holding back destructive steps the signal does not allow yet. ok is
// false when nothing is left to start (the ladder advised).
func (e *Engine) current(t *tracked, l *Ladder) ([]planned, bool) {
	for t.Step < len(l.Steps) {
		step := l.Steps[t.Step]
		acts, missing := e.plan(t, step.Actions[min(t.Act, len(step.Actions)-1):])
		switch {
		case missing != "":
			why := missingWhy[missing]
			if why == "" {
				why = "the stream gives no " + missing
			}
			t.Notes = append(t.Notes, fmt.Sprintf("step %d (%s) skipped: %s", t.Step+1, step.Actions[0].Action, why))
		case t.Act == 0 && stepDestructive(step) != "":
			ok, why := e.strong(t)
			if ok {
				return acts, true
			}
			if t.Held == 0 {
				t.Held = t.Step + 1
			}
			t.Notes = append(t.Notes, fmt.Sprintf("step %d (%s) held back: %s", t.Step+1, stepDestructive(step), why))
		default:
			return acts, true
		}
		e.nextStep(t)
	}
	e.advise(t, l)
	return nil, false
}

// plan fills in acts; missing names the first key the stream lacks.
func (e *Engine) plan(t *tracked, acts []Act) ([]planned, string) {
	out := make([]planned, 0, len(acts))
	for _, a := range acts {
		params, missing, ok := expandParams(a.Params, t.Vars)
		if !ok {
			return nil, missing
		}
		scope := actScope(t, params)
		target := e.target(a.Action, params, scope)
		out = append(out, planned{Act: a, params: params, scope: scope, target: target, key: a.Action + " " + target})
	}
	return out, ""
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
			e.release(k)
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
