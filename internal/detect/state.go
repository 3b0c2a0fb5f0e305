package detect

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/lmn-heal/lmn/internal/config"
	"github.com/lmn-heal/lmn/internal/record"
)

// StateFormat and StateVersion identify a --state file. A file of another
// format or version is not loaded (the engine starts fresh).
const (
	StateFormat  = "lmn-detect-state"
	StateVersion = 1
)

// State is what --state keeps between runs: the last sample's time and
// interval and the last tick's (for absence), and per rule and subject the pending counters,
// firing issues, flap history and trend windows.
type State struct {
	Format       string      `json:"format"`
	Version      int         `json:"version"`
	RulesDigest  string      `json:"rules_digest"`
	Last         record.Time `json:"last,omitzero"`
	LastInterval float64     `json:"last_interval_seconds,omitempty"`
	LastTick     record.Time `json:"last_tick,omitzero"`
	Gaps         []float64   `json:"gaps_seconds,omitempty"`
	Host         string      `json:"host,omitempty"`
	Subjects     []*subject  `json:"subjects"`
}

// State returns the engine's state, in rule order then subject name. It
// shares memory with the engine: encode it before the next sample.
func (e *Engine) State(digest string) *State {
	st := &State{
		Format: StateFormat, Version: StateVersion, RulesDigest: digest,
		LastInterval: e.lastInterval, Gaps: e.gaps, Host: e.host, Subjects: []*subject{},
	}
	if !e.last.IsZero() {
		st.Last = record.Time{Time: e.last}
	}
	if !e.lastTick.IsZero() {
		st.LastTick = record.Time{Time: e.lastTick}
	}
	for i := range e.rules {
		st.Subjects = append(st.Subjects, sortedSubjects(e.states[i])...)
	}
	return st
}

// EncodeState writes st as JSON.
func EncodeState(st *State) ([]byte, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	return append(b, '\n'), nil
}

// DecodeState reads a state file's bytes; it fails on anything that is not
// a state of this format and version.
func DecodeState(b []byte) (*State, error) {
	var st State
	if err := config.Decode(b, &st); err != nil {
		return nil, fmt.Errorf("decode state: %w", err)
	}
	if st.Format != StateFormat || st.Version != StateVersion {
		return nil, fmt.Errorf("decode state: format %q version %d, want %q version %d", st.Format, st.Version, StateFormat, StateVersion)
	}
	for n, s := range st.Subjects {
		if s == nil || s.ID == "" || s.Subject == nil {
			return nil, fmt.Errorf("decode state: subjects[%d]: missing id or subject", n)
		}
	}
	return &st, nil
}

// Restore loads st into an engine that has seen no sample. Subjects of
// rules that no longer exist, or whose kind changed, are dropped; the
// names of their rules are returned so the caller can say so.
func (e *Engine) Restore(st *State) (dropped []string) {
	byName := map[string]int{}
	for i, r := range e.rules {
		byName[r.Name] = i
	}
	e.last, e.lastInterval, e.host = st.Last.Time, st.LastInterval, st.Host
	e.restored = true
	e.gaps = append([]float64(nil), st.Gaps...)
	if len(e.gaps) > cadenceGaps {
		e.gaps = e.gaps[len(e.gaps)-cadenceGaps:]
	}
	if e.last.IsZero() {
		e.last = time.Time{}
	}
	e.lastTick = st.LastTick.Time
	if e.lastTick.IsZero() { // a state from before events: every sample was a tick
		e.lastTick = e.last
	}
	for _, s := range st.Subjects {
		i, ok := byName[s.Rule]
		if !ok || !fitsKind(e.rules[i], s) {
			dropped = append(dropped, s.Rule)
			continue
		}
		s.ID = ID(s.Rule, s.Subject)
		e.states[i][s.Name] = s
	}
	return dropped
}

// fitsKind reports whether a saved subject can belong to rule r.
func fitsKind(r *rule, s *subject) bool {
	switch r.Kind {
	case KindUnitFailed:
		return s.Subject["unit"] != "" && s.Name == s.Subject["scope"]+"/"+s.Subject["unit"]
	case KindAbsence:
		return s.Name == "" && len(s.Points) == 0
	case KindProbe:
		return s.Subject["probe"] != "" && s.Name == probeKey(s.Subject) && len(s.Points) == 0
	case KindGeneration:
		return (s.Name == watchKey && len(s.Subject) == 0 || s.Name != "" && s.Name == s.Subject["system"]) && len(s.Points) == 0
	}
	if r.list == nil {
		return s.Name == "" && len(s.Subject) == 0
	}
	name := s.Subject[r.list.Key]
	if r.list.ScopeKey != "" {
		name = s.Subject[r.list.ScopeKey] + "/" + name
	}
	return name != "" && name == s.Name && (r.Kind == KindTrend || len(s.Points) == 0)
}
