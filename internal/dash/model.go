// Package dash is lmn-dash's state model: what the stream has said about the
// machine and about the healing, kept up to date one record at a time.
//
// The model is fed by records (Apply) and read by the renderers in
// internal/dash/frame and internal/dash/metrics. Decisions use record
// timestamps, never the wall clock, so a replayed stream gives the same
// model every time; only the stream's freshness compares against now.
package dash

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// TrendLen is how many points each trend keeps: enough for the widest
// sparkline a 200-column terminal can show.
const TrendLen = 240

// MaxIssues bounds the firing issues the model keeps.
const MaxIssues = 4096

// EventLen is how many issue and heal events the event log keeps.
const EventLen = 64

// Source is one binary seen upstream in the stream.
type Source struct {
	Name    string
	Version string    // from its start record; "" if none was seen
	Last    time.Time // ts of its latest record
	Records uint64
}

// HealStat counts finished heal steps for one action or one tier.
type HealStat struct {
	Succeeded uint64
	Failed    uint64
	Advised   uint64
	// Verified counts the verifications of the action's steps, Recovered
	// those whose outcome was recovered (by action only: a verification
	// names no tier).
	Verified  uint64
	Recovered uint64
	// Planned counts steps lmn-heal --dry-run planned and did not run.
	Planned uint64
}

// RecoveryRate is the share of verified steps that recovered, 0 when none
// was verified: what a step achieved, where Rate is only that it ran.
func (h HealStat) RecoveryRate() float64 {
	if h.Verified == 0 {
		return 0
	}
	return float64(h.Recovered) / float64(h.Verified)
}

// Attempts is the number of steps that ran to a result.
func (h HealStat) Attempts() uint64 { return h.Succeeded + h.Failed }

// Rate is the share of attempts that succeeded, 0 when there were none.
func (h HealStat) Rate() float64 {
	if h.Attempts() == 0 {
		return 0
	}
	return float64(h.Succeeded) / float64(h.Attempts())
}

// Breaker is an open circuit breaker: lmn-heal gave up on an action for an
// issue until RetryAt.
type Breaker struct {
	Issue   string
	Rule    string
	Action  string
	Subject map[string]string
	Since   time.Time
	RetryAt time.Time
	Error   string
}

// Event is one line of the event log.
type Event struct {
	TS    time.Time
	Kind  string // record.KindIssue or record.KindHeal
	Level Level
	Text  string
}

// OutcomeKey labels a finished heal step.
type OutcomeKey struct{ Action, Tier, Outcome string }

// VerifyKey labels a verification.
type VerifyKey struct{ Action, Outcome string }

// Model is the dashboard's state. It is not safe for concurrent use; see
// Live for the shared, locked form.
type Model struct {
	Host   string
	LastTS time.Time // ts of the latest record
	Sample *record.Sample

	CPU      *Ring            // cpu busy ratio
	MemAvail *Ring            // memory available ratio
	PSI      map[string]*Ring // "cpu", "memory", "io": some avg10 ratio
	DiskFill map[string]*Ring // by mount: used ratio

	Issues    map[string]*record.Issue // firing issues by id
	IssueSeen bool                     // any issue record seen: health comes from issues

	ByAction  map[string]*HealStat
	ByTier    map[string]*HealStat
	Outcomes  map[OutcomeKey]uint64
	Verified  map[VerifyKey]uint64
	Durations map[string]*Histogram // by action
	Breakers  map[string]*Breaker   // by issue and action
	Advice    map[string]*Advice    // by issue: the latest advice, until the issue resolves
	GaveUp    map[string]uint64     // gave_up records, by action
	Recovery  map[string]*Histogram // from an issue firing to its recovered verification, by action
	// Fired is when each issue's first firing record came, kept until
	// it is verified or forgotten (fleet.go).
	Fired map[string]Firing
	// HealActions and HealTiers are what lmn-heal's start record says
	// its policy may run and through which tiers: their heal series are
	// exported at zero from the start.
	HealActions, HealTiers []string
	// SampleGap is the time between the two latest samples.
	SampleGap time.Duration

	// Interval is the collector's --interval, from its start record; 0
	// until one came.
	Interval time.Duration
	// Cadence is the time between the collector's ticks, learnt from the
	// stream; 0 until two ticks came.
	Cadence  time.Duration
	lastTick time.Time

	Events []Event // oldest first, at most EventLen
	// EventCount counts every event ever added, so a reader can tell
	// which of Events are new since it last looked.
	EventCount uint64
	Sources    map[string]*Source
	Records    map[string]uint64 // accepted records by kind
	Invalid    uint64            // records that did not decode as their kind
	// Rejected is the reader's count of rejected lines (set by the caller).
	Rejected int

	judging judging  // gate.go
	starts  []string // the PipeStages whose start records came, in that order
}

// PipeStages are the stages before lmn-dash, in the pipe's order.
var PipeStages = []string{"lmn-collect", "lmn-detect", "lmn-heal"}

// PipeMisordered reports whether the stages' start records say the pipe
// was built in the wrong order. Each stage writes its own start record
// before it passes on its upstream's, so in a right pipe lmn-dash sees
// them last stage first: lmn-heal's, lmn-detect's, lmn-collect's. A start
// record that comes before that of a stage which should be downstream of
// it (lmn-detect's before lmn-heal's, in lmn-collect | lmn-heal |
// lmn-detect) means the stages stand in another order.
func (m *Model) PipeMisordered() bool {
	for i := 1; i < len(m.starts); i++ {
		if slices.Index(PipeStages, m.starts[i-1]) < slices.Index(PipeStages, m.starts[i]) {
			return true
		}
	}
	return false
}

// New returns an empty model.
func New() *Model {
	return &Model{
		CPU:       NewRing(TrendLen),
		MemAvail:  NewRing(TrendLen),
		PSI:       map[string]*Ring{},
		DiskFill:  map[string]*Ring{},
		Issues:    map[string]*record.Issue{},
		ByAction:  map[string]*HealStat{},
		ByTier:    map[string]*HealStat{},
		Outcomes:  map[OutcomeKey]uint64{},
		Verified:  map[VerifyKey]uint64{},
		Durations: map[string]*Histogram{},
		Breakers:  map[string]*Breaker{},
		Advice:    map[string]*Advice{},
		GaveUp:    map[string]uint64{},
		Recovery:  map[string]*Histogram{},
		Fired:     map[string]Firing{},
		Sources:   map[string]*Source{},
		Records:   map[string]uint64{},
	}
}

// Apply updates the model with one record. A record that does not decode
// as its kind is counted in Invalid and returned as an error; the model is
// left as it was.
func (m *Model) Apply(line record.Line) error {
	var h record.Header
	var err error
	switch line.Kind {
	case record.KindStart:
		h, err = m.applyStart(line)
	case record.KindSample:
		h, err = m.applySample(line)
	case record.KindIssue:
		h, err = m.applyIssue(line)
	case record.KindHeal:
		h, err = m.applyHeal(line)
	default:
		if err = line.Decode(&h); err != nil {
			m.Invalid++
			return fmt.Errorf("dash: %w", err)
		}
	}
	if err != nil {
		m.Invalid++
		return fmt.Errorf("dash: %s record: %w", line.Kind, err)
	}
	m.Records[bounded(m.Records, line.Kind, Other)]++
	m.seen(h)
	return nil
}

func (m *Model) seen(h record.Header) {
	if h.Host != "" {
		m.Host = h.Host
	}
	if h.TS.After(m.LastTS) {
		m.LastTS = h.TS.Time
	}
	if h.Src == "" {
		return
	}
	s := m.source(h.Src)
	s.Records++
	if h.TS.After(s.Last) {
		s.Last = h.TS.Time
	}
}

func (m *Model) source(name string) *Source {
	name = bounded(m.Sources, name, Other)
	s := m.Sources[name]
	if s == nil {
		s = &Source{Name: name}
		m.Sources[name] = s
	}
	return s
}

// The applyX decode a record of kind X, apply it and return its header;
// on an error the model is as it was.

func (m *Model) applyStart(line record.Line) (record.Header, error) {
	var st record.Start
	if err := line.Decode(&st); err != nil {
		return st.Header, err
	}
	if st.Src != "" {
		m.source(st.Src).Version = st.Version
	}
	if slices.Contains(PipeStages, st.Src) && !slices.Contains(m.starts, st.Src) {
		m.starts = append(m.starts, st.Src)
	}
	m.healSettings(line, st.Src)
	m.judging.start(line, st.Src)
	m.collectSettings(line, st.Src)
	return st.Header, nil
}

// applySample decodes a sample as every reader of the stream does, with
// record's sample decoder, and refuses one with a value its field cannot
// have (record.CheckSample), as lmn-detect does.
func (m *Model) applySample(line record.Line) (record.Header, error) {
	var s record.Sample
	if err := record.DecodeSample(line.Body(), &s); err != nil {
		return s.Header, &record.LineError{Line: line.N, Err: err}
	}
	if err := record.CheckSample(&s); err != nil { // as lmn-detect: no measurement, not drawn
		return s.Header, &record.LineError{Line: line.N, Err: err}
	}
	if m.Sample != nil && s.TS.After(m.Sample.TS.Time) {
		m.SampleGap = s.TS.Sub(m.Sample.TS.Time)
	}
	m.Sample = &s
	m.judging.sample(&s)
	if s.Trigger != "" && s.Trigger != "tick" {
		// An event's sample: the state is new, but the trends move at the
		// ticks, or a burst of events would fill them in a second.
		return s.Header, nil
	}
	if !m.lastTick.IsZero() && s.TS.After(m.lastTick) {
		m.Cadence = s.TS.Sub(m.lastTick)
	}
	m.lastTick = s.TS.Time
	if s.CPU != nil {
		m.CPU.Push(s.CPU.BusyRatio)
	}
	if s.Mem != nil {
		m.MemAvail.Push(s.Mem.AvailableRatio)
	}
	if s.PSI != nil {
		m.pushPSI("cpu", s.PSI.CPU)
		m.pushPSI("memory", s.PSI.Memory)
		m.pushPSI("io", s.PSI.IO)
	}
	if s.Disks != nil {
		m.pushDisks(s.Disks.Mounts)
	}
	return s.Header, nil
}

// Staleness returns how old the latest record may be before the stream
// looks late (warn) and dead (crit): 15 s and a minute, or one and a half
// and three of the collector's ticks when they are longer.
func (m *Model) Staleness() (warn, crit time.Duration) {
	return max(15*time.Second, m.Cadence*3/2), max(time.Minute, 3*m.Cadence)
}

func (m *Model) pushPSI(name string, p *record.Pressure) {
	if p == nil || p.Some == nil {
		return
	}
	r := m.PSI[name]
	if r == nil {
		r = NewRing(TrendLen)
		m.PSI[name] = r
	}
	r.Push(p.Some.Avg10Ratio)
}

// pushDisks adds a point per mount and forgets mounts that are gone, so
// mounts that come and go do not grow the model.
func (m *Model) pushDisks(mounts []record.Mount) {
	present := make(map[string]bool, len(mounts))
	for _, mt := range mounts {
		present[mt.Mount] = true
		r := m.DiskFill[mt.Mount]
		if r == nil {
			r = NewRing(TrendLen)
			m.DiskFill[mt.Mount] = r
		}
		r.Push(mt.UsedRatio)
	}
	for k := range m.DiskFill {
		if !present[k] {
			delete(m.DiskFill, k)
		}
	}
}

func (m *Model) applyIssue(line record.Line) (record.Header, error) {
	var is record.Issue
	if err := line.Decode(&is); err != nil {
		return is.Header, err
	}
	if is.ID == "" {
		return is.Header, fmt.Errorf("issue without id")
	}
	m.IssueSeen = true
	m.judging.issue(&is)
	lvl := SeverityLevel(is.Severity)
	switch is.State {
	case record.StateFiring:
		if _, ok := m.Issues[is.ID]; !ok && len(m.Issues) >= MaxIssues {
			return is.Header, fmt.Errorf("issue %s: more than %d firing issues; not shown", is.ID, MaxIssues)
		}
		m.Issues[is.ID] = &is
		m.fired(&is)
		m.event(is.TS.Time, record.KindIssue, lvl, words(strings.ToUpper(is.Severity), is.Rule, SubjectString(is.Subject), is.Summary))
	case record.StateResolved:
		delete(m.Issues, is.ID)
		m.resolvedIssue(is.ID)
		m.closeBreakers(is.ID)
		delete(m.Advice, is.ID)
		m.event(is.TS.Time, record.KindIssue, LevelOK, words("RESOLVED", is.Rule, SubjectString(is.Subject), is.Summary))
	default:
		return is.Header, fmt.Errorf("issue %s: unknown state %q", is.ID, is.State)
	}
	return is.Header, nil
}

func (m *Model) event(ts time.Time, kind string, lvl Level, text string) {
	if len(m.Events) == EventLen {
		copy(m.Events, m.Events[1:])
		m.Events = m.Events[:EventLen-1]
	}
	m.Events = append(m.Events, Event{TS: ts, Kind: kind, Level: lvl, Text: text})
	m.EventCount++
}

// words joins the non-empty parts with spaces.
func words(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(p)
	}
	return b.String()
}

// SubjectString writes a subject as sorted key=value pairs.
func SubjectString(subject map[string]string) string {
	keys := make([]string, 0, len(subject))
	for k := range subject {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(subject[k])
	}
	return b.String()
}

// EventsSince returns the events added after the first n of all events
// (EventCount), oldest first; events that fell out of the log are lost.
func (m *Model) EventsSince(n uint64) []Event {
	if n >= m.EventCount {
		return nil
	}
	return m.Events[len(m.Events)-int(min(m.EventCount-n, uint64(len(m.Events)))):]
}

// FiringIssues returns the firing issues, most severe first, then oldest
// first, then by id.
func (m *Model) FiringIssues() []*record.Issue {
	out := make([]*record.Issue, 0, len(m.Issues))
	for _, is := range m.Issues {
		out = append(out, is)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if la, lb := SeverityLevel(a.Severity), SeverityLevel(b.Severity); la != lb {
			return la > lb
		}
		if !a.Since.Equal(b.Since.Time) {
			return a.Since.Before(b.Since.Time)
		}
		return a.ID < b.ID
	})
	return out
}
