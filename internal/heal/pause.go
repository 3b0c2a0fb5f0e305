package heal

import (
	"fmt"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// Pause says healing is paused, and by what: lmn-heal's pause file, which
// a person creates to stop every action at once (the kill switch).
type Pause struct {
	File   string    // the pause file
	Reason string    // what it says, if anything
	Since  time.Time // when it was made
}

// pauseState is the engine's pause: while on is set no action or undo
// starts, and each ladder that would start one writes one held record.
type pauseState struct {
	on   *Pause
	held map[string]bool // issues that wrote their held record
}

// SetPause pauses healing (p not nil) or resumes it (nil), then advances
// every ladder: a resume starts what was held.
func (e *Engine) SetPause(p *Pause) {
	if (p == nil) == (e.pause.on == nil) {
		if p != nil {
			e.pause.on = p // same pause, maybe a new reason
		}
		return
	}
	e.pause = pauseState{on: p, held: map[string]bool{}}
	if p == nil {
		e.release(pauseKey) // the ladders held go on at their step
	}
	e.tick()
}

// pauseKey is what held ladders wait on (sched.go's park), a key no
// subject or target can be.
const pauseKey = "\x00pause"

// Paused returns the pause in force, or nil.
func (e *Engine) Paused() *Pause { return e.pause.on }

// Hold takes back a job handed out by Drain that the caller did not run
// because healing was paused (by p) in between: the attempt is not
// counted, and the ladder waits at the same step for the resume. An
// unknown id is ignored.
func (e *Engine) Hold(id uint64, p *Pause) {
	f, ok := e.inflight[id]
	if !ok || p == nil {
		return
	}
	if e.pause.on == nil {
		e.pause = pauseState{on: p, held: map[string]bool{}}
	}
	e.land(f)
	e.unrecord(f)
	if f.job.Undo {
		if s := e.st.Saved[f.target]; s != nil {
			s.running = false
		}
	} else if t := f.issue; t != nil {
		e.dropSaved(f.target, t.ID) // the change was never made
		t.Phase = phaseReady
		delete(e.pause.held, t.ID)
		e.heldRecord(t, f.job.Action, f.job.Params)
		e.park(t, pauseKey)
	}
	e.tick()
}

// holds reports whether t's next action must wait for a resume, writing
// the ladder's held record the first time and parking t until then. A ladder past its last step
// only advises, which is no action, and is not held.
func (e *Engine) holds(t *tracked, l *Ladder) bool {
	if e.pause.on == nil {
		return false
	}
	if t.Step >= len(l.Steps) {
		return false
	}
	if !e.pause.held[t.ID] {
		a := l.Steps[t.Step].Actions[t.Act]
		params, _, _ := expandParams(a.Params, t.Vars)
		e.heldRecord(t, a.Action, params)
	}
	e.park(t, pauseKey)
	return true
}

func (e *Engine) heldRecord(t *tracked, action string, params map[string]string) {
	e.pause.held[t.ID] = true
	p := e.pause.on
	h := e.healOf(t, action, params, record.PhaseHeld, 0)
	h.Error = fmt.Sprintf("healing is paused: %s exists (since %s)", p.File, p.Since.UTC().Format(time.RFC3339))
	if p.Reason != "" {
		h.Error += ": " + p.Reason
	}
	h.Advice = fmt.Sprintf("remove %s to resume healing (luminous-pause --resume)", p.File)
	e.emit(h)
}
