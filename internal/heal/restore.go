package heal

import (
	"maps"
	"slices"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// saved is a change to put back (a CPU governor), kept per target. The
// first save wins: later actions on the same target do not overwrite the
// original value.
type saved struct {
	// Owners are the issues the change was made for, and whether each is
	// firing. The change is put back once none is, for restore_after.
	Owners map[string]bool   `json:"owners"`
	Action string            `json:"action"`
	Params map[string]string `json:"params,omitempty"`
	// Rule and Subject are the first owner's, for the restored record.
	Rule    string            `json:"rule,omitempty"`
	Subject map[string]string `json:"subject,omitempty"`
	// Undo is the request that puts the change back; nil until the action
	// reported it.
	Undo      *Request  `json:"undo,omitempty"`
	RestoreAt time.Time `json:"restore_at,omitzero"`
	running   bool
}

// saveBefore records, before the action runs, that target is about to be
// changed for issue, and asks the caller to save state now.
func (e *Engine) saveBefore(target string, t *tracked, action string, params map[string]string) {
	issue := t.ID
	s := e.st.Saved[target]
	if s == nil {
		s = &saved{Owners: map[string]bool{}, Action: action, Params: maps.Clone(params), Rule: t.Rule, Subject: maps.Clone(t.Subject)}
		e.st.Saved[target] = s
	}
	s.Owners[issue] = true
	s.RestoreAt = time.Time{}
	e.dirty = true
}

// saveAfter keeps the undo request the action reported, unless an earlier
// one is kept already.
func (e *Engine) saveAfter(target string, undo *Request) {
	s := e.st.Saved[target]
	if s == nil || s.Undo != nil {
		return
	}
	if undo == nil {
		delete(e.st.Saved, target) // nothing to put back
		return
	}
	s.Undo = undo
	e.dirty = true
}

// dropSaved forgets issue's claim when its action did not change target.
func (e *Engine) dropSaved(target, issue string) {
	s := e.st.Saved[target]
	if s == nil || s.Undo != nil {
		return
	}
	delete(s.Owners, issue)
	if len(s.Owners) == 0 {
		delete(e.st.Saved, target)
	}
}

// ownerFiring notes that issue fires or resolved; a saved change is put
// back restore_after once none of its owners fires.
func (e *Engine) ownerFiring(issue string, firing bool) {
	for _, s := range e.st.Saved {
		if _, ok := s.Owners[issue]; !ok {
			continue
		}
		s.Owners[issue] = firing
		s.RestoreAt = time.Time{}
		if !slices.Contains(slices.Collect(maps.Values(s.Owners)), true) {
			s.RestoreAt = e.now.Add(e.cfg.Policy.RestoreAfter.D())
		}
	}
}

// restores starts the undo of every saved change that is due.
func (e *Engine) restores() {
	if e.pause.on != nil {
		return // an undo is an action too: it waits for the resume
	}
	for _, target := range slices.Sorted(maps.Keys(e.st.Saved)) {
		s := e.st.Saved[target]
		if s.running || s.RestoreAt.IsZero() || e.now.Before(s.RestoreAt) {
			continue
		}
		if e.busy[target] > 0 { // the action itself may still be running
			continue
		}
		if s.Undo == nil || len(s.Owners) == 0 { // nothing reported to put back
			delete(e.st.Saved, target)
			continue
		}
		if e.running >= e.cfg.Policy.Concurrency {
			continue
		}
		s.running = true
		owners := slices.Sorted(maps.Keys(s.Owners))
		job := Job{ID: e.st.NextID, Issue: owners[0], Action: s.Undo.Action, Params: maps.Clone(s.Undo.Params), Undo: true}
		e.st.NextID++
		e.hand(&flight{job: job, key: "undo " + target, subject: "undo:" + target, target: target, started: e.now})
	}
}

// restored records the end of an undo job.
func (e *Engine) restored(f *flight, r Result) {
	var rule string
	var subject map[string]string
	if s := e.st.Saved[f.target]; s != nil {
		rule, subject = s.Rule, s.Subject
	}
	delete(e.st.Saved, f.target)
	h := record.Heal{
		Issue: f.job.Issue, Rule: rule, Subject: subject, Action: f.job.Action, Params: f.job.Params,
		Tier: r.Tier, Denied: r.Denied, DurationMS: ms(r.Duration),
	}
	switch {
	case r.Tier == record.TierAdvise:
		h.Phase, h.Advice = record.PhaseAdvised, r.Advice
	case r.Err != "":
		h.Phase, h.Error = record.PhaseFailed, r.Err
		h.Advice = "put it back by hand: " + e.command(f.job.Action, f.job.Params, "")
	default:
		h.Phase = record.PhaseRestored
	}
	e.emit(h)
	e.dirty = true
}
