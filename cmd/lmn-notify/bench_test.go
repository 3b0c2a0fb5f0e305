package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkRecordToMessage measures on loopback the time from an advised
// heal record entering lmn-notify to its message reaching the webhook:
// answered at once, and with the first attempt at every message answered
// 500, so the retry is part of the figure. Reported as p50 and p99 over
// b.N records.
func BenchmarkRecordToMessage(b *testing.B) {
	b.Run("delivered", func(b *testing.B) { benchDelivery(b, false) })
	b.Run("after-500", func(b *testing.B) { benchDelivery(b, true) })
}

func benchDelivery(b *testing.B, failFirst bool) {
	var mu sync.Mutex
	tried := map[string]bool{}
	arrived := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		first := !tried[string(body)]
		tried[string(body)] = true
		mu.Unlock()
		if first && failFirst {
			http.Error(w, "first attempt fails", 500)
			return
		}
		arrived <- string(body)
	}))
	defer srv.Close()
	path := filepath.Join(b.TempDir(), "notify.json")
	// burst high, so no message is folded into a digest.
	os.WriteFile(path, []byte(`{"burst":100000,"webhook":{"url":"`+srv.URL+`"}}`), 0o600)
	cfg, _ := parseFlags([]string{"--config", path}, io.Discard)
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() { done <- run(context.Background(), cfg, pr, io.Discard, io.Discard) }()
	lat := make([]time.Duration, 0, b.N)
	start := time.Now()
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprintf("bench%06d", i)
		t0 := time.Now()
		io.WriteString(pw, advisedLine(id, start)+"\n")
		<-arrived
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	pw.Close()
	<-done
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[(len(lat)*99)/100]), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
}
