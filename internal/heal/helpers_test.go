package heal

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

var t0 = time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)

// at is t0 plus a duration written like "90s".
func at(t testing.TB, d string) time.Time {
	t.Helper()
	v, err := time.ParseDuration(d)
	if err != nil {
		t.Fatal(err)
	}
	return t0.Add(v)
}

func lineOfRecord(t testing.TB, v any, kind string) record.Line {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return record.Line{N: 1, Raw: append(b, '\n'), Kind: kind}
}

func issueLine(t testing.TB, ts time.Time, rule, state, sev string, subject map[string]string) record.Line {
	t.Helper()
	is := record.Issue{
		Header:   record.NewHeader(record.KindIssue, "lmn-detect", "h", ts),
		ID:       rule + "/" + subjectKey(subject),
		Rule:     rule,
		Subject:  subject,
		State:    state,
		Severity: sev,
		Since:    record.Time{Time: ts},
	}
	return lineOfRecord(t, is, record.KindIssue)
}

// issueLineSince is a firing issue at ts whose condition began at since.
func issueLineSince(t testing.TB, ts, since time.Time, rule, sev string, subject map[string]string) record.Line {
	t.Helper()
	is := record.Issue{
		Header: record.NewHeader(record.KindIssue, "lmn-detect", "h", ts),
		ID:     rule + "/" + subjectKey(subject), Rule: rule, Subject: subject,
		State: record.StateFiring, Severity: sev, Since: record.Time{Time: since},
	}
	return lineOfRecord(t, is, record.KindIssue)
}

func sampleLine(t testing.TB, ts time.Time, mounts ...record.Mount) record.Line {
	t.Helper()
	s := record.Sample{Header: record.NewHeader(record.KindSample, "lmn-collect", "h", ts)}
	if len(mounts) > 0 {
		s.Disks = &record.Disks{Mounts: mounts}
	}
	return lineOfRecord(t, s, record.KindSample)
}

func unit(name string) map[string]string {
	return map[string]string{"unit": name, "scope": "system"}
}

// harness drives an engine and keeps everything it produced.
type harness struct {
	t    testing.TB
	e    *Engine
	recs []record.Heal
	jobs []Job // handed out, not yet completed
	all  []Job // every job ever handed out
}

func newHarness(t testing.TB, p *Policy, dry bool) *harness {
	t.Helper()
	if p == nil {
		p = DefaultPolicy()
	}
	e := New(Config{Policy: p, DryRun: dry, Host: "h", Target: testTarget,
		Command: func(a string, params map[string]string, _ string) string { return "cmd " + a + fmt.Sprint(params) }})
	return &harness{t: t, e: e}
}

func (h *harness) drain() {
	recs, jobs := h.e.Drain()
	h.recs = append(h.recs, recs...)
	h.jobs = append(h.jobs, jobs...)
	h.all = append(h.all, jobs...)
}

func (h *harness) observe(l record.Line) {
	h.t.Helper()
	if err := h.e.Observe(l); err != nil {
		h.t.Fatal(err)
	}
	h.drain()
}

// complete finishes the oldest outstanding job with r.
func (h *harness) complete(r Result) Job {
	h.t.Helper()
	if len(h.jobs) == 0 {
		h.t.Fatal("no job to complete")
	}
	j := h.jobs[0]
	h.jobs = h.jobs[1:]
	h.e.Complete(j.ID, r)
	h.drain()
	return j
}

var ok = Result{Tier: record.TierUnprivileged, Duration: 10 * time.Millisecond}

// unitIs answers the oldest job, which must be a Check, with state.
func (h *harness) unitIs(state string) {
	h.t.Helper()
	if len(h.jobs) == 0 || !h.jobs[0].Check {
		h.t.Fatalf("no unit state check asked for: jobs %+v, records %s", h.jobs, h.phases())
	}
	h.complete(Result{State: state})
}

// phases renders the records as "step:action:phase[:outcome]" for compact
// comparison.
func (h *harness) phases() string {
	var parts []string
	for _, r := range h.recs {
		s := fmt.Sprintf("%d:%s:%s", r.Step, r.Action, r.Phase)
		if r.Outcome != "" {
			s += ":" + r.Outcome
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func (h *harness) want(want string) {
	h.t.Helper()
	if got := h.phases(); got != want {
		h.t.Fatalf("records:\n got %s\nwant %s", got, want)
	}
}

// testTarget mirrors action.Target for the actions the tests use.
func testTarget(action string, params map[string]string) string {
	if u, ok := params["unit"]; ok {
		return "unit:" + u
	}
	return action
}
