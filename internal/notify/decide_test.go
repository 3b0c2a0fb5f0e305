package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

var t0 = time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)

// line makes a record line of v, as the reader hands it on.
func line(t testing.TB, v any) record.Line {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var k struct{ Kind string }
	json.Unmarshal(b, &k)
	return record.Line{N: 1, Raw: append(b, '\n'), Kind: k.Kind}
}

func issueRec(id, rule, state, summary string) record.Issue {
	return record.Issue{
		Header: record.NewHeader(record.KindIssue, "lmn-detect", "web1", t0),
		ID:     id, Rule: rule, Subject: map[string]string{"unit": id + ".service", "scope": "system"},
		State: state, Severity: record.SeverityWarning, Summary: summary,
	}
}

func healRec(id, phase, outcome string) record.Heal {
	h := record.Heal{
		Header: record.NewHeader(record.KindHeal, "lmn-heal", "web1", t0),
		Issue:  id, Rule: "unit_failed", Subject: map[string]string{"unit": id + ".service", "scope": "system"},
		Action: "restart_unit", Params: map[string]string{"unit": id + ".service"}, Step: 1, Phase: phase, Outcome: outcome,
	}
	switch phase {
	case record.PhaseAdvised:
		h.Tier, h.Action = record.TierAdvise, "advise"
		h.Advice = "run as root: systemctl restart -- " + id + ".service"
		h.Denied = map[string]string{"privd": "no socket", "sudo": "not allowed by --tiers"}
	case record.PhaseFailed:
		h.Tier, h.Error = record.TierUnprivileged, "exit status 1"
	case record.PhaseSucceeded:
		h.Tier = record.TierUnprivileged
	case record.PhaseGaveUp:
		h.Attempt, h.Error, h.Advice = 3, "circuit breaker open", "fix "+id+".service"
	}
	return h
}

func testConfig() *Config {
	c := DefaultConfig()
	return &c
}

func feed(t *testing.T, d *decider, recs ...any) []*Message {
	t.Helper()
	var out []*Message
	for _, r := range recs {
		msgs, err := d.observe(line(t, r))
		if err != nil {
			t.Fatalf("observe %v: %v", r, err)
		}
		out = append(out, msgs...)
	}
	return out
}

func told(msgs []*Message) string {
	var s []string
	for _, m := range msgs {
		s = append(s, m.Event+":"+m.Issue)
	}
	return strings.Join(s, " ")
}

func TestQuietHealingIsNotTold(t *testing.T) {
	d := newDecider(testConfig(), time.Now)
	msgs := feed(t, d,
		issueRec("a", "unit_failed", record.StateFiring, "a.service (system) has failed"),
		healRec("a", record.PhaseStarted, ""), healRec("a", record.PhaseSucceeded, ""),
		healRec("a", record.PhaseVerified, record.OutcomeRecovered),
		issueRec("a", "unit_failed", record.StateResolved, "a.service (system) is no longer failed"))
	if len(msgs) != 0 {
		t.Errorf("healed quietly, yet told: %s", told(msgs))
	}
	if len(d.issues) != 0 {
		t.Errorf("an issue never told is still kept: %v", d.issues)
	}
}

func TestEachDefaultEventIsToldThenRecovered(t *testing.T) {
	for _, tc := range []struct {
		name string
		rec  any
	}{
		{record.PhaseAdvised, healRec("a", record.PhaseAdvised, "")},
		{record.PhaseGaveUp, healRec("a", record.PhaseGaveUp, "")},
		{record.OutcomeWorse, healRec("a", record.PhaseVerified, record.OutcomeWorse)},
		{record.OutcomeNotRecovered, healRec("a", record.PhaseVerified, record.OutcomeNotRecovered)},
		{"rolled_back", healRec("a", record.PhaseVerified, "rolled_back")},
		{EventCollectorAbsent, issueRec("a", "collector_absent", record.StateFiring, "no sample for 1m 30s")},
	} {
		d := newDecider(testConfig(), time.Now)
		msgs := feed(t, d, issueRec("a", "unit_failed", record.StateFiring, "a.service (system) has failed"), tc.rec,
			issueRec("a", "unit_failed", record.StateResolved, "a.service (system) is no longer failed"))
		if got, want := told(msgs), tc.name+":a recovered:a"; got != want {
			t.Errorf("%s: told %q, want %q", tc.name, got, want)
		}
	}
}

func TestMessageSaysWhatWhatWasDoneWhatToDoAndHowToPause(t *testing.T) {
	d := newDecider(testConfig(), time.Now)
	msgs := feed(t, d,
		issueRec("a", "unit_failed", record.StateFiring, "a.service (system) has failed"),
		healRec("a", record.PhaseStarted, ""), healRec("a", record.PhaseFailed, ""),
		healRec("a", record.PhaseAdvised, ""))
	if len(msgs) != 1 {
		t.Fatalf("told %s, want one advised message", told(msgs))
	}
	m := msgs[0]
	if want := "[web1] needs a person: a.service (system) has failed"; m.Title() != want {
		t.Errorf("title %q, want %q", m.Title(), want)
	}
	text := m.Text()
	for _, want := range []string{
		"Host: web1", "Issue a (rule unit_failed, warning)",
		"step 1 restart_unit via unprivileged: failed (exit status 1)", "no tier could act, advised (privd=no socket sudo=not allowed by --tiers)",
		"What to do: run as root: systemctl restart -- a.service",
		"luminous-pause (or create /run/luminous/pause)", "held back for 15m",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}

func TestOneMessagePerIssuePerWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDecider(testConfig(), time.Now)
		fire := issueRec("a", "unit_failed", record.StateFiring, "a.service (system) has failed")
		got := feed(t, d, fire, healRec("a", record.PhaseVerified, record.OutcomeNotRecovered))
		time.Sleep(5 * time.Minute)
		got = append(got, feed(t, d, healRec("a", record.PhaseVerified, record.OutcomeNotRecovered),
			healRec("a", record.PhaseGaveUp, ""))...)
		if told(got) != "not_recovered:a" {
			t.Fatalf("within 15m: told %q, want one not_recovered", told(got))
		}
		time.Sleep(10 * time.Minute)
		got = feed(t, d, healRec("a", record.PhaseAdvised, ""))
		if told(got) != "advised:a" || got[0].HeldBack != 2 {
			t.Fatalf("after 15m: told %q (held back %d), want advised saying 2 were held back", told(got), got[0].HeldBack)
		}
		// The closing message is never held back, and a flapping issue
		// firing again within the window is.
		got = feed(t, d, issueRec("a", "unit_failed", record.StateResolved, "no longer failed"), fire,
			healRec("a", record.PhaseAdvised, ""))
		if told(got) != "recovered:a" {
			t.Fatalf("resolve and fire again within 15m: told %q, want only recovered", told(got))
		}
	})
}

func TestStormBecomesADigest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDecider(testConfig(), time.Now)
		var sent []*Message
		flush := func() {
			if m := d.flush(); m != nil {
				sent = append(sent, m)
			}
		}
		// 1000 issues in one minute, each advised, then each recovered.
		for i := range 1000 {
			id := fmt.Sprintf("i%03d", i)
			sent = append(sent, feed(t, d, issueRec(id, "unit_failed", record.StateFiring, id+" failed"),
				healRec(id, record.PhaseAdvised, ""))...)
			time.Sleep(60 * time.Millisecond)
			flush()
		}
		for range 60 {
			time.Sleep(time.Second)
			flush()
		}
		if len(sent) > 12 {
			t.Fatalf("1000 issues in a minute gave %d messages: %s", len(sent), told(sent))
		}
		total := 0
		for _, m := range sent {
			if m.Event == EventDigest {
				total += m.Count
				if len(m.Items) > maxDigestItems || !strings.Contains(m.Text(), "and ") {
					t.Errorf("digest shows %d items:\n%s", len(m.Items), m.Text())
				}
			} else {
				total++
			}
		}
		if total != 1000 {
			t.Errorf("messages account for %d issues, want all 1000", total)
		}
		t.Logf("%d messages: %s", len(sent), told(sent))
	})
}

func TestEventsListChoosesWhatIsSent(t *testing.T) {
	c := testConfig()
	c.Events = []string{record.PhaseFailed}
	d := newDecider(c, time.Now)
	got := feed(t, d, healRec("a", record.PhaseAdvised, ""), healRec("b", record.PhaseFailed, ""))
	if told(got) != "failed:b" {
		t.Errorf("told %q, want only failed:b", told(got))
	}
}

func TestUnusableRecordsAreReported(t *testing.T) {
	d := newDecider(testConfig(), time.Now)
	for _, raw := range []string{`{"kind":"heal","issue":7}`, `{"kind":"issue","ts":"yesterday"}`} {
		var k struct{ Kind string }
		json.Unmarshal([]byte(raw), &k)
		if _, err := d.observe(record.Line{N: 3, Raw: []byte(raw), Kind: k.Kind}); err == nil || !strings.Contains(err.Error(), "line 3") {
			t.Errorf("observe(%s) = %v, want an error naming line 3", raw, err)
		}
	}
}

func TestEveryEventHasACatalogEntry(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range events {
		if len(e.MessageID) != 32 || strings.Trim(e.MessageID, "0123456789abcdef") != "" {
			t.Errorf("%s: MESSAGE_ID %q is not 32 lowercase hex digits", e.Name, e.MessageID)
		}
		if seen[e.MessageID] {
			t.Errorf("%s: MESSAGE_ID %s used twice", e.Name, e.MessageID)
		}
		seen[e.MessageID] = true
		if e.Ntfy < 1 || e.Ntfy > 5 || e.Syslog < 0 || e.Syslog > 7 {
			t.Errorf("%s: priorities out of range", e.Name)
		}
	}
}

// FuzzObserve feeds the decider any line: it uses it or reports it, never
// panics, and every message it makes renders.
func FuzzObserve(f *testing.F) {
	for _, r := range []any{
		issueRec("a", "unit_failed", record.StateFiring, "a failed"), healRec("a", record.PhaseAdvised, ""),
		healRec("a", record.PhaseVerified, record.OutcomeWorse), issueRec("a", "collector_absent", record.StateFiring, ""),
		issueRec("a", "unit_failed", record.StateResolved, "ok"),
	} {
		b, _ := json.Marshal(r)
		f.Add(b)
	}
	f.Add([]byte(`{"kind":"heal","issue":"","phase":"advised"}`))
	f.Add([]byte(`{"kind":"issue","id":"x","state":"resolved","subject":null}`))
	f.Add([]byte(`{"kind":"heal","issue":"x","phase":"verified","outcome":"rolled_back","subject":{"unit\n":"a"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var k struct {
			Kind string `json:"kind"`
		}
		if json.Unmarshal(data, &k) != nil {
			return
		}
		d := newDecider(testConfig(), time.Now)
		for range 2 { // twice: the second sees the state the first left
			msgs, err := d.observe(record.Line{N: 1, Raw: data, Kind: k.Kind})
			if err != nil {
				return
			}
			for _, m := range msgs {
				if strings.ContainsAny(m.Title(), "\r\n") || m.Text() == "" || len(journalEntry(m)) == 0 {
					t.Fatalf("message %+v renders badly", m)
				}
			}
		}
	})
}

func TestMutedIssuesAndRulesAreNotTold(t *testing.T) {
	c := testConfig()
	c.Mute = []string{"a", "collector_absent"}
	d := newDecider(c, time.Now)
	got := feed(t, d, healRec("a", record.PhaseAdvised, ""), healRec("b", record.PhaseGaveUp, ""),
		issueRec("c", "collector_absent", record.StateFiring, "no sample"))
	if told(got) != "gave_up:b" {
		t.Errorf("told %q, want only gave_up:b", told(got))
	}
	if !strings.Contains(got[0].Text(), `Silence it: add "b" (or its rule) to mute`) {
		t.Errorf("text does not say how to silence:\n%s", got[0].Text())
	}
}
