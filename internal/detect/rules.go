package detect

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lmn-heal/lmn/internal/config"
	"github.com/lmn-heal/lmn/internal/record"
)

// Rule kinds.
const (
	KindThreshold  = "threshold"
	KindTrend      = "trend"
	KindUnitFailed = "unit_failed"
	KindAbsence    = "absence"
	KindProbe      = "probe"
	KindIncrease   = "increase"
	KindGeneration = "generation"
)

// File is a rules file. With Extend false its rules replace the built-in
// defaults; with Extend true they are applied on top of the defaults: a rule
// named like a default patches that default field by field (so
// {"name":"disk_usage","warning":0.9} moves one level and
// {"name":"cpu_pressure","enabled":false} turns a rule off), any other rule
// is added.
type File struct {
	Extend bool   `json:"extend,omitempty"`
	Rules  []Rule `json:"rules"`
}

// Rule is one detection rule. Which fields apply depends on Kind; a field
// that does not apply to the rule's kind is an error.
type Rule struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Enabled     *bool  `json:"enabled,omitempty"`
	Description string `json:"description,omitempty"`

	// Metric is the sample field watched by threshold and trend rules.
	Metric string `json:"metric,omitempty"`
	// Direction is "above" (fire when the value rises past a level, the
	// default) or "below".
	Direction string `json:"direction,omitempty"`
	// Warning and Critical are fire levels; at least one is needed. Clear
	// is the level the value must get back past for the issue to resolve
	// (hysteresis); it defaults to the lower fire level.
	Warning  *float64 `json:"warning,omitempty"`
	Critical *float64 `json:"critical,omitempty"`
	Clear    *float64 `json:"clear,omitempty"`
	// WarningFrom and CriticalFrom name fields of the same subject that
	// hold per-subject levels (a sensor's high_celsius); when the sample has
	// them they replace Warning and Critical, and Clear keeps its distance.
	WarningFrom  string `json:"warning_from,omitempty"`
	CriticalFrom string `json:"critical_from,omitempty"`
	// And are further conditions that must all hold for the rule to fire.
	And []Condition `json:"and,omitempty"`
	// Escalate are conditions any of which makes a firing issue critical.
	Escalate []Condition `json:"escalate,omitempty"`

	// Limit, Window, Horizon, CriticalHorizon, ClearHorizon and MinHistory
	// shape a trend rule: it fires when a least-squares fit over Window
	// reaches Limit within Horizon (critical within CriticalHorizon), once
	// MinHistory of samples is in the window, and resolves when the
	// estimate moves beyond ClearHorizon. With ShortWindow, a second fit
	// over the last ShortWindow counts too, and the sooner estimate wins,
	// so that a change of slope shows within minutes.
	Limit           *float64        `json:"limit,omitempty"`
	Window          config.Duration `json:"window,omitzero"`
	Horizon         config.Duration `json:"horizon,omitzero"`
	CriticalHorizon config.Duration `json:"critical_horizon,omitzero"`
	ClearHorizon    config.Duration `json:"clear_horizon,omitzero"`
	MinHistory      config.Duration `json:"min_history,omitzero"`
	ShortWindow     config.Duration `json:"short_window,omitzero"`

	// Intervals and Interval shape an absence rule: it fires when no sample
	// came for Intervals times the expected interval (Interval, or each
	// sample's interval_seconds when Interval is not set).
	Intervals int             `json:"intervals,omitempty"`
	Interval  config.Duration `json:"interval,omitzero"`

	// ProbeKinds limits a probe rule to probes of these kinds (tcp, http,
	// dns, exec); empty judges all. ResolveAfter is how many passing
	// results in a row resolve its issue.
	ProbeKinds   []string `json:"probe_kinds,omitempty"`
	ResolveAfter int      `json:"resolve_after,omitempty"`

	// Settle is how long a generation rule waits after what runs changed
	// before it judges the change (generation.go); match then names the
	// critical units and probes.
	Settle config.Duration `json:"settle,omitzero"`

	// For is how long the condition must hold before firing; for a probe
	// rule, how many failed results in a row.
	For Hold `json:"for,omitzero"`
	// Match limits the rule to subjects whose name (mount, interface,
	// sensor, unit) matches one of these glob patterns; empty matches all.
	Match []string `json:"match,omitempty"`
	// Flapping holds an issue firing once it fired and resolved more than
	// Transitions times within Window, until it has been quiet for Window.
	Flapping *Flapping `json:"flapping,omitempty"`
	// Summary and ResolvedSummary are sentence templates; see docs/rules.md.
	Summary         string `json:"summary,omitempty"`
	ResolvedSummary string `json:"resolved_summary,omitempty"`
}

// Condition is one further test in a rule's And or Escalate list: exactly
// one of Above and Below, and optionally the Clear level a firing issue
// needs the value to get back past before the condition stops holding.
type Condition struct {
	Metric string   `json:"metric"`
	Above  *float64 `json:"above,omitempty"`
	Below  *float64 `json:"below,omitempty"`
	Clear  *float64 `json:"clear,omitempty"`
}

// Flapping is a rule's flap detection; Transitions 0 turns it off.
type Flapping struct {
	Transitions int             `json:"transitions"`
	Window      config.Duration `json:"window"`
}

//go:embed defaults.json
var defaultsJSON []byte

// DefaultsName is the name of the embedded rules in errors and settings.
const DefaultsName = "built-in defaults"

// Rules is a loaded, validated and compiled rule set.
type Rules struct {
	file     File
	compiled []*rule
	fields   record.FieldSet // what the compiled rules read of a sample
	json     []byte
	digest   string
}

// Defaults returns the built-in rules.
func Defaults() *Rules {
	r, err := ParseRules(DefaultsName, defaultsJSON)
	if err != nil {
		panic(fmt.Sprintf("detect: built-in rules are invalid: %v", err))
	}
	return r
}

// BuiltinRuleNames returns the names of the built-in rules, in their order.
var BuiltinRuleNames = sync.OnceValue(func() []string {
	raws, _, err := parseTopFields(defaultsJSON)
	if err != nil {
		panic(fmt.Sprintf("detect: built-in rules are invalid: %v", err))
	}
	names := make([]string, len(raws))
	for i, r := range raws {
		names[i] = rawName(r)
	}
	return names
})

// JSON returns the effective rules as indented JSON, every default filled
// in: what --print-rules prints and what the digest is taken over.
func (r *Rules) JSON() []byte { return r.json }

// Digest is "sha256:" and the hex SHA-256 of the compact form of JSON().
func (r *Rules) Digest() string { return r.digest }

// Decoder returns a sample decoder for the fields these rules read.
func (r *Rules) Decoder() *record.SampleDecoder { return record.NewSampleDecoder(r.fields) }

// GenerationSettle is the settle window of the enabled generation_unhealthy
// rule; false when it is off. lmn-dash's gate waits that long for its
// verdict.
func (r *Rules) GenerationSettle() (time.Duration, bool) {
	for _, c := range r.compiled {
		if c.Name == record.RuleGenerationUnhealthy && c.Kind == KindGeneration {
			return c.Settle.D(), true
		}
	}
	return 0, false
}

// Len returns the number of enabled rules.
func (r *Rules) Len() int { return len(r.compiled) }

// ParseRules reads a rules file named name (used in errors). A file with
// "extend": true is applied on top of the built-in defaults. A mistake is a
// *config.Error naming the file and the field path.
func ParseRules(name string, data []byte) (*Rules, error) {
	raws, extend, err := parseTop(name, data)
	if err != nil {
		return nil, err
	}
	if extend {
		base, _, err := parseTop(DefaultsName, defaultsJSON)
		if err != nil {
			return nil, err
		}
		raws = mergeRules(base, raws)
	}
	f := File{Extend: false, Rules: make([]Rule, 0, len(raws))}
	seen := map[string]int{}
	for i, raw := range raws {
		path := fmt.Sprintf("rules[%d]", raw.index)
		if _, hasKind := raw.fields["kind"]; !extend && !hasKind && !rawDisabled(raw) && slices.Contains(BuiltinRuleNames(), rawName(raw)) {
			return nil, config.In(name, config.Errorf(path, "%q is a built-in rule, and this file replaces the built-in rules: "+
				"add \"extend\": true to patch a built-in rule, or give the whole rule with its kind", rawName(raw)))
		}
		rl, err := decodeRule(raw.fields)
		if err == nil {
			err = normalize(&rl, raw.fields)
		}
		if err != nil {
			return nil, config.In(name, config.Field(path, err))
		}
		if j, dup := seen[rl.Name]; dup {
			return nil, config.In(name, config.Errorf(path+".name", "rule %q is already defined by rules[%d]", rl.Name, raws[j].index))
		}
		seen[rl.Name] = i
		f.Rules = append(f.Rules, rl)
	}
	return build(name, f, raws)
}

func build(name string, f File, raws []rawRule) (*Rules, error) {
	r := &Rules{file: f}
	for i := range f.Rules {
		if !*f.Rules[i].Enabled {
			continue
		}
		c, err := compile(&f.Rules[i])
		if err != nil {
			return nil, config.In(name, config.Field(fmt.Sprintf("rules[%d]", raws[i].index), err))
		}
		r.compiled = append(r.compiled, c)
		c.needs(&r.fields)
	}
	compact, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("rules %s: encode: %w", name, err)
	}
	sum := sha256.Sum256(compact)
	r.digest = "sha256:" + hex.EncodeToString(sum[:])
	var buf bytes.Buffer
	if err := json.Indent(&buf, compact, "", "  "); err != nil {
		return nil, fmt.Errorf("rules %s: indent: %w", name, err)
	}
	buf.WriteByte('\n')
	r.json = buf.Bytes()
	return r, nil
}

// rawRule is one rule as key → raw JSON value, with its index in the file
// that gave it (for error paths).
type rawRule struct {
	index  int
	fields map[string]json.RawMessage
}

func parseTop(name string, data []byte) ([]rawRule, bool, error) {
	raws, extend, err := parseTopFields(data)
	return raws, extend, config.In(name, err)
}

func parseTopFields(data []byte) ([]rawRule, bool, error) {
	var top map[string]json.RawMessage
	if err := config.Decode(data, &top); err != nil {
		var ce *config.Error
		if errors.As(err, &ce) && ce.Field == "" {
			return nil, false, fmt.Errorf("%w (want an object such as {\"extend\": true, \"rules\": [...]})", ce.Err)
		}
		return nil, false, err
	}
	var extend bool
	var list []json.RawMessage
	for _, k := range sortedKeys(top) {
		var err error
		switch k {
		case "extend":
			err = config.Decode(top[k], &extend)
		case "rules":
			err = config.Decode(top[k], &list)
		default:
			return nil, false, config.Errorf(k, "unknown field (want \"extend\" or \"rules\")")
		}
		if err != nil {
			return nil, false, config.Field(k, err)
		}
	}
	if _, ok := top["rules"]; !ok {
		return nil, false, config.Errorf("rules", "missing (want a list of rules)")
	}
	raws := make([]rawRule, 0, len(list))
	for i, item := range list {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(item, &m); err != nil || m == nil {
			return nil, false, config.Errorf(fmt.Sprintf("rules[%d]", i), "want an object, got %s", preview(item))
		}
		for _, k := range sortedKeys(m) {
			if _, ok := ruleFields[k]; !ok {
				return nil, false, config.Errorf(fmt.Sprintf("rules[%d].%s", i, k), "unknown field%s", hint(k))
			}
		}
		raws = append(raws, rawRule{index: i, fields: m})
	}
	return raws, extend, nil
}

// hint suggests the rule field a misspelt key was meant to be.
func hint(key string) string {
	names := make([]string, 0, len(ruleFields))
	for k := range ruleFields {
		names = append(names, k)
	}
	sort.Strings(names)
	if s := config.Suggest(key, names); s != "" {
		return " (" + s + ")"
	}
	return ""
}

// mergeRules patches base with over: same-named rules are merged field by
// field, others appended in order.
func mergeRules(base, over []rawRule) []rawRule {
	out := make([]rawRule, 0, len(base)+len(over))
	byName := map[string]int{}
	for _, b := range base {
		byName[rawName(b)] = len(out)
		out = append(out, rawRule{index: -1, fields: b.fields})
	}
	for _, o := range over {
		i, ok := byName[rawName(o)]
		if !ok {
			out = append(out, o)
			continue
		}
		merged := make(map[string]json.RawMessage, len(out[i].fields)+len(o.fields))
		for k, v := range out[i].fields {
			merged[k] = v
		}
		for k, v := range o.fields {
			merged[k] = v
		}
		out[i] = rawRule{index: o.index, fields: merged}
	}
	return out
}

// rawDisabled says r turns its rule off ("enabled": false), which needs
// only its name.
func rawDisabled(r rawRule) bool {
	var on *bool
	_ = json.Unmarshal(r.fields["enabled"], &on)
	return on != nil && !*on
}

func rawName(r rawRule) string {
	var s string
	_ = json.Unmarshal(r.fields["name"], &s)
	return s
}

// ruleFields maps each JSON key of Rule to its field index.
var ruleFields = func() map[string]int {
	m := map[string]int{}
	t := reflect.TypeFor[Rule]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		m[name] = i
	}
	return m
}()

// decodeRule decodes a rule one field at a time so that each error names
// its field.
func decodeRule(fields map[string]json.RawMessage) (Rule, error) {
	var r Rule
	v := reflect.ValueOf(&r).Elem()
	for _, k := range sortedKeys(fields) {
		dst := v.Field(ruleFields[k]).Addr().Interface()
		if err := config.Decode(fields[k], dst); err != nil {
			return r, config.Field(k, err)
		}
	}
	return r, nil
}
