package dash

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

var gateT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ts(d time.Duration) string { return gateT0.Add(d).Format(time.RFC3339Nano) }

// gateRecords are the records the gate reads, written as the binaries
// write them.
func sampleAt(d time.Duration) string {
	return `{"kind":"sample","v":1,"ts":"` + ts(d) + `","host":"h","src":"lmn-collect"}`
}

const detectStart = `{"kind":"start","v":1,"ts":"2026-03-01T12:00:00Z","host":"h","src":"lmn-detect","version":"dev"}`

const detectStartSettle = `{"kind":"start","v":1,"ts":"2026-03-01T12:00:00Z","host":"h","src":"lmn-detect","version":"dev","settings":{"generation_settle_seconds":60}}`

func genIssue(state string, d time.Duration) string {
	return `{"kind":"issue","v":1,"ts":"` + ts(d) + `","host":"h","src":"lmn-detect","id":"gen7","rule":"generation_unhealthy",` +
		`"subject":{"generation":"7"},"state":"` + state + `","severity":"critical","value":1,"threshold":0,"since":"` + ts(d) +
		`","summary":"generation 7: web.service failed after the switch"}`
}

// The gate is green only with a live stream, lmn-detect upstream and no
// generation_unhealthy firing; each red check names what it saw.
func TestGate(t *testing.T) {
	m := New()
	apply := func(s string) {
		t.Helper()
		if err := m.Apply(lineOf(t, s)); err != nil {
			t.Fatal(err)
		}
	}
	check := func(now time.Duration, green bool, failing string) {
		t.Helper()
		g := m.Gate(gateT0.Add(now))
		if g.Green != green || strings.Join(g.Failing(), "; ") != failing {
			t.Errorf("at %v: green %v failing %q, want %v %q", now, g.Green, g.Failing(), green, failing)
		}
	}
	check(0, false, "stream: no sample yet; detect: no lmn-detect upstream: nothing judges the generation")
	apply(sampleAt(0))
	apply(sampleAt(5 * time.Second))
	check(6*time.Second, false, "detect: no lmn-detect upstream: nothing judges the generation")
	apply(detectStart)
	check(6*time.Second, true, "")
	apply(genIssue("firing", 6*time.Second))
	check(7*time.Second, false, "generation_unhealthy: generation 7: web.service failed after the switch")
	apply(genIssue("resolved", 8*time.Second))
	check(9*time.Second, true, "")
	// Three intervals of 5 s, but at least 15 s, without a sample.
	check(20*time.Second, true, "")
	check(21*time.Second, false, "stream: latest sample 16s ago (stale after 15s): is lmn-collect running?")
	if len(m.Gate(gateT0).Checks) != 3 {
		t.Errorf("checks %+v", m.Gate(gateT0).Checks)
	}
}

func lineOf(t *testing.T, s string) record.Line {
	t.Helper()
	line, err := record.NewReader(strings.NewReader(s+"\n"), nil).Next()
	if err != nil {
		t.Fatal(err)
	}
	return line
}

func nixSampleAt(d time.Duration, gen int) string {
	return `{"kind":"sample","v":1,"ts":"` + ts(d) + `","host":"h","src":"lmn-collect","seq":1,"interval_seconds":1,` +
		`"nix":{"system_generation":` + itoa(gen) + `,"generations":2,"current_system":"/nix/store/` + itoa(gen) + `-system","current_generation":` + itoa(gen) + `}}`
}

func itoa(n int) string { return strconv.Itoa(n) }

func verdict(state string, d time.Duration, gen int) string {
	return `{"kind":"issue","v":1,"ts":"` + ts(d) + `","host":"h","src":"lmn-detect","id":"g` + itoa(gen) + `","rule":"generation_unhealthy",` +
		`"subject":{"generation":"` + itoa(gen) + `","system":"/nix/store/` + itoa(gen) + `-system"},"state":"` + state +
		`","severity":"critical","value":0,"threshold":0,"since":"` + ts(d) + `","summary":"generation ` + itoa(gen) + `: x"}`
}

// After a switch the gate waits for lmn-detect's verdict on the new
// generation: green when it comes healthy, red naming what broke when it
// fires. The system of the first sample is waited for until the settle
// window and a margin passed (a boot into a new generation); without the
// rule nothing is waited for.
func TestGateWaitsForTheVerdict(t *testing.T) {
	m := New()
	apply := func(s string) {
		t.Helper()
		if err := m.Apply(lineOf(t, s)); err != nil {
			t.Fatal(err)
		}
	}
	failing := func(d time.Duration) string { return strings.Join(m.Gate(gateT0.Add(d)).Failing(), "; ") }
	apply(detectStartSettle)
	apply(nixSampleAt(0, 1))
	if f := failing(time.Second); f != "judged: generation 1 runs since 1s ago: lmn-detect judges it 1m0s after it started" {
		t.Errorf("the first system: %q", f)
	}
	apply(nixSampleAt(89*time.Second, 1))
	if f := failing(89 * time.Second); !strings.HasPrefix(f, "judged: generation 1") {
		t.Errorf("the first system, before settle and margin: %q", f)
	}
	apply(nixSampleAt(90*time.Second, 1))
	if f := failing(90 * time.Second); f != "" {
		t.Errorf("the first system, no verdict after settle and margin: %q", f)
	}
	apply(nixSampleAt(100*time.Second, 2))
	if f := failing(103 * time.Second); f != "judged: generation 2 runs since 3s ago: lmn-detect judges it 1m0s after it started" {
		t.Errorf("in the settle window: %q", f)
	}
	apply(nixSampleAt(400*time.Second, 2))
	apply(verdict("resolved", 400*time.Second, 1)) // about another system
	if failing(400*time.Second) == "" {
		t.Error("green on another system's verdict, or on time alone")
	}
	apply(verdict("resolved", 401*time.Second, 2))
	if f := failing(401 * time.Second); f != "" {
		t.Errorf("after the healthy verdict: %q", f)
	}
	apply(nixSampleAt(402*time.Second, 1))
	apply(verdict("firing", 403*time.Second, 1))
	if f := failing(403 * time.Second); !strings.Contains(f, "generation_unhealthy: generation 1: x") || strings.Contains(f, "judged") {
		t.Errorf("after an unhealthy verdict: %q", f)
	}

	m = New()
	apply(detectStart) // no settle: the rule is off
	apply(nixSampleAt(0, 1))
	apply(nixSampleAt(time.Second, 2))
	if f := failing(time.Second); f != "" {
		t.Errorf("without the rule: %q", f)
	}
}
