// Package heal is lmn-heal's decision logic: the policy that maps issues to
// ladders of healing steps, the engine that walks those ladders as issue
// records arrive, the circuit breakers, backoff and concurrency bounds that
// keep healing from doing harm, verification from the stream, and the
// bookkeeping of changes to undo.
//
// It is pure: no syscalls and no os/exec. Time is the machine's time as
// the samples and issues carry it (clock.go). Actions, and the reads of a
// unit's real state that verification asks for, leave the engine as Jobs
// and their results come back through Engine.Complete; package tier runs
// them.
package heal

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/config"
)

//go:embed policy.json
var defaultPolicy []byte

// Policy says how lmn-heal answers issues.
type Policy struct {
	// Extend, in a user file, keeps the defaults: ladders with the same
	// name replace default ones, new ones are tried before the defaults,
	// and settings given replace the defaults' settings.
	Extend bool `json:"extend,omitempty"`
	// Concurrency is how many actions may run at once.
	Concurrency int     `json:"concurrency"`
	Budget      Budget  `json:"budget"`
	Breaker     Breaker `json:"breaker"`
	// RestoreAfter is how long an issue must stay resolved before an
	// undoable change made for it (a CPU governor) is put back.
	RestoreAfter Duration `json:"restore_after"`
	// Destructive is the signal a destructive action of the catalogue
	// (action.Spec.Destructive) needs before it runs.
	Destructive Destructive `json:"destructive"`
	// MaxIssues bounds the issues tracked at once; further ones are
	// refused with advice and counted.
	MaxIssues int      `json:"max_issues"`
	Ladders   []Ladder `json:"ladders"`
}

// Destructive is the strong signal a destructive action needs: its issue
// is about a mount at least MinUsedRatio full (bytes or inodes, in the
// latest sample), and it has held for MinFiring. A short extrapolation
// alone never deletes anything.
type Destructive struct {
	MinUsedRatio float64         `json:"min_used_ratio"`
	MinFiring    config.Duration `json:"min_firing"`
}

// Budget bounds the actions of all ladders together: at most MaxActions
// started within any Window.
type Budget struct {
	MaxActions int      `json:"max_actions"`
	Window     Duration `json:"window"`
}

// Breaker configures the circuit breaker kept per (action, target).
type Breaker struct {
	// MaxAttempts within Window opens the breaker.
	MaxAttempts int      `json:"max_attempts"`
	Window      Duration `json:"window"`
	// Backoff is the wait after the first attempt; it doubles with each
	// further attempt in the window, up to MaxBackoff.
	Backoff    Duration `json:"backoff"`
	MaxBackoff Duration `json:"max_backoff"`
	// Cooldown is how long an open breaker stays open before one
	// half-open retry; it doubles each time the retry fails.
	Cooldown Duration `json:"cooldown"`
	// ResetAfter without an attempt closes the breaker and forgets its
	// attempts.
	ResetAfter Duration `json:"reset_after"`
	// HealthyUptime judges an attempt by what followed it: a target that
	// stayed up this long after it (its issue resolved and did not come
	// back) was healed, and its next failure starts a fresh count.
	HealthyUptime config.Duration `json:"healthy_uptime"`
}

// Ladder is the answer to one kind of issue: steps tried in order, each
// verified before the next, ending in advice.
type Ladder struct {
	Name string `json:"name"`
	// Enabled false disables a default ladder of the same name; nothing
	// but the name is needed then.
	Enabled *bool `json:"enabled,omitempty"`
	// Rules are the lmn-detect rule names the ladder answers.
	Rules []string `json:"rules,omitempty"`
	// Match holds glob patterns (path.Match) on the issue's subject and on
	// facts from the stream (holds_nix_store, holds_var_log for a mount);
	// all must match.
	Match  map[string]string `json:"match,omitempty"`
	Steps  []Step            `json:"steps,omitempty"`
	Advice string            `json:"advice,omitempty"`
}

func (l *Ladder) disabled() bool { return l.Enabled != nil && !*l.Enabled }

// Step runs its actions in order, then waits up to Verify for the issue
// to resolve.
type Step struct {
	Actions []Act    `json:"actions"`
	Verify  Duration `json:"verify"`
}

// Act is one action of a step. Params may use {{key}} for the issue's
// subject and facts, such as {{unit}} or {{mount}}.
type Act struct {
	Action string            `json:"action"`
	Params map[string]string `json:"params,omitempty"`
	// Restore puts the change back (with the values the action reported
	// as its previous state) once the issue has resolved and stayed quiet
	// for restore_after. The values are saved before the action runs.
	Restore bool `json:"restore,omitempty"`
}

// Duration is a time.Duration written as a string such as "30m".
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a Go duration string such as "90s" or "30m".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"30m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", s)
	}
	*d = Duration(v)
	return nil
}

// Catalog tells policy validation which actions exist and which params
// each requires; nil skips those checks.
type Catalog func(action string) (required []string, ok bool)

// DefaultPolicy returns the built-in policy.
func DefaultPolicy() *Policy {
	p, err := decodePolicy(defaultPolicy, &Policy{})
	if err != nil {
		panic("heal: built-in policy: " + err.Error())
	}
	return p
}

// DefaultPolicyJSON returns the built-in policy as written in the binary.
func DefaultPolicyJSON() []byte { return bytes.Clone(defaultPolicy) }

// ParsePolicy reads a user policy file's contents. Unknown fields are
// errors. With "extend": true it is merged over the defaults; otherwise
// it replaces their ladders, and settings it leaves out keep the defaults.
// The result is validated against cat.
func ParsePolicy(data []byte, cat Catalog) (*Policy, error) {
	var probe struct {
		Extend bool `json:"extend"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, describeJSONError(data, err)
	}
	def := DefaultPolicy()
	base := *def
	base.Ladders = nil
	p, err := decodePolicy(data, &base)
	if err != nil {
		return nil, err
	}
	if p.Extend {
		p.Ladders = mergeLadders(p.Ladders, def.Ladders)
	}
	if err := p.Validate(cat); err != nil {
		return nil, err
	}
	return p, nil
}

func decodePolicy(data []byte, into *Policy) (*Policy, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return nil, describeJSONError(data, err)
	}
	if dec.More() {
		return nil, errors.New("policy: more than one JSON value")
	}
	return into, nil
}

// describeJSONError turns a decoder error into one that names the field
// or the line.
func describeJSONError(data []byte, err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return fmt.Errorf("policy: field %s: %s is not a valid %s (line %d)",
			te.Field, te.Value, te.Type, lineOf(data, te.Offset))
	case errors.As(err, &se):
		return fmt.Errorf("policy: line %d: %v", lineOf(data, se.Offset), se)
	}
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("policy: unknown field %s", msg)
	}
	return fmt.Errorf("policy: %w", err)
}

func lineOf(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return 1 + bytes.Count(data[:off], []byte("\n"))
}

// mergeLadders puts user ladders first, replacing default ones of the
// same name, and drops ladders disabled by either.
func mergeLadders(user, def []Ladder) []Ladder {
	byName := map[string]bool{}
	out := make([]Ladder, 0, len(user)+len(def))
	for _, l := range user {
		byName[l.Name] = true
		out = append(out, l)
	}
	for _, l := range def {
		if !byName[l.Name] {
			out = append(out, l)
		}
	}
	return out
}

// Validate checks the policy and names the first bad field.
func (p *Policy) Validate(cat Catalog) error {
	switch {
	case p.Concurrency < 1:
		return fmt.Errorf("policy: concurrency: must be at least 1, not %d", p.Concurrency)
	case p.Budget.MaxActions < 1:
		return fmt.Errorf("policy: budget.max_actions: must be at least 1, not %d", p.Budget.MaxActions)
	case p.Budget.Window <= 0:
		return errors.New("policy: budget.window: must be positive")
	case p.Breaker.MaxAttempts < 1:
		return fmt.Errorf("policy: breaker.max_attempts: must be at least 1, not %d", p.Breaker.MaxAttempts)
	case p.Breaker.Window <= 0:
		return errors.New("policy: breaker.window: must be positive")
	case p.Breaker.Cooldown <= 0:
		return errors.New("policy: breaker.cooldown: must be positive")
	case p.Breaker.ResetAfter <= 0:
		return errors.New("policy: breaker.reset_after: must be positive")
	case p.Breaker.MaxBackoff < p.Breaker.Backoff:
		return errors.New("policy: breaker.max_backoff: must not be less than breaker.backoff")
	case p.Breaker.HealthyUptime <= 0:
		return errors.New("policy: breaker.healthy_uptime: must be positive")
	case p.Destructive.MinUsedRatio <= 0 || p.Destructive.MinUsedRatio > 1:
		return fmt.Errorf("policy: destructive.min_used_ratio: must be above 0 and at most 1, not %v", p.Destructive.MinUsedRatio)
	case p.MaxIssues < 1:
		return fmt.Errorf("policy: max_issues: must be at least 1, not %d", p.MaxIssues)
	}
	names := map[string]int{}
	for i, l := range p.Ladders {
		if err := l.validate(cat); err != nil {
			return fmt.Errorf("policy: ladders[%d]%s", i, err)
		}
		if j, dup := names[l.Name]; dup {
			return fmt.Errorf("policy: ladders[%d].name: %q already used by ladders[%d]", i, l.Name, j)
		}
		names[l.Name] = i
	}
	return nil
}

func (l *Ladder) validate(cat Catalog) error {
	if l.Name == "" {
		return errors.New(".name: missing")
	}
	if l.disabled() {
		return nil // a disabled ladder is a name, whatever else it says
	}
	if len(l.Rules) == 0 {
		return errors.New(".rules: at least one rule name is needed")
	}
	for i, r := range l.Rules {
		if r == "" {
			return fmt.Errorf(".rules[%d]: empty", i)
		}
	}
	for k, pat := range l.Match {
		if _, err := path.Match(pat, ""); err != nil {
			return fmt.Errorf(".match.%s: bad pattern %q: %v", k, pat, err)
		}
	}
	for i, s := range l.Steps {
		if err := s.validate(cat); err != nil {
			return fmt.Errorf(".steps[%d]%s", i, err)
		}
	}
	if l.Advice == "" {
		return errors.New(".advice: missing (every ladder ends in advice)")
	}
	return nil
}

func (s *Step) validate(cat Catalog) error {
	if len(s.Actions) == 0 {
		return errors.New(".actions: at least one action is needed")
	}
	if s.Verify <= 0 {
		return errors.New(".verify: must be positive")
	}
	for i, a := range s.Actions {
		if err := a.validate(cat); err != nil {
			return fmt.Errorf(".actions[%d]%s", i, err)
		}
	}
	return nil
}

func (a *Act) validate(cat Catalog) error {
	if a.Action == "" {
		return errors.New(".action: missing")
	}
	for k, v := range a.Params {
		if err := checkTemplate(v); err != nil {
			return fmt.Errorf(".params.%s: %v", k, err)
		}
	}
	if cat == nil {
		return nil
	}
	required, ok := cat(a.Action)
	if !ok {
		return fmt.Errorf(".action: unknown action %q", a.Action)
	}
	for _, r := range required {
		if _, ok := a.Params[r]; !ok {
			return fmt.Errorf(".params.%s: required by %s", r, a.Action)
		}
	}
	return nil
}

// Find returns the first enabled ladder answering rule whose match
// patterns all match vars, or nil.
func (p *Policy) Find(rule string, vars map[string]string) *Ladder {
	for i := range p.Ladders {
		l := &p.Ladders[i]
		if l.disabled() {
			continue
		}
		if !hasRule(l.Rules, rule) || !matches(l.Match, vars) {
			continue
		}
		return l
	}
	return nil
}

// ladder returns the ladder called name, or nil.
func (p *Policy) ladder(name string) *Ladder {
	for i := range p.Ladders {
		if p.Ladders[i].Name == name {
			return &p.Ladders[i]
		}
	}
	return nil
}

func hasRule(rules []string, rule string) bool {
	for _, r := range rules {
		if ok, _ := path.Match(r, rule); ok {
			return true
		}
	}
	return false
}

func matches(patterns, vars map[string]string) bool {
	for k, pat := range patterns {
		v, ok := vars[k]
		if !ok {
			return false
		}
		if m, _ := path.Match(pat, v); !m {
			return false
		}
	}
	return true
}
