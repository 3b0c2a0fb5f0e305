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
	if c, ok := m.judging.check(now); ok {
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
// something about it: its verdict comes at the end of its settle window,
// resolved (healthy) or firing. Until then the gate is not green: a
// deploy tool that asks right after its switch waits for the judgement,
// not for the old generation's health. A change made before lmn-dash
// started reading is not waited for.
type judging struct {
	running string // nix.current_system of the latest sample
	system  string // the changed-to system without a verdict yet; "" when none
	gen     int
	since   time.Time
}

func (j *judging) sample(s *record.Sample) {
	if s.Nix == nil || s.Nix.CurrentSystem == "" {
		return
	}
	if cur := s.Nix.CurrentSystem; j.running != "" && cur != j.running {
		j.system, j.gen, j.since = cur, s.Nix.CurrentGeneration, s.TS.Time
	}
	j.running = s.Nix.CurrentSystem
}

func (j *judging) issue(is *record.Issue) {
	if is.Rule == record.RuleGenerationUnhealthy && j.system != "" && is.Subject["system"] == j.system {
		j.system = ""
	}
}

// check is the judgement's check, while one is awaited.
func (j *judging) check(now time.Time) (GateCheck, bool) {
	if j.system == "" {
		return GateCheck{}, false
	}
	what := j.system
	if j.gen > 0 {
		what = fmt.Sprintf("generation %d", j.gen)
	}
	return GateCheck{Name: "judged", Detail: fmt.Sprintf("%s runs since %s ago: lmn-detect judges it at the end of its settle window",
		what, now.Sub(j.since).Round(time.Second))}, true
}
