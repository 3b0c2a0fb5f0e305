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
	return marshalNoEscape(e.st)
}

// ErrStateVersion is returned for a state file of another format version.
var ErrStateVersion = errors.New("state file has another format version")

// LoadState replaces the engine's state with a saved one. On error the
// engine keeps its state.
func (e *Engine) LoadState(data []byte) error {
	st, err := decodeState(data)
	if err != nil {
		return err
	}
	e.st = st
	if st.Now.After(e.now) {
		e.now = st.Now
	}
	return nil
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
		if t.Phase == phaseRunning {
			t.Phase = phaseReady
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
	case phaseReady, phaseRunning, phaseVerifying, phaseDone:
	default:
		return fmt.Errorf("phase: unknown %q", t.Phase)
	}
	if t.Vars == nil {
		t.Vars = map[string]string{}
	}
	return nil
}
