package e2e

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/alertmanager/amtest"
	"github.com/lmn-heal/lmn/internal/record"
)

// BenchmarkFleetScrapeToRestart measures, b.N times, the fleet path with
// the test's settings (promInterval, resendDelay, group_wait 0s,
// group_interval 1s): from nginx, a unit of the sandbox, killed at a random
// point of the scrape interval, to Alertmanager's firing notification
// reaching the tap before lmn-detect's receiver, to lmn-heal's `started`
// record for the restart (receipt → restart issued), to its `succeeded`.
// Run it with bench/fleet.sh, or:
//
//	go test ./e2e/ -run '^$' -bench FleetScrapeToRestart -benchtime 10x
func BenchmarkFleetScrapeToRestart(b *testing.B) {
	skipShort(b)
	needRoot(b, "sandboxed managers and UTS namespaces")
	if _, err := amtest.Binary(); err != nil {
		b.Skip(err)
	}
	h := startHost(b, "web1")
	tp := startTap(b, "am", h.Receiver)
	am := amtest.Start(b, amtest.Options{Config: amConfig("lmn", amRoute{receiver: "lmn", url: tp.URL})})
	prom := startPrometheus(b, promConfig([]*amtest.Alertmanager{am}, h), fleetRules)
	heal := h.Pipe.Proc("heal")
	var notified, issued, restarted, scrapeToIssued []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		waitScraped(b, prom, h)
		time.Sleep(rand.N(time.Second)) // anywhere in the scrape interval
		killed := h.Web.kill(b, h.M)
		lines, err := heal.Out.Wait(90*time.Second, "recovered", func(l []Captured) bool {
			n := 0
			for _, r := range healsOf(b, l) {
				if r.Phase == record.PhaseVerified && r.Outcome == record.OutcomeRecovered {
					n++
				}
			}
			return n > i
		})
		if err != nil {
			b.Fatalf("run %d: %v", i, err)
		}
		var webhook time.Time
		for _, d := range deliveries(tp) {
			if d.Status == "firing" && d.At.After(killed) {
				webhook = d.At
				break
			}
		}
		st, sc := healAt(lines, record.PhaseStarted), healAt(lines, record.PhaseSucceeded)
		if webhook.IsZero() || len(st) <= i || len(sc) <= i {
			b.Fatalf("run %d: webhook %v, %d started, %d succeeded", i, webhook, len(st), len(sc))
		}
		notified = append(notified, webhook.Sub(killed))
		issued = append(issued, st[i].at.Sub(webhook))
		restarted = append(restarted, sc[i].at.Sub(webhook))
		scrapeToIssued = append(scrapeToIssued, st[i].at.Sub(killed))
	}
	b.StopTimer()
	report(b, "kill-to-webhook", notified)
	report(b, "webhook-to-issued", issued)
	report(b, "webhook-to-restarted", restarted)
	report(b, "kill-to-issued", scrapeToIssued)
	b.Logf("%d runs: kill → webhook %s; webhook → restart issued %s; webhook → restart done %s; kill → restart issued %s",
		b.N, summary(notified), summary(issued), summary(restarted), summary(scrapeToIssued))
}
