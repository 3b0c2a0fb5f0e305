package e2e

import (
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// BenchmarkGenerationRollback measures, with the default settings
// (generation_unhealthy's 60 s settle window, lmn-collect's 30 s interval
// with its events), the time from a person's switch to a generation that
// breaks a unit to lmn-heal's rolled_back record: the settle window, the
// wait for the first sample after it (events wake none once the unit has
// failed), lmn-privd's switch and activation, and the sample that shows
// the unit running again. Each iteration is a fresh machine. Run with
// -benchtime=Nx; an iteration takes 1–2 minutes.
func BenchmarkGenerationRollback(b *testing.B) {
	var judged, rolled []time.Duration
	for i := 0; i < b.N; i++ {
		g := startGenMachine(b, genOpts{interval: "30s"}, genBroken, nil)
		switched := g.switchTo(b, 2)
		lines, err := g.p.Proc("detect").Out.Wait(3*time.Minute, "generation_unhealthy firing", func(l []Captured) bool {
			for _, is := range issuesOf(b, l) {
				if is.Rule == record.RuleGenerationUnhealthy && is.State == record.StateFiring {
					return true
				}
			}
			return false
		})
		if err != nil {
			b.Fatal(err)
		}
		judged = append(judged, lines[len(lines)-1].At.Sub(switched))
		lines, err = g.p.Proc("heal").Out.Wait(3*time.Minute, "rolled_back", hasHeal(isRolledBack))
		if err != nil {
			b.Fatal(err)
		}
		rolled = append(rolled, lines[len(lines)-1].At.Sub(switched))
		g.finish(b)
	}
	report(b, "fired", judged)
	report(b, "rolled-back", rolled)
	b.Logf("%d runs, settle 60s, interval 30s: issue fired %s; rolled_back %s", b.N, summary(judged), summary(rolled))
}
