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
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/lmn-heal/lmn/internal/config"
	"github.com/lmn-heal/lmn/internal/detect"
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
	RestoreAfter config.Duration `json:"restore_after"`
	// Destructive is the signal a destructive action of the catalogue
	// (action.Spec.Destructive) needs before it runs.
	Destructive Destructive `json:"destructive"`
	// MaxIssues bounds the issues tracked at once; further ones are
	// refused with advice and counted.
	MaxIssues int `json:"max_issues"`
	// Alertmanager says what to do with Alertmanager, when lmn-heal is
	// given one (alertmanager.go).
	Alertmanager Alertmanager `json:"alertmanager"`
	Ladders      []Ladder     `json:"ladders"`
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
	MaxActions int             `json:"max_actions"`
	Window     config.Duration `json:"window"`
}

// Breaker configures the circuit breaker kept per (action, target).
type Breaker struct {
	// MaxAttempts within Window opens the breaker.
	MaxAttempts int             `json:"max_attempts"`
	Window      config.Duration `json:"window"`
	// Backoff is the wait after the first attempt; it doubles with each
	// further attempt in the window, up to MaxBackoff.
	Backoff    config.Duration `json:"backoff"`
	MaxBackoff config.Duration `json:"max_backoff"`
	// Cooldown is how long an open breaker stays open before one
	// half-open retry; it doubles each time the retry fails.
	Cooldown config.Duration `json:"cooldown"`
	// ResetAfter without an attempt closes the breaker and forgets its
	// attempts.
	ResetAfter config.Duration `json:"reset_after"`
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
	Actions []Act           `json:"actions"`
	Verify  config.Duration `json:"verify"`
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

// Catalog tells policy validation which actions exist and the params each
// takes, true for a required one; nil skips those checks.
type Catalog func(action string) (params map[string]bool, ok bool)

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

// ParsePolicy reads the contents of the policy file called name. Unknown
// fields are errors. With "extend": true it is merged over the defaults;
// otherwise it replaces their ladders, and settings it leaves out keep the
// defaults. The result is validated against cat. A mistake is a
// *config.Error naming the file and the field path.
func ParsePolicy(name string, data []byte, cat Catalog) (*Policy, error) {
	p, err := parsePolicy(data, cat)
	return p, config.In(name, err)
}

func parsePolicy(data []byte, cat Catalog) (*Policy, error) {
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
	if err := config.Decode(data, into); err != nil {
		return nil, err
	}
	return into, nil
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
		return config.Errorf("concurrency", "must be at least 1, not %d", p.Concurrency)
	case p.Budget.MaxActions < 1:
		return config.Errorf("budget.max_actions", "must be at least 1, not %d", p.Budget.MaxActions)
	case p.Budget.Window <= 0:
		return config.Errorf("budget.window", "must be positive")
	case p.Breaker.MaxAttempts < 1:
		return config.Errorf("breaker.max_attempts", "must be at least 1, not %d", p.Breaker.MaxAttempts)
	case p.Breaker.Window <= 0:
		return config.Errorf("breaker.window", "must be positive")
	case p.Breaker.Cooldown <= 0:
		return config.Errorf("breaker.cooldown", "must be positive")
	case p.Breaker.ResetAfter <= 0:
		return config.Errorf("breaker.reset_after", "must be positive")
	case p.Breaker.MaxBackoff < p.Breaker.Backoff:
		return config.Errorf("breaker.max_backoff", "must not be less than breaker.backoff")
	case p.Breaker.HealthyUptime <= 0:
		return config.Errorf("breaker.healthy_uptime", "must be positive")
	case p.Destructive.MinUsedRatio <= 0 || p.Destructive.MinUsedRatio > 1:
		return config.Errorf("destructive.min_used_ratio", "must be above 0 and at most 1, not %v", p.Destructive.MinUsedRatio)
	case p.MaxIssues < 1:
		return config.Errorf("max_issues", "must be at least 1, not %d", p.MaxIssues)
	}
	names := map[string]int{}
	for i, l := range p.Ladders {
		at := fmt.Sprintf("ladders[%d]", i)
		if err := l.validate(cat); err != nil {
			return config.Field(at, err)
		}
		if j, dup := names[l.Name]; dup {
			return config.Errorf(at+".name", "%q already used by ladders[%d]", l.Name, j)
		}
		names[l.Name] = i
	}
	return nil
}

func (l *Ladder) validate(cat Catalog) error {
	if l.Name == "" {
		return config.Errorf("name", "missing")
	}
	if l.disabled() {
		return nil // a disabled ladder is a name, whatever else it says
	}
	if len(l.Rules) == 0 {
		return config.Errorf("rules", "at least one rule name is needed")
	}
	for i, r := range l.Rules {
		if r == "" {
			return config.Errorf(fmt.Sprintf("rules[%d]", i), "empty")
		}
		if err := checkRuleName(r); err != nil {
			return config.Field(fmt.Sprintf("rules[%d]", i), err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(l.Match)) {
		if _, err := path.Match(l.Match[k], ""); err != nil {
			return config.Errorf("match."+k, "bad pattern %q: %v", l.Match[k], err)
		}
		if err := l.checkVar(k); err != nil {
			return config.Field("match."+k, err)
		}
		if k == "rule" {
			if err := checkRuleName(l.Match[k]); err != nil {
				return config.Field("match.rule", err)
			}
		}
	}
	for i, s := range l.Steps {
		if err := s.validate(l, cat); err != nil {
			return config.Field(fmt.Sprintf("steps[%d]", i), err)
		}
	}
	if l.Advice == "" {
		return config.Errorf("advice", "missing (every ladder ends in advice)")
	}
	if err := l.checkTemplate(l.Advice); err != nil {
		return config.Field("advice", err)
	}
	return nil
}

func (s *Step) validate(l *Ladder, cat Catalog) error {
	if len(s.Actions) == 0 {
		return config.Errorf("actions", "at least one action is needed")
	}
	if s.Verify <= 0 {
		return config.Errorf("verify", "must be positive")
	}
	for i, a := range s.Actions {
		if err := a.validate(l, cat); err != nil {
			return config.Field(fmt.Sprintf("actions[%d]", i), err)
		}
	}
	return nil
}

func (a *Act) validate(l *Ladder, cat Catalog) error {
	if a.Action == "" {
		return config.Errorf("action", "missing")
	}
	keys := slices.Sorted(maps.Keys(a.Params))
	for _, k := range keys {
		if err := l.checkTemplate(a.Params[k]); err != nil {
			return config.Field("params."+k, err)
		}
	}
	if cat == nil {
		return nil
	}
	params, ok := cat(a.Action)
	if !ok {
		return config.Errorf("action", "unknown action %q", a.Action)
	}
	names := slices.Sorted(maps.Keys(params))
	for _, k := range keys {
		if _, ok := params[k]; !ok {
			hint := config.Suggest(k, names)
			if hint == "" {
				hint = "it takes " + strings.Join(names, ", ")
				if len(names) == 0 {
					hint = "it takes none"
				}
			}
			return config.Errorf("params."+k, "not a parameter of %s (%s)", a.Action, hint)
		}
	}
	for _, k := range names {
		if _, ok := a.Params[k]; params[k] && !ok {
			return config.Errorf("params."+k, "required by %s", a.Action)
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

// checkRuleName reports a ladder's rule name that is a misspelling of a
// built-in rule of lmn-detect's (or of alerts'): it would never match. A
// pattern, a built-in name, or a name of one's own that is no near miss of
// a built-in one (a rule of lmn-detect's --rules file) is fine.
func checkRuleName(r string) error {
	if strings.ContainsAny(r, `*?[\`) {
		return nil
	}
	known := append(detect.BuiltinRuleNames(), alertRule)
	if slices.Contains(known, r) {
		return nil
	}
	if hint := config.Suggest(r, known); hint != "" {
		return fmt.Errorf("%q is no built-in rule: %s (a rule of your own needs a name that is not a near miss of a built-in one)", r, hint)
	}
	return nil
}
