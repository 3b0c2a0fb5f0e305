package heal

import (
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/record"
)

// Verification reads the unit's real state. When a step acted on a unit
// and its issue resolves, or its window ends with the issue held firing
// by lmn-detect's flapping hold, the engine asks for the unit's state (a
// Check job: `systemctl show`, nothing acts) before it says recovered. A
// unit lmn acted on that is not running then is reported down, with
// advice, never recovered: the failed list no longer names a unit that
// `reset-failed` cleared or that exited cleanly, so the stream alone
// cannot tell. An issue about a probe is verified by the probe: its issue
// resolves only after the probe passes again (lmn-detect counts the
// checks), and where the flapping hold keeps it firing, the probe's latest
// result must pass after the step acted; every verified record of it
// carries that result.

// Unit state checks are about to be answered or not.
const (
	checkResolved = "resolved" // the issue resolved: confirm the unit runs
	checkDeadline = "deadline" // the window ended with the issue held firing
)

// touchedUnit returns the unit t's current step acted on and its scope,
// if it acted on one (the catalogue's target "unit:NAME").
func (e *Engine) touchedUnit(t *tracked) (unit, scope string, ok bool) {
	l := e.cfg.Policy.ladder(t.Ladder)
	if l == nil || t.Step >= len(l.Steps) {
		return "", "", false
	}
	for _, a := range l.Steps[t.Step].Actions {
		params, _, ok := expandParams(a.Params, t.Vars)
		if !ok {
			continue
		}
		if u, ok := strings.CutPrefix(e.target(a.Action, params, ""), "unit:"); ok && u != "" {
			return u, actScope(t, params), true
		}
	}
	return "", "", false
}

// unitUp reports whether a unit in state "active/sub" runs: active,
// reloading, or activating other than waiting to be restarted.
func unitUp(state string) bool {
	active, sub, _ := strings.Cut(state, "/")
	switch active {
	case "active", "reloading", "refreshing":
		return true
	case "activating":
		return !strings.HasPrefix(sub, "auto-restart")
	}
	return false
}

// recover is reached when t's issue resolved after its step acted.
func (e *Engine) recover(t *tracked) {
	if e.askUnit(t, checkResolved) {
		return
	}
	e.recovered(t, "", "", false)
}

// askUnit hands out a Check job for the unit t's step acted on; false when
// there is none to ask about (or in a dry run, which asks nothing).
func (e *Engine) askUnit(t *tracked, why string) bool {
	u, scope, ok := e.touchedUnit(t)
	if !ok || e.cfg.DryRun {
		return false
	}
	job := Job{ID: e.st.NextID, Issue: t.ID, Action: "unit_state", Params: map[string]string{"unit": u}, Scope: scope, Check: true}
	e.st.NextID++
	e.inflight[job.ID] = &flight{job: job, issue: t, started: e.now}
	e.jobs = append(e.jobs, job)
	t.Phase, t.CheckFor = phaseChecking, why
	e.move(t)
	return true
}

// checked takes the answer to a Check job.
func (e *Engine) checked(f *flight, r Result) {
	delete(e.inflight, f.job.ID)
	t := f.issue
	if t.gone {
		return
	}
	why := t.CheckFor
	t.CheckFor = ""
	up := unitUp(r.State)
	switch {
	case t.Worse:
		e.verified(t, record.OutcomeWorse, r.State, "")
		e.endLadder(t)
	case r.Err != "" && t.Cleared:
		// The state could not be read: the stream's word stands.
		e.recovered(t, "", "unit state not read: "+r.Err, false)
	case why == checkResolved && !t.Cleared && (up || r.Err != ""):
		// It resolved, then fired again while the state was read: the
		// answer is about the resolution, which the step brought about
		// (the stream's word stands where the state could not be read),
		// and the new failure climbs the ladder again.
		note := ""
		if r.Err != "" {
			note = "unit state not read: " + r.Err
		}
		e.recovered(t, r.State, note, false)
		e.newRound(t, t.Since)
	case r.Err != "" || !up && !t.Cleared || up && !t.Cleared && (why != checkDeadline || !t.Flapping):
		// Still firing: up or not, the stream says the problem remains
		// (unless the flapping hold is all that keeps it firing).
		e.verified(t, record.OutcomeNotRecovered, r.State, r.Err)
		e.nextStep(t)
		e.queue(t)
	case up && !t.Cleared && !e.probePassed(t):
		// Up while held firing, but its probe has not passed since the
		// step acted: a unit that runs is not a service that answers.
		e.verified(t, record.OutcomeNotRecovered, r.State, "probe "+t.Subject["probe"]+" has not passed since the step acted")
		e.nextStep(t)
		e.queue(t)
	case up:
		// Up while held firing at the end of the window: it has run
		// since the attempt (and, for a probe's issue, answered it).
		e.recovered(t, r.State, "", !t.Cleared)
	default:
		// Resolved in the stream, but the unit lmn acted on is not
		// running: down, never recovered. A unit failed again (the stream
		// saw it between two failures of its restart as no longer
		// failed) goes on to the next step; any other (a oneshot that
		// ran, a unit reset-failed cleared) and the last step: advice.
		e.verified(t, record.OutcomeNotRecovered, r.State, "")
		l := e.cfg.Policy.ladder(t.Ladder)
		if active, _, _ := strings.Cut(r.State, "/"); active == "failed" && l != nil && t.Step+1 < len(l.Steps) {
			e.nextStep(t)
			e.queue(t)
			return
		}
		u := f.job.Params["unit"]
		note := action.Quote(u) + " is " + r.State + " after lmn acted on it: it is not running, though its issue resolved"
		h := e.healOf(t, record.TierAdvise, nil, record.PhaseAdvised, 0)
		h.Tier = record.TierAdvise
		h.Advice = e.adviceText(t, l, e.command("restart_unit", map[string]string{"unit": u}, f.job.Scope), note)
		e.emit(h)
		e.drop(t)
	}
}

// probeOf returns the latest result, in the stream, of the probe t's
// issue is about; ok is false for an issue about no probe or a probe the
// latest sample does not carry.
func (e *Engine) probeOf(t *tracked) (record.ProbeResult, bool) {
	name := t.Subject["probe"]
	if name == "" {
		return record.ProbeResult{}, false
	}
	e.sampleFacts()
	p, ok := e.probes[name]
	return p, ok
}

// probePassed reports whether the probe t's issue is about passed after
// the step acted (its latest result is ok and was taken since); true for
// an issue about no probe. The issue resolving is the probe passing for
// lmn-detect's count of checks; this is asked where the issue is held
// firing by the flapping hold, so the stream's word is missing.
func (e *Engine) probePassed(t *tracked) bool {
	if t.Subject["probe"] == "" {
		return true
	}
	p, ok := e.probeOf(t)
	return ok && p.OK && !p.CheckedAt.Before(t.ActedAt)
}

// recovered ends t's ladder as recovered: its breakers note that their
// last attempt healed, now or, with sinceAttempt, from the attempt on (the
// stream could not show when the condition ended). An issue the stream
// still holds firing stays tracked, done, until it resolves or fails anew.
func (e *Engine) recovered(t *tracked, unitState, note string, sinceAttempt bool) {
	e.verified(t, record.OutcomeRecovered, unitState, note)
	for _, k := range t.Keys {
		if b := e.st.Breakers[k]; b != nil {
			if sinceAttempt && len(b.Attempts) > 0 {
				b.healed(b.Last)
			} else {
				b.healed(e.now)
			}
		}
	}
	t.Keys = nil
	if t.Cleared {
		e.drop(t)
		return
	}
	t.Phase, t.Deadline = phaseDone, time.Time{}
	e.move(t)
}
