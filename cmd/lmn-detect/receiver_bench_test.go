package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/alertmanager"
)

// BenchmarkReceiverLatency posts b.N distinct alerts to lmn-detect's
// receiver, 100 a second, and measures each from the request to its
// answer on the client: the receipt → 2xx latency Alertmanager sees.
// "live": a sample every 100 ms on stdin meanwhile (50 times lmn-collect's
// default rate); "saturated": an hour of samples replayed over and over, as
// fast as lmn-detect takes them, so both cores are busy and the main loop
// holds its lock nearly all the time. Run it with bench/fleet.sh, or:
//
//	go test ./cmd/lmn-detect/ -run '^$' -bench ReceiverLatency -benchtime 1000x
func BenchmarkReceiverLatency(b *testing.B) {
	all, lines := benchStream(b)
	for _, mode := range []string{"live", "saturated"} {
		b.Run(mode, func(b *testing.B) { receiverLatency(b, all, lines, mode) })
	}
}

func receiverLatency(b *testing.B, stream []byte, lines [][]byte, mode string) {
	cfg := testConfig()
	cfg.live, cfg.amListen, cfg.now = true, "127.0.0.1:0", time.Now
	addr := make(chan string, 1)
	cfg.onListen = func(a string) { addr <- a }
	in, w := io.Pipe()
	done := make(chan int, 1)
	go func() { done <- run(context.Background(), cfg, in, io.Discard, io.Discard) }()
	url := "http://" + <-addr + alertmanager.Path
	stop := make(chan struct{})
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		pace := time.NewTicker(100 * time.Millisecond)
		defer pace.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			chunk := stream
			if mode == "live" {
				<-pace.C
				chunk = lines[i%len(lines)]
			}
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}()
	lat := make([]time.Duration, 0, b.N)
	tick := time.NewTicker(10 * time.Millisecond) // 100 alerts a second
	defer tick.Stop()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		<-tick.C
		body := fmt.Sprintf(`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"Bench%d","unit":"nginx.service"},"startsAt":"2026-11-26T00:00:00Z"}]}`, i)
		t0 := time.Now()
		resp, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(t0))
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("alert %d: %s", i, resp.Status)
		}
	}
	b.StopTimer()
	close(stop)
	w.CloseWithError(io.EOF)
	<-fed
	if code := <-done; code != 0 {
		b.Fatalf("exit %d", code)
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
	b.ReportMetric(0, "ns/op")
}
