package notify

import (
	"fmt"
	"maps"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// decider turns records into messages: it knows each issue from its issue
// and heal records, picks the events a person is told about, holds back
// repeats per issue, and folds a storm into digests. Its clock is the wall
// clock (a message goes out now, whatever the record time). It is not safe
// for concurrent use.
type decider struct {
	cfg    *Config
	now    func() time.Time
	issues map[string]*issueState

	window time.Time // start of the current storm window
	sent   int       // messages sent one by one in it
	digest *Message  // the window's folded messages, or nil
	due    time.Time // when digest goes out
}

// issueState is what the decider knows of one issue.
type issueState struct {
	host, rule, summary, severity string
	subject                       map[string]string
	steps                         []string
	// notified: a person was told of a problem and not yet that it
	// recovered.
	notified bool
	lastSent time.Time // the last problem message about it
	heldBack int       // events held back since then
	seen     time.Time
}

// Bounds of what the decider keeps.
const (
	maxIssues      = 10000 // issues known at once; the least recently seen is forgotten
	maxSteps       = 8     // steps kept per issue for "lmn did"
	maxDigestItems = 10    // messages shown in full in a digest
)

func newDecider(cfg *Config, now func() time.Time) *decider {
	return &decider{cfg: cfg, now: now, issues: map[string]*issueState{}}
}

// observe takes one record and returns the messages to send now.
func (d *decider) observe(line record.Line) ([]*Message, error) {
	switch line.Kind {
	case record.KindIssue:
		var is record.Issue
		if err := line.Decode(&is); err != nil {
			return nil, fmt.Errorf("issue record: %w", err)
		}
		return d.issue(&is), nil
	case record.KindHeal:
		var h record.Heal
		if err := line.Decode(&h); err != nil {
			return nil, fmt.Errorf("heal record: %w", err)
		}
		return d.heal(&h), nil
	}
	return nil, nil
}

func (d *decider) issue(is *record.Issue) []*Message {
	if is.ID == "" {
		return nil
	}
	st := d.state(is.ID, is.Host)
	st.rule, st.subject, st.severity = is.Rule, is.Subject, is.Severity
	switch is.State {
	case record.StateFiring:
		st.summary = is.Summary
		if is.Rule == EventCollectorAbsent && d.cfg.wants(EventCollectorAbsent) && !d.cfg.muted(is.ID, is.Rule) {
			return d.problem(is.ID, st, EventCollectorAbsent, nil, is.TS.Time)
		}
	case record.StateResolved:
		notified := st.notified
		st.steps, st.notified = nil, false
		if st.lastSent.IsZero() {
			// Never told: nothing to remember. A told issue keeps its
			// last time, so a flapping one stays held back.
			delete(d.issues, is.ID)
		}
		if notified && d.cfg.wants(EventRecovered) {
			m := d.message(is.ID, st, EventRecovered, nil, is.TS.Time)
			m.Summary = is.Summary
			return d.storm(m)
		}
	}
	return nil
}

func (d *decider) heal(h *record.Heal) []*Message {
	if h.Issue == "" {
		return nil
	}
	st := d.state(h.Issue, h.Host)
	if st.rule == "" {
		st.rule, st.subject = h.Rule, h.Subject
	}
	st.addStep(h)
	ev := healEvent(h)
	switch {
	case !d.cfg.wants(ev) || d.cfg.muted(h.Issue, st.rule):
		return nil
	case ev == EventRecovered:
		if !st.notified {
			return nil // healed quietly: nobody needs to hear of it
		}
		st.notified = false
		return d.storm(d.message(h.Issue, st, ev, h, h.TS.Time))
	}
	return d.problem(h.Issue, st, ev, h, h.TS.Time)
}

// problem sends a problem event unless one about the same issue went out
// within the per-issue window.
func (d *decider) problem(id string, st *issueState, ev string, h *record.Heal, ts time.Time) []*Message {
	now := d.now()
	if !st.lastSent.IsZero() && now.Sub(st.lastSent) < d.cfg.PerIssue.D() {
		st.heldBack++
		return nil
	}
	m := d.message(id, st, ev, h, ts)
	m.HeldBack, st.heldBack = st.heldBack, 0
	st.lastSent, st.notified = now, true
	return d.storm(m)
}

// storm lets the first Burst messages of a window go one by one and folds
// the rest into the window's digest.
func (d *decider) storm(m *Message) []*Message {
	now := d.now()
	if d.window.IsZero() || !now.Before(d.window.Add(d.cfg.DigestEvery.D())) {
		d.window, d.sent = now, 0
	}
	if d.sent < d.cfg.Burst {
		d.sent++
		return []*Message{m}
	}
	if d.digest == nil {
		d.digest = &Message{Event: EventDigest, Host: m.Host, TS: m.TS, Read: m.Read, Counts: map[string]int{},
			Pause: d.cfg.PauseFile}
		d.due = d.window.Add(d.cfg.DigestEvery.D())
	}
	d.digest.Count++
	d.digest.Counts[m.Event]++
	if len(d.digest.Items) < maxDigestItems {
		d.digest.Items = append(d.digest.Items, m)
	}
	return nil
}

// flush returns the pending digest once it is due, else nil.
func (d *decider) flush() *Message {
	if d.digest == nil || d.now().Before(d.due) {
		return nil
	}
	return d.takeDigest()
}

// takeDigest returns the pending digest, due or not, or nil.
func (d *decider) takeDigest() *Message {
	m := d.digest
	d.digest = nil
	return m
}

// dueAt says when the pending digest goes out; ok is false without one.
func (d *decider) dueAt() (time.Time, bool) {
	return d.due, d.digest != nil
}

func (d *decider) message(id string, st *issueState, ev string, h *record.Heal, ts time.Time) *Message {
	m := &Message{
		Event: ev, Host: st.host, TS: ts, Read: d.now(),
		Issue: id, Rule: st.rule, Subject: maps.Clone(st.subject), Summary: st.summary, Severity: st.severity,
		Steps: append([]string(nil), st.steps...), Pause: d.cfg.PauseFile, PerIssue: d.cfg.PerIssue.D(),
	}
	if d.cfg.Host != "" {
		m.Host = d.cfg.Host
	}
	if h != nil {
		m.Action, m.Tier, m.Outcome, m.Error, m.Advice = h.Action, h.Tier, healEvent(h), h.Error, h.Advice
	}
	return m
}

// state returns the issue's state, making it if new.
func (d *decider) state(id, host string) *issueState {
	now := d.now()
	st := d.issues[id]
	if st == nil {
		if len(d.issues) >= maxIssues {
			d.forgetOldest()
		}
		st = &issueState{}
		d.issues[id] = st
	}
	st.seen = now
	if host != "" {
		st.host = host
	}
	return st
}

func (d *decider) forgetOldest() {
	var oldest string
	var at time.Time
	for id, st := range d.issues {
		if oldest == "" || st.seen.Before(at) {
			oldest, at = id, st.seen
		}
	}
	delete(d.issues, oldest)
}

// addStep keeps what a heal record says lmn did.
func (st *issueState) addStep(h *record.Heal) {
	var s string
	switch h.Phase {
	case record.PhaseSucceeded:
		s = fmt.Sprintf("step %d %s via %s: succeeded", h.Step, h.Action, h.Tier)
	case record.PhaseFailed:
		s = fmt.Sprintf("step %d %s via %s: failed (%s)", h.Step, h.Action, h.Tier, h.Error)
	case record.PhaseVerified:
		s = fmt.Sprintf("step %d verified: %s", h.Step, h.Outcome)
	case record.PhaseAdvised:
		s = fmt.Sprintf("step %d: no tier could act, advised", h.Step)
		if len(h.Denied) > 0 {
			s += " (" + subjectText(h.Denied) + ")"
		}
	case record.PhaseGaveUp:
		s = fmt.Sprintf("step %d %s: gave up after %d attempts", h.Step, h.Action, h.Attempt)
	case record.PhaseHeld:
		s = fmt.Sprintf("step %d %s: held, healing is paused", h.Step, h.Action)
	default:
		return
	}
	st.steps = append(st.steps, oneLine(s))
	if len(st.steps) > maxSteps {
		st.steps = st.steps[len(st.steps)-maxSteps:]
	}
}
