package heal

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

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
	// Check asks for the state of the unit Params["unit"] in Scope, and
	// runs no action: verification reads the unit's real state. The
	// answer is Result.State.
	Check bool
	// MarkGood marks a generation judged healthy known good, for no
	// ladder (generation.go).
	MarkGood bool
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
	// State answers a Check job: the unit's ActiveState/SubState, such
	// as "active/running" or "inactive/dead"; Err says why it is unknown.
	State string
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
	// Wall is this machine's clock. It is read only to refuse record
	// times far in its future and to repair such a clock in a saved
	// state; nil refuses none.
	Wall func() time.Time
}

// Src is the src of every record the engine writes.
const Src = "lmn-heal"

// Engine walks healing ladders as records arrive. It is not safe for
// concurrent use; the caller serializes Observe and Complete.
type Engine struct {
	cfg         Config
	now         time.Time
	started     bool      // a sample or issue moved the clock in this run
	recordNow   time.Time // the clock as the latest sample or issue left it
	jump        jump      // a far step of the clock waiting for the next record
	lastWall    time.Time // Config.Wall at the latest sample or issue
	skewed      int       // records whose time was refused
	st          state
	issues      map[string]*tracked // by id; st.Issues is their saved form
	seq         uint64              // the Seq of the latest tracked issue
	ready       readyQueue
	timers      timerHeap
	timerSeq    uint64
	waiting     map[string][]slot             // parked behind a busy subject or target
	held        map[string]bool               // ids whose destructive step waits for a strong signal
	overflow    int                           // issues refused past max_issues
	visits      int                           // ladders looked at, for tests of the cost
	facts       map[string]map[string]string  // mount → facts from the samples
	fills       map[string]fill               // mount → how full, from the samples
	units       []unitEvidence                // mem.units of the latest sample
	probes      map[string]record.ProbeResult // its probes, by name
	sample      []byte                        // the latest sample, not yet decoded
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
	about   *markedIssue // of a MarkGood job
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
		issues:   map[string]*tracked{},
		waiting:  map[string][]slot{},
		held:     map[string]bool{},
		facts:    map[string]map[string]string{},
		fills:    map[string]fill{},
		probes:   map[string]record.ProbeResult{},
		busy:     map[string]int{},
		inflight: map[uint64]*flight{},
	}
}

// Now returns the engine's clock: the machine's time as the stream
// carries it (clock.go).
func (e *Engine) Now() time.Time { return e.now }

// Tracked returns how many issues are tracked; Overflow how many were
// refused because max_issues were tracked already.
func (e *Engine) Tracked() int  { return len(e.issues) }
func (e *Engine) Overflow() int { return e.overflow }

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

// Observe takes one record of the stream: samples and issues move the
// clock (clock.go), issues start, verify and end ladders, samples give
// facts. Then every ladder whose time has come is advanced. Other records
// are passed over. An error other than a *ClockError means the record
// could not be used and the engine is unchanged by it; a *ClockError
// means the record was used but its time was not.
//
// Only issues are decoded whole. Of samples only ts is read (the reader's
// scanner found it), and the latest is kept as bytes and decoded, for the
// facts only, when an issue needs them: most samples are passed on
// without a second decode.
func (e *Engine) Observe(line record.Line) error {
	switch line.Kind {
	case record.KindIssue:
		var is record.Issue
		if err := line.Decode(&is); err != nil {
			return fmt.Errorf("issue record: %w", err)
		}
		if is.ID == "" || is.Rule == "" {
			return &record.LineError{Line: line.N, Err: fmt.Errorf("issue record without id or rule")}
		}
		cerr := e.clock(is.TS.Time, line.N)
		e.issue(is)
		e.tick()
		return cerr
	case record.KindSample:
		ts, err := line.TS()
		if err != nil {
			return &record.LineError{Line: line.N, Err: fmt.Errorf("ts: %w", err)}
		}
		e.sample = append(e.sample[:0], line.Body()...)
		e.sampleFresh = true
		cerr := e.clock(ts, line.N)
		e.recheckHeld()
		e.tick()
		return cerr
	}
	return nil
}

// tick advances every ladder whose time has come and starts what the
// bounds allow, then starts restores and forgets healthy breakers. Its
// cost does not grow with the number of issues tracked (sched.go).
func (e *Engine) tick() {
	for key, b := range e.st.Breakers {
		if e.busy[key] == 0 && b.healthy(e.cfg.Policy.Breaker, e.now) {
			delete(e.st.Breakers, key)
		}
	}
	e.due()
	e.runQueue()
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

func seconds(d time.Duration) *float64 {
	v := math.Round(d.Seconds()*1000) / 1000
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
