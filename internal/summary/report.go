package summary

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// Report is what lmn did over a span of a stream: the issues and the heal
// records whose ts is in [From, To], and the issues still firing at To.
type Report struct {
	Hosts []string  `json:"hosts"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	// Fired and Resolved count issue records by state in the span; a
	// firing record of an issue already firing (a change of severity)
	// is not counted again.
	Fired    int `json:"fired"`
	Resolved int `json:"resolved"`
	// FiringAtEnd counts the issues whose latest record is firing.
	FiringAtEnd int `json:"firing_at_end"`
	// Phases counts heal records by phase; Outcomes the verified ones by
	// outcome.
	Phases   map[string]int `json:"phases"`
	Outcomes map[string]int `json:"outcomes"`
	// Subjects is the same per subject (and rule), the busiest first.
	Subjects []Row `json:"subjects"`
	// Lines is how many records were read, Rejected how many lines were
	// not records.
	Lines    int `json:"lines"`
	Rejected int `json:"rejected"`
}

// Row is one subject's part of a report.
type Row struct {
	Subject     string         `json:"subject"`
	Rule        string         `json:"rule"`
	Fired       int            `json:"fired"`
	Resolved    int            `json:"resolved"`
	FiringAtEnd bool           `json:"firing_at_end"`
	Phases      map[string]int `json:"phases"`
	Outcomes    map[string]int `json:"outcomes"`
}

// Span says which part of the stream a report covers, counted back from
// the latest record's ts, so that a recorded day reports as it ran.
type Span struct {
	// Since is how far back from the latest record; 0 for the whole stream.
	Since time.Duration
	// Today starts the span at midnight, in loc, of the latest record's day.
	Today bool
	Loc   *time.Location
	// From, if set, starts the span at a time.
	From time.Time
}

// event is an issue or heal record kept for the report.
type event struct {
	ts    time.Time
	issue *record.Issue
	heal  *record.Heal
}

// Read reads a stream from r and reports what lmn did over span. The
// stream's time is that of its samples, issues and heal records (the
// machine's); lines that are not records are counted, records of other
// kinds skipped.
func Read(r io.Reader, span Span) (*Report, error) {
	in := record.NewReader(r, nil)
	var events []event
	var latest time.Time
	hosts := map[string]bool{}
	lines := 0
	for {
		l, err := in.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		lines++
		if l.Kind != record.KindSample && l.Kind != record.KindIssue && l.Kind != record.KindHeal {
			// A start record has its binary's wall clock, which in a
			// replay is not the time the stream tells of.
			continue
		}
		ts, err := l.TS()
		if err != nil || ts.IsZero() {
			continue
		}
		if ts.After(latest) {
			latest = ts
		}
		var ev event
		switch l.Kind {
		case record.KindIssue:
			var is record.Issue
			if json.Unmarshal(l.Body(), &is) != nil || is.ID == "" {
				continue
			}
			ev = event{ts: ts, issue: &is}
			hosts[is.Host] = true
		case record.KindHeal:
			var h record.Heal
			if json.Unmarshal(l.Body(), &h) != nil || h.Phase == "" {
				continue
			}
			ev = event{ts: ts, heal: &h}
			hosts[h.Host] = true
		default:
			continue
		}
		events = append(events, ev)
	}
	// Files given in any order (a log and its rotated parts) tell one
	// story in the order of time.
	slices.SortStableFunc(events, func(a, b event) int { return a.ts.Compare(b.ts) })
	rep := &Report{To: latest, Lines: lines, Rejected: in.Rejected(),
		Phases: map[string]int{}, Outcomes: map[string]int{}}
	rep.From = span.start(latest, events)
	for h := range hosts {
		if h != "" {
			rep.Hosts = append(rep.Hosts, h)
		}
	}
	slices.Sort(rep.Hosts)
	rep.add(events)
	return rep, nil
}

// start returns the first time the span covers.
func (s Span) start(latest time.Time, events []event) time.Time {
	switch {
	case !s.From.IsZero():
		return s.From
	case s.Today:
		loc := s.Loc
		if loc == nil {
			loc = time.Local
		}
		t := latest.In(loc)
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	case s.Since > 0:
		return latest.Add(-s.Since)
	}
	if len(events) == 0 {
		return latest
	}
	first := events[0].ts
	for _, e := range events {
		if e.ts.Before(first) {
			first = e.ts
		}
	}
	return first
}

// add counts events in [rep.From, rep.To]; the issues' states are
// followed from the stream's start, so an issue fired before the span and
// firing still is counted as firing at its end.
func (rep *Report) add(events []event) {
	rows := map[string]*Row{}
	row := func(rule string, subj map[string]string) *Row {
		s := Subject(subj)
		k := rule + "\x00" + s
		r := rows[k]
		if r == nil {
			r = &Row{Subject: s, Rule: rule, Phases: map[string]int{}, Outcomes: map[string]int{}}
			rows[k] = r
		}
		return r
	}
	state := map[string]*record.Issue{} // the latest record of each issue
	for _, e := range events {
		in := !e.ts.Before(rep.From) && !e.ts.After(rep.To)
		if is := e.issue; is != nil {
			prev := state[is.ID]
			state[is.ID] = is
			r := row(is.Rule, is.Subject)
			if !in {
				continue
			}
			switch {
			case is.State == record.StateResolved && (prev == nil || prev.State != record.StateResolved):
				rep.Resolved++
				r.Resolved++
			case is.State == record.StateFiring && (prev == nil || prev.State != record.StateFiring):
				rep.Fired++
				r.Fired++
			}
			continue
		}
		h := e.heal
		subj, rule := h.Subject, h.Rule
		if is := state[h.Issue]; is != nil {
			if subj == nil {
				subj = is.Subject
			}
			if rule == "" {
				rule = is.Rule
			}
		}
		if !in {
			continue
		}
		r := row(rule, subj)
		rep.Phases[h.Phase]++
		r.Phases[h.Phase]++
		if h.Phase == record.PhaseVerified && h.Outcome != "" {
			rep.Outcomes[h.Outcome]++
			r.Outcomes[h.Outcome]++
		}
	}
	for _, is := range state {
		if is.State == record.StateFiring {
			rep.FiringAtEnd++
			row(is.Rule, is.Subject).FiringAtEnd = true
		}
	}
	for _, r := range rows {
		if r.Fired+r.Resolved+len(r.Phases) > 0 || r.FiringAtEnd {
			rep.Subjects = append(rep.Subjects, *r)
		}
	}
	slices.SortFunc(rep.Subjects, func(a, b Row) int {
		if d := b.activity() - a.activity(); d != 0 {
			return d
		}
		if c := strings.Compare(a.Subject, b.Subject); c != 0 {
			return c
		}
		return strings.Compare(a.Rule, b.Rule)
	})
}

func (r Row) activity() int {
	n := r.Fired + r.Resolved
	for _, c := range r.Phases {
		n += c
	}
	return n
}

// The heal phases in the order a ladder goes through them, as the
// report's columns and sentences name them.
var phaseOrder = []struct{ phase, name string }{
	{record.PhaseStarted, "started"}, {record.PhaseSucceeded, "succeeded"}, {record.PhaseFailed, "failed"},
	{record.PhaseAdvised, "advised"}, {record.PhaseGaveUp, "gave up"}, {record.PhaseHeld, "held"},
	{record.PhaseRestored, "restored"}, {record.PhasePlanned, "planned"},
}

var outcomeOrder = []struct{ outcome, name string }{
	{record.OutcomeRecovered, "recovered"}, {record.OutcomeNotRecovered, "not recovered"}, {record.OutcomeWorse, "worse"},
}

// WriteText writes the report for a person.
func (rep *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	host := strings.Join(rep.Hosts, ", ")
	if host == "" {
		host = "the stream"
	}
	if rep.To.IsZero() {
		fmt.Fprintf(&b, "lmn summary: no record with a time in the stream (%d records read)\n", rep.Lines)
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "lmn summary of %s, %s to %s (%s)\n", host, stamp(rep.From), stamp(rep.To), rep.To.Sub(rep.From).Round(time.Second))
	fmt.Fprintf(&b, "issues  %d fired, %d resolved, %d firing at the end\n", rep.Fired, rep.Resolved, rep.FiringAtEnd)
	fmt.Fprintf(&b, "heals   %s\n", sentence(rep.Phases, rep.Outcomes))
	if rep.Rejected > 0 {
		fmt.Fprintf(&b, "input   %d lines were not records\n", rep.Rejected)
	}
	if len(rep.Subjects) > 0 {
		b.WriteString("\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		// A dry run's planned steps get their own column, only then.
		planned := rep.Phases[record.PhasePlanned] > 0
		head := "subject\trule\tfired\tresolved\tnow\tstarted\tsucceeded\tfailed\trecovered\tnot recovered\tgave up\tadvised"
		if planned {
			head += "\tplanned"
		}
		fmt.Fprintln(tw, head)
		for _, r := range rep.Subjects {
			now := "ok"
			if r.FiringAtEnd {
				now = "firing"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d", r.Subject, r.Rule, r.Fired, r.Resolved, now,
				r.Phases[record.PhaseStarted], r.Phases[record.PhaseSucceeded], r.Phases[record.PhaseFailed],
				r.Outcomes[record.OutcomeRecovered], r.Outcomes[record.OutcomeNotRecovered]+r.Outcomes[record.OutcomeWorse],
				r.Phases[record.PhaseGaveUp], r.Phases[record.PhaseAdvised])
			if planned {
				fmt.Fprintf(tw, "\t%d", r.Phases[record.PhasePlanned])
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		b.Reset()
		for _, l := range lines {
			b.WriteString(strings.TrimRight(l, " ") + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as one JSON object.
func (rep *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// sentence says the heal phases and outcomes in ladder order.
func sentence(phases, outcomes map[string]int) string {
	var parts []string
	for _, p := range phaseOrder {
		if n := phases[p.phase]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, p.name))
		}
	}
	var outs []string
	for _, o := range outcomeOrder {
		if n := outcomes[o.outcome]; n > 0 {
			outs = append(outs, fmt.Sprintf("%d %s", n, o.name))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	s := strings.Join(parts, ", ")
	if len(outs) > 0 {
		s += "; verified: " + strings.Join(outs, ", ")
	}
	return s
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }
