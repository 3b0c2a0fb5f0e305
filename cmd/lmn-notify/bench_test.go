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
// heal record entering lmn-notify to its message reaching the webhook,
// when the first attempt at every message is answered 500: the retry is
// part of the figure. Reported as p50 and p99 over b.N records.
func BenchmarkRecordToMessage(b *testing.B) {
	var mu sync.Mutex
	tried := map[string]bool{}
	arrived := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		first := !tried[string(body)]
		tried[string(body)] = true
		mu.Unlock()
		if first {
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
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Milliseconds()), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Milliseconds()), "max-ms")
}
