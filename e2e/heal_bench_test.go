package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
)

var healInterval = flag.Duration("heal-interval", time.Second, "lmn-collect --interval in BenchmarkTimeToHeal")

// BenchmarkTimeToHeal measures, b.N times, how long the whole pipe takes
// from a user unit failing (the unit's own timestamp just before it exits)
// to lmn-heal issuing the restart (its `started` record leaving the pipe),
// to the restart done (`succeeded`), to the unit really running again (the
// new instance's own timestamp), and to lmn-heal's `recovered` verdict. Each
// failure lands at a random point of the collection interval, so the
// figures cover the whole range a real failure sees. Run it with
// bench/heal-latency.sh, or:
//
//	go test ./e2e/ -run '^$' -bench TimeToHeal -benchtime 10x -heal-interval 1s
func BenchmarkTimeToHeal(b *testing.B) {
	skipShort(b)
	m := sdtest.Start(b)
	const name = "lmn-e2e-bench.service"
	u := installUnit(b, m, name, crashScript)
	dir := b.TempDir()
	policy := writeFile(b, dir, "policy.json", fmt.Sprintf(unitPolicy, 1000))
	// The unit fails on purpose b.N times: lmn-detect's flapping hold
	// (5 transitions an hour) would keep the issue firing.
	rules := writeFile(b, dir, "rules.json",
		`{"extend": true, "rules": [{"name": "unit_failed", "flapping": {"transitions": 100000, "window": "1h"}}]}`)
	p := sandboxPipe(b, m, policy, pipeOpts{interval: healInterval.String(), rules: rules,
		heal: []string{"--tiers", "unprivileged,advise", "--sudo", "never"}})
	waitUnits(b, p)
	heal := p.Proc("heal")
	var issued, done, running, recovered []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		time.Sleep(rand.N(*healInterval))
		u.crash(b)
		lines, err := heal.Out.Wait(5**healInterval+20*time.Second, "recovered", func(l []Captured) bool {
			return len(healAt(l, record.PhaseVerified)) > i
		})
		if err != nil {
			b.Fatalf("run %d: %v", i, err)
		}
		// With events the pipe can report recovered before the new
		// instance's shell has logged its start.
		evs := waitStarts(b, u, i+2, 10*time.Second)
		exits, starts := eventTimes(evs, "exit"), eventTimes(evs, "start")
		if len(exits) <= i || len(starts) <= i+1 {
			b.Fatalf("run %d: unit log %v: no exit or restart", i, evs)
		}
		failed := exits[i]
		v := healAt(lines, record.PhaseVerified)[i]
		if v.h.Outcome != record.OutcomeRecovered {
			b.Fatalf("run %d: verified %q, want recovered", i, v.h.Outcome)
		}
		st, sc := healAt(lines, record.PhaseStarted), healAt(lines, record.PhaseSucceeded)
		if len(st) <= i || len(sc) <= i {
			b.Fatalf("run %d: %d started and %d succeeded restart records", i, len(st), len(sc))
		}
		issued = append(issued, st[i].at.Sub(failed))
		done = append(done, sc[i].at.Sub(failed))
		running = append(running, starts[i+1].Sub(failed))
		recovered = append(recovered, v.at.Sub(failed))
	}
	b.StopTimer()
	report(b, "issued", issued)
	report(b, "restarted", done)
	report(b, "running", running)
	report(b, "recovered", recovered)
	b.Logf("interval %v, %d runs: restart issued %s; systemctl restart done %s; unit running %s; recovered %s",
		*healInterval, b.N, summary(issued), summary(done), summary(running), summary(recovered))
	p.Stop(20 * time.Second)
	p.RequireClean()
}

// timedHeal is a restart_unit heal record and when it left lmn-heal.
type timedHeal struct {
	at time.Time
	h  record.Heal
}

// healAt returns the restart_unit heal records of phase, in order.
func healAt(lines []Captured, phase string) []timedHeal {
	var out []timedHeal
	for _, c := range lines {
		if kindOf(c.Raw) != record.KindHeal {
			continue
		}
		var h record.Heal
		if json.Unmarshal(c.Raw, &h) == nil && h.Action == "restart_unit" && h.Phase == phase {
			out = append(out, timedHeal{c.At, h})
		}
	}
	return out
}

func eventTimes(evs []event, what string) []time.Time {
	var out []time.Time
	for _, e := range evs {
		if e.What == what {
			out = append(out, e.At)
		}
	}
	return out
}

// report adds the median, 95th percentile and maximum of ds as benchmark
// metrics.
func report(b *testing.B, name string, ds []time.Duration) {
	s := slices.Clone(ds)
	slices.Sort(s)
	b.ReportMetric(ms(s[len(s)/2]), name+"-p50-ms")
	b.ReportMetric(ms(p95(s)), name+"-p95-ms")
	b.ReportMetric(ms(s[len(s)-1]), name+"-max-ms")
}

// p95 is the 95th percentile of sorted s, nearest rank.
func p95(s []time.Duration) time.Duration {
	return s[(95*len(s)+99)/100-1]
}

func summary(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprintf("%.0f", ms(d))
	}
	return fmt.Sprintf("median %.0f ms, p95 %.0f ms, max %.0f ms [%s]", ms(s[len(s)/2]), ms(p95(s)), ms(s[len(s)-1]), strings.Join(parts, " "))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
