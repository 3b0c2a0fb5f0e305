package heal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// StateVersion is the version of the state file format.
const StateVersion = 1

// state is what --state keeps across runs: ladders in progress, breakers,
// the action budget and changes to put back.
type state struct {
	Version  int                 `json:"version"`
	Now      time.Time           `json:"now,omitzero"`
	NextID   uint64              `json:"next_id"`
	Issues   []*tracked          `json:"issues"`
	Breakers map[string]*breaker `json:"breakers"`
	Budget   []time.Time         `json:"budget,omitempty"`
	Saved    map[string]*saved   `json:"saved"`
}

func newState() state {
	return state{
		Version:  StateVersion,
		NextID:   1,
		Breakers: map[string]*breaker{},
		Saved:    map[string]*saved{},
	}
}

// MarshalState returns the engine's state as JSON. Actions in flight are
// written as not started (their attempt stays counted), so a run that
// stops mid-action tries the step again, within the breaker's bounds.
func (e *Engine) MarshalState() ([]byte, error) {
	e.st.Issues = make([]*tracked, 0, len(e.issues))
	for _, t := range e.issues {
		e.st.Issues = append(e.st.Issues, t)
	}
	sortTracked(e.st.Issues)
	b, err := marshalNoEscape(e.st)
	e.st.Issues = nil
	return b, err
}

// ErrStateVersion is returned for a state file of another format version.
var ErrStateVersion = errors.New("state file has another format version")

// LoadState replaces the engine's state with a saved one. On error the
// engine keeps its state, except for a *RepairError: a saved clock far
// ahead of Config.Wall was moved back, with every time after it (see
// repairClock), and the state is used.
func (e *Engine) LoadState(data []byte) error {
	st, err := decodeState(data)
	if err != nil {
		return err
	}
	var repaired error
	if e.cfg.Wall != nil {
		repaired = repairClock(&st, e.cfg.Wall())
	}
	e.st = st
	e.setNow(st.Now)
	e.issues = map[string]*tracked{}
	e.ready, e.timers, e.waiting, e.held = readyQueue{}, nil, map[string][]slot{}, map[string]bool{}
	for _, t := range st.Issues {
		e.issues[t.ID] = t
		e.seq = max(e.seq, t.Seq)
		e.reschedule(t)
	}
	e.st.Issues = nil
	return repaired
}

// reschedule puts a tracked issue read from a state file where its phase
// waits.
func (e *Engine) reschedule(t *tracked) {
	switch t.Phase {
	case phaseReady:
		e.queue(t)
	case phaseVerifying:
		e.wake(t, t.Deadline)
	case phaseDone:
		if !t.Deadline.IsZero() {
			e.wake(t, t.Deadline)
		}
		if t.Held > 0 {
			e.held[t.ID] = true
		}
	}
}

// decodeState strictly decodes and checks a state file.
func decodeState(data []byte) (state, error) {
	st := newState()
	st.Version = 0
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return state{}, fmt.Errorf("state: %w", err)
	}
	if dec.More() {
		return state{}, errors.New("state: more than one JSON value")
	}
	if st.Version != StateVersion {
		return state{}, fmt.Errorf("state: version %d: %w (want %d)", st.Version, ErrStateVersion, StateVersion)
	}
	if st.Breakers == nil {
		st.Breakers = map[string]*breaker{}
	}
	if st.Saved == nil {
		st.Saved = map[string]*saved{}
	}
	if st.NextID == 0 {
		st.NextID = 1
	}
	for i, t := range st.Issues {
		if err := t.check(); err != nil {
			return state{}, fmt.Errorf("state: issues[%d]: %w", i, err)
		}
		switch t.Phase {
		case phaseRunning:
			t.Phase = phaseReady
		case phaseChecking:
			// The answer was lost: ask again at once.
			t.Phase, t.Deadline = phaseVerifying, st.Now
		}
	}
	for k, b := range st.Breakers {
		if b == nil {
			return state{}, fmt.Errorf("state: breakers[%q]: null", k)
		}
		switch b.State {
		case breakerClosed, breakerOpen, breakerHalfOpen:
		default:
			return state{}, fmt.Errorf("state: breakers[%q].state: unknown %q", k, b.State)
		}
	}
	for k, s := range st.Saved {
		if s == nil || s.Owners == nil {
			return state{}, fmt.Errorf("state: saved[%q]: no owners", k)
		}
	}
	return st, nil
}

func (t *tracked) check() error {
	switch {
	case t == nil:
		return errors.New("null")
	case t.ID == "":
		return errors.New("id: missing")
	case t.Step < 0 || t.Act < 0:
		return fmt.Errorf("step %d, act %d: negative", t.Step, t.Act)
	}
	switch t.Phase {
	case phaseReady, phaseRunning, phaseVerifying, phaseChecking, phaseDone:
	default:
		return fmt.Errorf("phase: unknown %q", t.Phase)
	}
	if t.Vars == nil {
		t.Vars = map[string]string{}
	}
	return nil
}
