package privd

import (
	"context"
	"slices"
	"testing"
	"time"
)

// BenchmarkPing measures authenticated no-op round trips over a real Unix
// socket: connect, challenge, HMAC-signed request, signed response. It
// reports the p50 and p99 of the per-op times.
func BenchmarkPing(b *testing.B) {
	h := newHarness(b, nil)
	defer h.stop()
	c := h.client()
	ctx := context.Background()
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if err := c.Ping(ctx); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds()), "p99-µs")
}
