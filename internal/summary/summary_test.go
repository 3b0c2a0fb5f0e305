package summary

import (
	"bytes"
	"encoding/json"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

var update = flag.Bool("update", false, "rewrite the golden reports")

// The streams: what lmn-detect and lmn-heal wrote in the e2e scenario
// TestKeepsCrashing (a user unit that crashes after each restart, healed
// through systemctl --user in a sandboxed manager, recorded with
// LMN_E2E_RECORD; its issue and heal records), and lmn-heal's replay
// golden (a dry run over a recorded stream: planned steps, advice,
// verification outcomes).
var streams = map[string]string{
	"keeps-crashing": "testdata/keeps-crashing.ndjson",
	"heal-replay":    "../../cmd/lmn-heal/testdata/replay.golden",
}

func read(t *testing.T, name string, span Span) *Report {
	t.Helper()
	f, err := os.Open(streams[name])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := Read(f, span)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestReportCounts holds each report to what the stream holds, counted
// here another way (by kind, state, phase and outcome over every line).
func TestReportCounts(t *testing.T) {
	for name, file := range streams {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		phases, outcomes := map[string]int{}, map[string]int{}
		last := map[string]string{}
		fired, resolved := 0, 0
		for _, l := range bytes.Split(data, []byte("\n")) {
			var r struct {
				Kind, ID, State, Phase, Outcome string
			}
			if json.Unmarshal(l, &r) != nil {
				continue
			}
			switch r.Kind {
			case record.KindIssue:
				if r.State != last[r.ID] {
					if r.State == record.StateFiring {
						fired++
					} else {
						resolved++
					}
				}
				last[r.ID] = r.State
			case record.KindHeal:
				phases[r.Phase]++
				if r.Phase == record.PhaseVerified {
					outcomes[r.Outcome]++
				}
			}
		}
		firing := 0
		for _, s := range last {
			if s == record.StateFiring {
				firing++
			}
		}
		rep := read(t, name, Span{})
		if rep.Fired != fired || rep.Resolved != resolved || rep.FiringAtEnd != firing ||
			!reflect.DeepEqual(rep.Phases, phases) || !reflect.DeepEqual(rep.Outcomes, outcomes) {
			t.Errorf("%s: fired %d resolved %d firing %d phases %v outcomes %v; want %d %d %d %v %v", name,
				rep.Fired, rep.Resolved, rep.FiringAtEnd, rep.Phases, rep.Outcomes, fired, resolved, firing, phases, outcomes)
		}
		if len(rep.Subjects) == 0 || rep.To.IsZero() || rep.From.After(rep.To) {
			t.Errorf("%s: report %+v", name, rep)
		}
	}
	// The e2e scenario: three crashes, four restarts that each recovered,
	// then lmn-heal gave up on the unit, which is failed at the end.
	rep := read(t, "keeps-crashing", Span{})
	if r := rep.Subjects[0]; len(rep.Subjects) != 1 || r.Subject != "unit lmn-e2e-loop.service (user)" || r.Fired != 3 ||
		r.Phases[record.PhaseStarted] != 4 || r.Outcomes[record.OutcomeRecovered] != 4 || r.Phases[record.PhaseGaveUp] != 2 || !r.FiringAtEnd {
		t.Errorf("keeps-crashing: %+v", rep.Subjects)
	}
}

// TestReportSpan: --since counts back from the stream's latest record,
// and an issue fired before the span and firing still is firing at its
// end without being counted as fired in it.
func TestReportSpan(t *testing.T) {
	whole := read(t, "heal-replay", Span{})
	last := read(t, "heal-replay", Span{Since: 10 * time.Minute})
	if !last.To.Equal(whole.To) || !last.From.Equal(whole.To.Add(-10*time.Minute)) {
		t.Errorf("span %v to %v, want the last 10m before %v", last.From, last.To, whole.To)
	}
	if last.Fired >= whole.Fired || last.FiringAtEnd != whole.FiringAtEnd {
		t.Errorf("last 10m: fired %d (whole %d), firing %d (whole %d)", last.Fired, whole.Fired, last.FiringAtEnd, whole.FiringAtEnd)
	}
	from := read(t, "heal-replay", Span{From: whole.To.Add(-10 * time.Minute)})
	if !reflect.DeepEqual(from, last) {
		t.Errorf("--since TIME and --since D differ:\n%+v\n%+v", from, last)
	}
	today := read(t, "heal-replay", Span{Today: true, Loc: time.UTC})
	if want := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC); !today.From.Equal(want) || today.Fired != whole.Fired {
		t.Errorf("today from %v fired %d, want %v and %d", today.From, today.Fired, want, whole.Fired)
	}
	// A start record's wall clock (today's date in a replay) is not the
	// stream's time.
	if whole.To.After(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("the span ends %v: a start record's time was taken", whole.To)
	}
}

// TestReportText compares the reports with golden files; -update rewrites
// them.
func TestReportText(t *testing.T) {
	for name := range streams {
		for _, span := range []struct {
			suffix string
			span   Span
		}{{"", Span{}}, {".10m", Span{Since: 10 * time.Minute}}} {
			var b bytes.Buffer
			if err := read(t, name, span.span).WriteText(&b); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+span.suffix+".txt")
			if *update {
				os.WriteFile(golden, b.Bytes(), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s differs (go test -update rewrites it):\n%s", golden, b.String())
			}
		}
	}
	var b bytes.Buffer
	rep, _ := Read(strings.NewReader(""), Span{})
	rep.WriteText(&b)
	if !strings.Contains(b.String(), "no record with a time") {
		t.Errorf("empty stream: %q", b.String())
	}
}

func TestReportJSON(t *testing.T) {
	var b bytes.Buffer
	rep := read(t, "keeps-crashing", Span{})
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.Fired != rep.Fired || len(back.Subjects) != len(rep.Subjects) {
		t.Errorf("JSON does not read back: %v\n%s", err, b.String())
	}
}

func TestSubject(t *testing.T) {
	for _, tc := range []struct {
		in   map[string]string
		want string
	}{
		{nil, "machine"},
		{map[string]string{"unit": "a.service", "scope": "user"}, "unit a.service (user)"},
		{map[string]string{"unit": "a.service", "scope": "system"}, "unit a.service"},
		{map[string]string{"probe": "redis", "unit": "redis.service", "scope": "system"}, "unit redis.service, probe redis"},
		{map[string]string{"mount": "/home"}, "mount /home"},
		{map[string]string{"job": "web", "team": "x"}, "job web, team x"},
	} {
		if got := Subject(tc.in); got != tc.want {
			t.Errorf("Subject(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLogLines(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	LogIssue(log, &record.Issue{ID: "i1", Rule: "disk_usage", Subject: map[string]string{"mount": "/home"}, State: record.StateFiring,
		Severity: record.SeverityCritical, Summary: "/home is 97% full, threshold 95%"})
	LogHeal(log, &record.Heal{Issue: "i1", Rule: "disk_usage", Subject: map[string]string{"mount": "/home"}, Action: "journal_vacuum",
		Step: 2, Phase: record.PhaseFailed, Tier: record.TierPrivd, Error: "refused"})
	LogHeal(log, &record.Heal{Issue: "i1", Rule: "disk_usage", Action: "restart_unit", Params: map[string]string{"unit": "a.service"},
		Step: 1, Phase: record.PhaseVerified, Outcome: record.OutcomeRecovered})
	want := `level=WARN msg="issue firing" rule=disk_usage subject="mount /home" severity=critical summary="/home is 97% full, threshold 95%" issue=i1
level=WARN msg="heal failed" rule=disk_usage subject="mount /home" action=journal_vacuum step=2 tier=privd error=refused issue=i1
level=INFO msg="heal verified" rule=disk_usage subject=machine action=restart_unit target=a.service step=1 outcome=recovered issue=i1
`
	if b.String() != want {
		t.Errorf("got\n%swant\n%s", b.String(), want)
	}
}

// FuzzRead: any input gives a report, never a panic, with counts that
// agree with each other.
func FuzzRead(f *testing.F) {
	for _, file := range streams {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:min(len(data), 4000)])
	}
	f.Add([]byte(`{"kind":"heal","ts":"2026-11-26T18:00:00Z","issue":"x","phase":"verified"}` + "\n" + `{"kind":"issue","ts":"bad"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := Read(bytes.NewReader(b), Span{Since: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		fired := 0
		for _, r := range rep.Subjects {
			fired += r.Fired
		}
		if fired != rep.Fired || rep.From.After(rep.To) {
			t.Fatalf("rows fired %d, report %d; span %v to %v", fired, rep.Fired, rep.From, rep.To)
		}
		rep.WriteText(&bytes.Buffer{})
	})
}
