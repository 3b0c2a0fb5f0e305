package detect

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/detect/detecttest"
	"github.com/lmn-heal/lmn/internal/record"
)

func scenario() []record.Sample { return detecttest.Trouble() }

func runIssues(e *Engine, samples []record.Sample) []string {
	var out []string
	for i := range samples {
		for _, is := range e.Sample(&samples[i]) {
			b, _ := json.Marshal(is)
			out = append(out, string(b))
		}
	}
	return out
}

func TestScenarioFindsItsIssues(t *testing.T) {
	got := runIssues(NewEngine(Defaults()), scenario())
	joined := strings.Join(got, "\n")
	for _, want := range []string{
		`"rule":"disk_usage","subject":{"mount":"/"},"state":"firing","severity":"warning"`,
		`"rule":"disk_usage","subject":{"mount":"/"},"state":"firing","severity":"critical"`,
		`"rule":"disk_fill_trend","subject":{"mount":"/"},"state":"firing"`,
		`"rule":"unit_failed","subject":{"scope":"system","unit":"backup.service"},"state":"resolved"`,
		`"rule":"mem_pressure","subject":{},"state":"firing","severity":"critical"`,
		`"rule":"disk_usage","subject":{"mount":"/home"},"state":"firing","severity":"critical","value":0.3,"threshold":0.85,"since":"2026-11-26T00:56:00.000000000Z","summary":"/home is 30% full, threshold 85% (flapping: held firing until quiet for 1h)","flapping":true}`,
		`"ts":"2026-11-26T02:39:00.000000000Z","host":"testhost","src":"lmn-detect","id":"642a87e8821a055a","rule":"disk_usage","subject":{"mount":"/home"},"state":"resolved"`,
		`"rule":"collector_absent","subject":{},"state":"firing"`,
		`"rule":"nix_store_usage","subject":{"mount":"/"},"state":"firing"`,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("no issue with %s", want)
		}
	}
	if t.Failed() {
		t.Logf("issues:\n%s", joined)
	}
}

// A stream split in two runs with the state saved and loaded in between
// gives the same issues as one run, wherever it is split.
func TestStateSurvivesRestart(t *testing.T) {
	samples := scenario()
	want := runIssues(NewEngine(Defaults()), samples)
	for _, k := range []int{1, 2, 45, 103, 160, 300, 301, len(samples) - 1} {
		got := splitRun(t, samples, k)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("split at %d: issues differ from one run\n got: %d issues\nwant: %d issues", k, len(got), len(want))
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Errorf("first difference at %d:\n got %s\nwant %s", i, got[i], want[i])
					break
				}
			}
		}
	}
}

// splitRun runs samples through two engines, the state of the first,
// after samples[:k], saved, decoded and restored into the second.
func splitRun(t *testing.T, samples []record.Sample, k int) []string {
	t.Helper()
	e := NewEngine(Defaults())
	got := runIssues(e, samples[:k])
	b, err := EncodeState(e.State(Defaults().Digest()))
	if err != nil {
		t.Fatal(err)
	}
	st, err := DecodeState(b)
	if err != nil {
		t.Fatalf("split at %d: %v", k, err)
	}
	e2 := NewEngine(Defaults())
	if dropped := e2.Restore(st); len(dropped) != 0 {
		t.Fatalf("split at %d: dropped %v", k, dropped)
	}
	return append(got, runIssues(e2, samples[k:])...)
}

// serviceScenario is a minute of samples every 5 s in which a probe fails
// and passes again, a unit's OOM kills grow, and a user unit sits near its
// limit: the probe, increase and scoped threshold rules all have state.
func serviceScenario() []record.Sample {
	var out []record.Sample
	for i := range 13 {
		s := *at(time.Duration(i) * 5 * time.Second)
		s.Seq = uint64(i + 1)
		ok := i < 2 || i > 8
		streak := map[bool]int{true: i + 1, false: i - 1}[ok]
		if i > 8 {
			streak = i - 8
		}
		r := redisResult(ok, streak)
		s.Probes = []record.ProbeResult{r}
		ratio := 0.95
		s.Mem = &record.Mem{Units: []record.UnitResources{
			{Unit: "redis.service", Scope: "system", OOMKills: u64(uint64(i / 4))},
			{Unit: "redis.service", Scope: "user", MaxUsedRatio: &ratio},
		}}
		out = append(out, s)
	}
	return out
}

// The new kinds' state survives a restart too, wherever the stream is split.
func TestServiceStateSurvivesRestart(t *testing.T) {
	samples := serviceScenario()
	want := runIssues(NewEngine(Defaults()), samples)
	joined := strings.Join(want, "\n")
	for _, rule := range []string{"probe_failed", "unit_oom_killed", "unit_memory_near_limit"} {
		if !strings.Contains(joined, `"rule":"`+rule+`"`) {
			t.Fatalf("the scenario makes no %s issue:\n%s", rule, joined)
		}
	}
	for k := 1; k < len(samples); k++ {
		if got := strings.Join(splitRun(t, samples, k), "\n"); got != joined {
			t.Errorf("split at %d:\n got %s\nwant %s", k, got, joined)
		}
	}
}

func TestRestoreDropsUnknownRules(t *testing.T) {
	e := NewEngine(Defaults())
	runIssues(e, scenario()[:60])
	st := e.State("x")
	mine := NewEngine(rulesOf(t, `{"name":"disk_usage","kind":"trend","metric":"disks.mounts[].used_ratio","limit":1,"window":"1h","horizon":"1h"}`))
	dropped := mine.Restore(st)
	if len(dropped) == 0 {
		t.Fatal("nothing dropped")
	}
	for _, d := range dropped {
		if d == "" {
			t.Error("dropped an unnamed rule")
		}
	}
}

func TestDecodeStateErrors(t *testing.T) {
	for _, in := range []string{
		``, `{`, `[]`, `null`,
		`{"format":"lmn-detect-state","version":2,"subjects":[]}`,
		`{"format":"other","version":1,"subjects":[]}`,
		`{"format":"lmn-detect-state","version":1,"subjects":[null]}`,
		`{"format":"lmn-detect-state","version":1,"subjects":[{"rule":"x","id":"","subject":{}}]}`,
		`{"format":"lmn-detect-state","version":1,"extra":1,"subjects":[]}`,
	} {
		if _, err := DecodeState([]byte(in)); err == nil {
			t.Errorf("DecodeState(%q): no error", in)
		}
	}
}

func FuzzDecodeState(f *testing.F) {
	e := NewEngine(Defaults())
	runIssues(e, scenario()[:200])
	seed, _ := EncodeState(e.State("d"))
	f.Add(seed)
	f.Add([]byte(`{"format":"lmn-detect-state","version":1,"subjects":[{"rule":"disk_usage","name":"/","id":"x","subject":{"mount":"/"},"firing":true,"flapping":true}]}`))
	f.Add([]byte(`{"format":"lmn-detect-state","version":1,"last":"2026-11-26T00:00:00Z","last_interval_seconds":-5,"subjects":[]}`))
	samples := scenario()[200:210]
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := DecodeState(b)
		if err != nil {
			return
		}
		// Whatever a state file holds, the engine must go on without
		// crashing.
		e := NewEngine(Defaults())
		e.Restore(st)
		runIssues(e, samples)
		e.Silence(time.Hour)
	})
}
