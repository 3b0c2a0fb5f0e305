package dash

import (
	"fmt"
	"sort"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// The gate is what deploy tools wait for after a switch (`lmn-dash health
// --wait`, lmn-gate.service at boot): green when the stream is live, lmn-detect
// is judging it, and it judges the running generation healthy. Every check
// says what it saw, so a red gate names what is failing.

// Gate is the gate's state at one moment.
type Gate struct {
	Green  bool        `json:"green"`
	Checks []GateCheck `json:"checks"`
}

// GateCheck is one condition of the gate.
type GateCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Failing names the checks that fail, "name: detail" each.
func (g Gate) Failing() []string {
	var out []string
	for _, c := range g.Checks {
		if !c.OK {
			out = append(out, c.Name+": "+c.Detail)
		}
	}
	return out
}

// minStale is the least age at which a sample is stale; beyond it, three
// sample intervals.
const minStale = 15 * time.Second

// Gate judges the model at now (the wall clock: only freshness uses it).
func (m *Model) Gate(now time.Time) Gate {
	checks := []GateCheck{m.gateStream(now), m.gateDetect()}
	if c, ok := m.judging.check(now, m.LastTS); ok {
		checks = append(checks, c)
	}
	checks = append(checks, m.gateIssues()...)
	g := Gate{Green: true, Checks: checks}
	for _, c := range checks {
		g.Green = g.Green && c.OK
	}
	return g
}

func (m *Model) gateStream(now time.Time) GateCheck {
	c := GateCheck{Name: "stream"}
	if m.Sample == nil {
		c.Detail = "no sample yet"
		return c
	}
	age := now.Sub(m.Sample.TS.Time)
	stale := max(minStale, 3*m.SampleGap)
	c.OK = age <= stale
	c.Detail = fmt.Sprintf("latest sample %s ago", age.Round(time.Millisecond))
	if !c.OK {
		c.Detail += fmt.Sprintf(" (stale after %s): is lmn-collect running?", stale)
	}
	return c
}

func (m *Model) gateDetect() GateCheck {
	if s := m.Sources["lmn-detect"]; s != nil {
		return GateCheck{Name: "detect", OK: true, Detail: fmt.Sprintf("lmn-detect upstream, %d records", s.Records)}
	}
	return GateCheck{Name: "detect", Detail: "no lmn-detect upstream: nothing judges the generation"}
}

// gateIssues is one failing check per firing generation_unhealthy issue,
// or one passing check when none fires.
func (m *Model) gateIssues() []GateCheck {
	var out []GateCheck
	for _, is := range m.Issues {
		if is.Rule == record.RuleGenerationUnhealthy {
			out = append(out, GateCheck{Name: is.Rule, Detail: is.Summary})
		}
	}
	if len(out) == 0 {
		return []GateCheck{{Name: record.RuleGenerationUnhealthy, OK: true, Detail: "not firing"}}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Detail < out[j].Detail })
	return out
}

// judging follows a change of the running system the stream showed
// (nix.current_system) until lmn-detect's generation_unhealthy says
// something about it: its verdict comes at the end of its settle window
// (which lmn-detect's start record says), resolved (healthy) or firing.
// Until then the gate is not green: a deploy tool asking right after its
// switch waits for the judgement, not for the old generation's health.
// The system running at the first sample lmn-dash reads may be such a
// change too (a boot into a new generation: lmn-detect's --state knows
// what ran before), so it is waited for as well, but only until the
// settle window and a margin have passed: when nothing changed, no verdict
// comes. Without the rule (no settle in lmn-detect's start record) nothing
// is waited for.
type judging struct {
	settle  time.Duration
	running string // nix.current_system of the latest sample
	system  string // the changed-to system without a verdict yet; "" when none
	gen     int
	since   time.Time
	until   time.Time // zero: until the verdict
}

// judgeMargin is how long after the settle window the first system seen
// is waited for: a sample interval of lmn-collect at its default, 30 s.
const judgeMargin = 30 * time.Second

func (j *judging) start(line record.Line, src string) {
	if src != "lmn-detect" {
		return
	}
	var st struct {
		Settings struct {
			Settle float64 `json:"generation_settle_seconds"`
		} `json:"settings"`
	}
	if line.Decode(&st) == nil && st.Settings.Settle >= 0 && st.Settings.Settle < 1e6 {
		j.settle = time.Duration(st.Settings.Settle * float64(time.Second))
	}
}

func (j *judging) sample(s *record.Sample) {
	if s.Nix == nil || s.Nix.CurrentSystem == "" {
		return
	}
	cur := s.Nix.CurrentSystem
	switch {
	case j.settle == 0:
	case j.running == "":
		j.system, j.gen, j.since = cur, s.Nix.CurrentGeneration, s.TS.Time
		j.until = s.TS.Add(j.settle + judgeMargin)
	case cur != j.running:
		j.system, j.gen, j.since, j.until = cur, s.Nix.CurrentGeneration, s.TS.Time, time.Time{}
	}
	j.running = cur
}

func (j *judging) issue(is *record.Issue) {
	if is.Rule == record.RuleGenerationUnhealthy && j.system != "" && is.Subject["system"] == j.system {
		j.system = ""
	}
}

// check is the judgement's check, while one is awaited. The first
// system's wait ends with the stream's time, never the wall clock: a
// replay judges as the live pipe did.
func (j *judging) check(now time.Time, latest time.Time) (GateCheck, bool) {
	if j.system == "" || !j.until.IsZero() && !latest.Before(j.until) {
		return GateCheck{}, false
	}
	what := j.system
	if j.gen > 0 {
		what = fmt.Sprintf("generation %d", j.gen)
	}
	return GateCheck{Name: "judged", Detail: fmt.Sprintf("%s runs since %s ago: lmn-detect judges it %s after it started",
		what, now.Sub(j.since).Round(time.Second), j.settle)}, true
}
