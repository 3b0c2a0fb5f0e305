package heal

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/detect"
	"github.com/lmn-heal/lmn/internal/record"
)

// Job is one action the engine wants run. The caller runs it (package
// tier) and hands the Result to Engine.Complete.
type Job struct {
	ID     uint64
	Issue  string
	Action string
	Params map[string]string
	// Scope is the issue subject's scope ("user" for a user unit).
	Scope string
	// Restore asks for the request that undoes the action (Result.Undo).
	Restore bool
	// Undo marks a job that puts back an earlier change.
	Undo bool
}

// Request is an action with its parameters.
type Request struct {
	Action string            `json:"action"`
	Params map[string]string `json:"params,omitempty"`
}

// Result is what running a Job gave.
type Result struct {
	// Tier is the tier that ran the action, or TierAdvise when none could
	// and Advice holds the command to run by hand.
	Tier string
	// Denied says for each tier passed over why it could not act.
	Denied map[string]string
	// Err is set when the action ran (or every tier failed) and failed.
	Err    string
	Advice string
	// Undo is the request that puts the change back (Job.Restore).
	Undo     *Request
	Duration time.Duration
}

// Config sets up an Engine.
type Config struct {
	Policy *Policy
	// DryRun plans without running: jobs are not handed out, a planned
	// record stands for each action, and it is assumed to succeed.
	DryRun bool
	Host   string
	// Target names what an action acts on (action.Target); nil uses the
	// action name.
	Target func(action string, params map[string]string) string
	// Command is the command a person would run (action.Command) for an
	// action on a subject of scope ("user" for a user unit), used in
	// advice; nil leaves it out.
	Command func(action string, params map[string]string, scope string) string
	// AllowUnit reports whether the action catalogue's unit policy lets
	// restart_unit touch unit; {{top_memory_unit}} is the largest unit it
	// allows. nil allows every unit. It only picks the unit: the catalogue
	// still checks the action when it runs.
	AllowUnit func(unit string) bool
}

// Src is the src of every record the engine writes.
const Src = "lmn-heal"

// Engine walks healing ladders as records arrive. It is not safe for
// concurrent use; the caller serializes Observe and Complete.
type Engine struct {
	cfg         Config
	now         time.Time
	st          state
	facts       map[string]map[string]string // mount → facts from the samples
	topUnits    []record.UnitMemory          // mem.top_units of the latest sample
	sample      []byte                       // the latest sample, not yet decoded
	sampleFresh bool
	dec         *record.SampleDecoder // of factFields
	running     int
	busy        map[string]int // subjects and targets with an action in flight
	inflight    map[uint64]*flight
	out         []record.Heal
	jobs        []Job
	dirty       bool
	pause       pauseState // pause.go
}

// flight is an action handed out and not yet complete.
type flight struct {
	job     Job
	issue   *tracked // nil for an undo
	key     string   // breaker key
	subject string
	target  string
	started time.Time
}

// New returns an engine with empty state.
func New(cfg Config) *Engine {
	if cfg.Host == "" {
		cfg.Host = "unknown"
	}
	return &Engine{
		cfg:      cfg,
		st:       newState(),
		dec:      record.NewSampleDecoder(factFields),
		facts:    map[string]map[string]string{},
		busy:     map[string]int{},
		inflight: map[uint64]*flight{},
	}
}

// Now returns the engine's clock: the latest record time seen.
func (e *Engine) Now() time.Time { return e.now }

// Running returns how many jobs are handed out and not complete.
func (e *Engine) Running() int { return e.running }

// Drain returns the heal records and the jobs produced since the last
// call. Records come in the order they happened.
func (e *Engine) Drain() ([]record.Heal, []Job) {
	out, jobs := e.out, e.jobs
	e.out, e.jobs = nil, nil
	return out, jobs
}

// Dirty reports whether the state changed in a way worth saving at once
// (a value to restore was recorded) and clears the flag.
func (e *Engine) Dirty() bool {
	d := e.dirty
	e.dirty = false
	return d
}

// factFields are the fields of a sample the engine reads: facts about
// mounts and the units using the most memory.
var factFields = func() (fs record.FieldSet) {
	for _, f := range []record.Field{
		record.FieldMemTopUnitsUnit, record.FieldMemTopUnitsScope, record.FieldMemTopUnitsMemoryBytes,
		record.FieldDisksMountsMount, record.FieldDisksMountsHoldsNixStore, record.FieldDisksMountsHoldsVarLog,
	} {
		fs.Add(f)
	}
	return fs
}()

// Observe takes one record of the stream: its ts moves the clock, issues
// start, verify and end ladders, samples give facts. Then every ladder
// is advanced. An error means the record could not be used; the engine is
// unchanged by it and the caller goes on.
//
// Only issues are decoded whole. Of other records only ts is read (the
// reader's scanner found it), and the latest sample is kept as bytes and
// decoded, for the facts only, when an issue needs them: most samples are
// passed on without a second decode.
func (e *Engine) Observe(line record.Line) error {
	if line.Kind == record.KindIssue {
		var is record.Issue
		if err := line.Decode(&is); err != nil {
			return fmt.Errorf("issue record: %w", err)
		}
		if is.ID == "" || is.Rule == "" {
			return &record.LineError{Line: line.N, Err: fmt.Errorf("issue record without id or rule")}
		}
		e.advanceClock(is.TS.Time)
		e.issue(is)
		e.tick()
		return nil
	}
	ts, err := line.TS()
	if err != nil {
		return &record.LineError{Line: line.N, Err: fmt.Errorf("ts: %w", err)}
	}
	if line.Kind == record.KindSample {
		e.sample = append(e.sample[:0], line.Body()...)
		e.sampleFresh = true
	}
	e.advanceClock(ts)
	e.tick()
	return nil
}

func (e *Engine) advanceClock(t time.Time) {
	if t.After(e.now) {
		e.now = t
		e.st.Now = t
	}
}

// sampleFacts decodes the facts of the latest sample, once. A field of
// the wrong type leaves only itself out: the decoder then gives what
// json.Unmarshal could decode, so a malformed mem.top_units does not hide
// the mounts' facts.
func (e *Engine) sampleFacts() {
	if !e.sampleFresh {
		return
	}
	e.sampleFresh = false
	var s record.Sample
	e.dec.Decode(e.sample, &s)
	e.topUnits = nil
	if s.Mem != nil {
		e.topUnits = slices.Clone(s.Mem.TopUnits)
	}
	if s.Disks == nil {
		return
	}
	for _, m := range s.Disks.Mounts {
		e.facts[m.Mount] = map[string]string{
			"holds_nix_store": fmt.Sprint(m.HoldsNixStore),
			"holds_var_log":   fmt.Sprint(m.HoldsVarLog),
		}
	}
}

// vars are the template and match variables of an issue: its subject,
// facts the stream gave about it, and an alert's labels (labels.go).
func (e *Engine) vars(is record.Issue) map[string]string {
	v := map[string]string{"rule": is.Rule, "issue": is.ID}
	for k, val := range is.Subject {
		v[k] = val
	}
	if u, ok := is.Subject["unit"]; ok && u != "" {
		// The commands a person runs for this unit, in its scope.
		v["systemctl"], v["journalctl"] = "systemctl", "journalctl"
		if is.Subject["scope"] == "user" {
			v["systemctl"], v["journalctl"] = "systemctl --user", "journalctl --user"
		}
	}
	if m, ok := is.Subject["mount"]; ok {
		e.sampleFacts()
		for k, val := range e.facts[m] {
			v[k] = val
		}
	}
	if slices.Contains(memoryRules, is.Rule) {
		e.sampleFacts()
		if u, ok := e.topMemoryUnit(); ok {
			v["top_memory_unit"], v["top_memory_scope"] = u.Unit, u.Scope
		}
	}
	addLabels(v, is.Labels)
	return v
}

// memoryRules are the issues whose ladders may act on the unit using the
// most memory ({{top_memory_unit}}, {{top_memory_scope}}).
var memoryRules = []string{detect.RuleMemPressure, detect.RuleSwapExhaustion}

// topMemoryUnit is the largest unit of the latest sample's mem.top_units
// that AllowUnit allows; ok is false when there is none.
func (e *Engine) topMemoryUnit() (record.UnitMemory, bool) {
	for _, u := range e.topUnits {
		if u.Unit == "" || u.Scope != "system" && u.Scope != "user" {
			continue
		}
		if e.cfg.AllowUnit == nil || e.cfg.AllowUnit(u.Unit) {
			return u, true
		}
	}
	return record.UnitMemory{}, false
}

// actScope is the scope an action of t's ladder runs in: the subject's
// ("user" for a user unit), or, for an action on the top memory unit,
// that unit's, so a user service is restarted with systemctl --user.
func actScope(t *tracked, params map[string]string) string {
	if s := t.Subject["scope"]; s != "" {
		return s
	}
	if u := t.Vars["top_memory_unit"]; u != "" && params["unit"] == u {
		return t.Vars["top_memory_scope"]
	}
	return ""
}

// tick advances every ladder, starts restores and forgets healthy
// breakers.
func (e *Engine) tick() {
	for key, b := range e.st.Breakers {
		if e.busy[key] == 0 && b.healthy(e.cfg.Policy.Breaker, e.now) {
			delete(e.st.Breakers, key)
		}
	}
	for _, t := range slices.Clone(e.st.Issues) {
		e.advance(t)
	}
	e.st.Issues = slices.DeleteFunc(e.st.Issues, func(t *tracked) bool { return t.gone })
	e.restores()
	e.pruneBudget()
}

func (e *Engine) pruneBudget() {
	cut := e.now.Add(-e.cfg.Policy.Budget.Window.D())
	i := 0
	for i < len(e.st.Budget) && !e.st.Budget[i].After(cut) {
		i++
	}
	e.st.Budget = e.st.Budget[i:]
}

func (e *Engine) find(id string) *tracked {
	for _, t := range e.st.Issues {
		if t.ID == id && !t.gone {
			return t
		}
	}
	return nil
}

func (e *Engine) emit(h record.Heal) {
	h.Header = record.NewHeader(record.KindHeal, Src, e.cfg.Host, e.now)
	e.out = append(e.out, h)
}

func (e *Engine) target(action string, params map[string]string, scope string) string {
	t := action
	if e.cfg.Target != nil {
		if s := e.cfg.Target(action, params); s != "" {
			t = s
		}
	}
	if scope == "user" {
		t = "user:" + t
	}
	return t
}

func (e *Engine) command(action string, params map[string]string, scope string) string {
	if e.cfg.Command == nil {
		return ""
	}
	return e.cfg.Command(action, params, scope)
}

// subjectKey is a canonical form of a subject.
func subjectKey(s map[string]string) string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString("subject:")
	for _, k := range keys {
		b.WriteString(k + "=" + s[k] + ";")
	}
	return b.String()
}

func ms(d time.Duration) *float64 {
	v := float64(d.Microseconds()) / 1000
	return &v
}

// marshalNoEscape is json.Marshal without HTML escaping.
func marshalNoEscape(v any) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}
