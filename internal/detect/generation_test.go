package detect

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

func storePath(n int) string {
	return "/nix/store/" + strings.Repeat(string(rune('a'+n)), 32) + "-nixos-system"
}

// running is a sample at t0+d of a machine running generation n (0: a
// system outside the profile), with the failed system units and failing
// probes named.
func running(d time.Duration, n int, failed []string, probes ...string) *record.Sample {
	s := at(d)
	s.Nix = &record.Nix{SystemGeneration: n, CurrentSystem: storePath(n), CurrentGeneration: n}
	s.Units = &record.Units{Scope: "system", Failed: []record.Unit{}}
	for _, u := range failed {
		s.Units.Failed = append(s.Units.Failed, record.Unit{Unit: u})
	}
	for _, p := range []string{"web", "db"} {
		s.Probes = append(s.Probes, record.ProbeResult{Name: p, Kind: "tcp", OK: !contains(probes, p), Streak: 1})
	}
	return s
}

// generationTrace is the generation_unhealthy issues of a run, one line
// each: "SECONDS STATE SUBJECT: SUMMARY".
func generationTrace(t *testing.T, e *Engine, samples ...*record.Sample) []string {
	t.Helper()
	var out []string
	for _, s := range samples {
		for _, is := range e.Sample(s) {
			if is.Rule != record.RuleGenerationUnhealthy {
				continue
			}
			out = append(out, is.TS.Sub(t0).String()+" "+is.State+" "+is.Subject["generation"]+"→"+is.Subject["rollback_to"]+": "+is.Summary)
		}
	}
	return out
}

func TestGenerationRule(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name    string
		samples []*record.Sample
		want    []string
	}{
		{"a switch that breaks a unit fires at the end of the settle window, and resolves when the rollback mends it", []*record.Sample{
			running(0, 1, nil), running(10*s, 2, []string{"web.service"}), running(60*s, 2, []string{"web.service"}),
			running(70*s, 2, []string{"web.service"}), running(75*s, 1, nil), running(140*s, 1, nil),
		}, []string{
			"1m10s firing 2→1: generation 2: web.service (system) failed after the switch",
			"1m15s resolved 2→1: generation 2: back to what failed before the switch (now running " + storePath(1) + ")",
			"2m20s resolved 1→: generation 1: healthy 1m after the switch: nothing fails that did not before",
		}},
		{"a healthy switch is judged healthy once, and nothing fires after", []*record.Sample{
			running(0, 1, nil), running(5*s, 2, nil), running(30*s, 2, nil), running(65*s, 2, nil), running(200*s, 2, []string{"late.service"}),
		}, []string{
			"1m5s resolved 2→1: generation 2: healthy 1m after the switch: nothing fails that did not before",
		}},
		{"a breakage already there before the switch is no new failure", []*record.Sample{
			running(0, 1, []string{"broken.service"}, "db"), running(5*s, 2, []string{"broken.service"}, "db"), running(70*s, 2, []string{"broken.service"}, "db"),
		}, []string{
			"1m10s resolved 2→1: generation 2: healthy 1m after the switch: nothing fails that did not before",
		}},
		{"new failures only: a probe failing after the switch counts, one mended does not hide it", []*record.Sample{
			running(0, 1, []string{"old.service"}), running(5*s, 2, nil, "web"), running(70*s, 2, nil, "web"),
		}, []string{
			"1m10s firing 2→1: generation 2: probe web fails after the switch",
		}},
		{"a unit that failed during the settle window and was mended is no verdict", []*record.Sample{
			running(0, 1, nil), running(5*s, 2, []string{"web.service"}), running(30*s, 2, nil), running(66*s, 2, nil),
		}, []string{
			"1m6s resolved 2→1: generation 2: healthy 1m after the switch: nothing fails that did not before",
		}},
		{"a change within the settle window drops the unfinished judgement", []*record.Sample{
			running(0, 1, nil), running(5*s, 2, []string{"web.service"}), running(20*s, 3, nil), running(80*s, 3, nil),
		}, []string{
			"1m20s resolved 3→2: generation 3: healthy 1m after the switch: nothing fails that did not before",
		}},
		{"an older generation unhealthy too fires against the first baseline, and is no rollback target; the first stands", []*record.Sample{
			running(0, 1, nil), running(5*s, 2, []string{"web.service"}), running(70*s, 2, []string{"web.service"}),
			running(75*s, 1, []string{"db.service"}), running(140*s, 1, []string{"db.service"}),
		}, []string{
			"1m10s firing 2→1: generation 2: web.service (system) failed after the switch",
			"2m20s firing 1→: generation 1: db.service (system) failed after the switch",
		}},
		{"a sample without nix, or before the first, judges nothing", []*record.Sample{
			at(0), running(5*s, 2, []string{"web.service"}), running(80*s, 2, []string{"web.service"}),
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := generationTrace(t, NewEngine(Defaults()), tt.samples...)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

// The generation to roll back to is lmn-privd's last known-good one, else
// the one that ran before; never a rejected one.
func TestGenerationRollbackTo(t *testing.T) {
	sw := func(known int, rejected ...int) string {
		e := NewEngine(Defaults())
		e.Sample(running(0, 3, nil))
		s := running(5*time.Second, 4, nil)
		if known > 0 {
			s.Nix.KnownGood = &record.NixSystem{Generation: known, StorePath: storePath(known)}
		}
		for _, r := range rejected {
			s.Nix.Rejected = append(s.Nix.Rejected, record.NixSystem{Generation: r, StorePath: storePath(r)})
		}
		e.Sample(s)
		st := e.states[ruleIndex(t, e, record.RuleGenerationUnhealthy)][storePath(4)]
		if st == nil {
			t.Fatal("no judgement of generation 4")
		}
		return st.Subject["rollback_to"]
	}
	for _, c := range []struct {
		known    int
		rejected []int
		want     string
	}{{0, nil, "3"}, {2, nil, "2"}, {2, []int{2}, "3"}, {0, []int{3}, ""}, {4, nil, "3"}} {
		if got := sw(c.known, c.rejected...); got != c.want {
			t.Errorf("known good %d, rejected %v: rollback_to %q, want %q", c.known, c.rejected, got, c.want)
		}
	}
}

func ruleIndex(t *testing.T, e *Engine, name string) int {
	t.Helper()
	for i, r := range e.rules {
		if r.Name == name {
			return i
		}
	}
	t.Fatalf("no rule %s", name)
	return 0
}

// A judgement in its settle window survives a restart through --state.
func TestGenerationState(t *testing.T) {
	e := NewEngine(Defaults())
	e.Sample(running(0, 1, nil))
	e.Sample(running(5*time.Second, 2, []string{"web.service"}))
	b, err := EncodeState(e.State(Defaults().Digest()))
	if err != nil {
		t.Fatal(err)
	}
	st, err := DecodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	e2 := NewEngine(Defaults())
	if dropped := e2.Restore(st); len(dropped) != 0 {
		t.Fatalf("dropped %v", dropped)
	}
	got := generationTrace(t, e2, running(70*time.Second, 2, []string{"web.service"}))
	if len(got) != 1 || !strings.Contains(got[0], "firing 2→1: generation 2: web.service (system) failed") {
		t.Errorf("after a restart: %v", got)
	}
}

func TestGenerationRuleConfig(t *testing.T) {
	for in, want := range map[string]string{
		`{"extend":true,"rules":[{"name":"generation_unhealthy","settle":"-1s"}]}`: "rules[0].settle: negative",
		`{"extend":true,"rules":[{"name":"generation_unhealthy","for":"1m"}]}`:     "rules[0].for: a generation rule waits its settle window",
		`{"extend":true,"rules":[{"name":"generation_unhealthy","metric":"x"}]}`:   "rules[0].metric: not used by a generation rule",
	} {
		_, err := ParseRules("r.json", []byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
	r, err := ParseRules("r.json", []byte(`{"extend":true,"rules":[{"name":"generation_unhealthy","settle":"2s","match":["web*"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(r)
	got := generationTrace(t, e, running(0, 1, nil), running(time.Second, 2, []string{"other.service"}, "db"),
		running(3*time.Second, 2, []string{"other.service", "web.service"}, "db"))
	if len(got) != 1 || !strings.Contains(got[0], "firing 2→1: generation 2: web.service (system) failed after") {
		t.Errorf("settle 2s, only web* critical: %v", got)
	}
}

// In a live pipe the verdict comes at the end of the settle window from
// the last sample, without waiting for the next one: NextWake says when,
// Silence judges.
func TestGenerationJudgedBetweenSamples(t *testing.T) {
	e := NewEngine(Defaults())
	e.Sample(running(0, 1, nil))
	e.Sample(running(5*time.Second, 2, []string{"web.service"}))
	if got := e.NextWake(0); got != time.Minute {
		t.Errorf("NextWake(0) = %v, want 1m (the settle window from the change)", got)
	}
	if is := e.Silence(59 * time.Second); len(is) != 0 {
		t.Errorf("judged before the window ended: %+v", is)
	}
	is := e.Silence(time.Minute)
	if len(is) != 1 || is[0].State != record.StateFiring || !is[0].TS.Equal(t0.Add(65*time.Second)) ||
		!strings.Contains(is[0].Summary, "web.service (system) failed") {
		t.Fatalf("at the end of the window: %+v", is)
	}
	if got := e.NextWake(time.Minute); got != 0 {
		t.Errorf("NextWake after the verdict = %v, want 0 (no absence interval known yet)", got)
	}
	if is := e.Sample(running(90*time.Second, 2, []string{"web.service"})); len(is) != 0 {
		t.Errorf("judged twice: %+v", is)
	}
}

// After a restart from --state, a verdict of unhealthy that stands is
// written again (the gate at a second boot into the broken generation
// must see it), once, and a boot into another generation is a change.
func TestGenerationStandsAfterRestart(t *testing.T) {
	restart := func(e *Engine) *Engine {
		t.Helper()
		b, err := EncodeState(e.State(Defaults().Digest()))
		if err != nil {
			t.Fatal(err)
		}
		st, err := DecodeState(b)
		if err != nil {
			t.Fatal(err)
		}
		e2 := NewEngine(Defaults())
		e2.Restore(st)
		return e2
	}
	e := NewEngine(Defaults())
	generationTrace(t, e, running(0, 1, nil), running(5*time.Second, 2, []string{"web.service"}), running(70*time.Second, 2, []string{"web.service"}))
	e = restart(e)
	got := generationTrace(t, e, running(200*time.Second, 2, []string{"web.service"}), running(205*time.Second, 2, []string{"web.service"}))
	if len(got) != 1 || !strings.HasPrefix(got[0], "3m20s firing 2→1: generation 2: web.service") {
		t.Errorf("the second boot of generation 2: %v", got)
	}
	e = restart(e)
	got = generationTrace(t, e, running(400*time.Second, 1, nil), running(470*time.Second, 1, nil))
	if strings.Join(got, "\n") != "6m40s firing 2→1: generation 2: web.service (system) failed after the switch\n"+
		"6m40s resolved 2→1: generation 2: back to what failed before the switch (now running "+storePath(1)+")\n"+
		"7m50s resolved 1→: generation 1: healthy 1m after the switch: nothing fails that did not before" {
		t.Errorf("the boot back into generation 1:\n%s", strings.Join(got, "\n"))
	}
}

// Whatever a sample's nix, units and probes groups say, the generation
// rule neither crashes nor writes an issue without the system it is about,
// and a saved state of its judgements restores.
func FuzzGenerationRule(f *testing.F) {
	f.Add([]byte(`{"ts":"2026-11-26T12:00:10Z","nix":{"current_system":"/nix/store/b","current_generation":2,"known_good":{"generation":1,"store_path":"/nix/store/a"}},"units":{"scope":"system","failed":[{"unit":"web.service"}]}}`))
	f.Add([]byte(`{"ts":"2026-11-26T12:00:10Z","nix":{"current_system":"/nix/store/b","rejected":[{"store_path":"/nix/store/b"}]},"probes":[{"name":"web","ok":false}]}`))
	f.Add([]byte(`{"ts":"2026-11-26T11:00:00Z","nix":{"current_system":"","current_generation":-3}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s record.Sample
		if record.DecodeSample(b, &s) != nil || s.TS.IsZero() {
			return
		}
		e := NewEngine(Defaults())
		var out []record.Issue
		out = append(out, e.Sample(running(0, 1, nil))...)
		out = append(out, e.Sample(&s)...)
		later := s
		later.TS = record.Time{Time: s.TS.Add(2 * time.Minute)}
		out = append(out, e.Sample(&later)...)
		out = append(out, e.Silence(time.Hour)...)
		for _, is := range out {
			if is.Rule == record.RuleGenerationUnhealthy && is.Subject["system"] == "" {
				t.Fatalf("an issue about no system: %+v", is)
			}
		}
		st, err := EncodeState(e.State("d"))
		if err != nil {
			t.Fatal(err)
		}
		dec, err := DecodeState(st)
		if err != nil {
			t.Fatalf("the state does not decode: %v\n%s", err, st)
		}
		if dropped := NewEngine(Defaults()).Restore(dec); slices.Contains(dropped, record.RuleGenerationUnhealthy) {
			t.Fatalf("a judgement dropped from\n%s", st)
		}
	})
}
