package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lmn-heal/lmn/internal/detect/detecttest"
	"github.com/lmn-heal/lmn/internal/record"
)

// lockedBuffer is an output the test can read while run writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// In a live pipe a hung collector sends nothing; the watchdog fires the
// absence issue on the wall clock, and the next sample resolves it. The
// pipe is an io.Pipe rather than an OS pipe so that synctest's fake clock
// can advance while run waits for input.
func TestLiveAbsence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pr, pw := io.Pipe()
		var out lockedBuffer
		cfg := testConfig()
		cfg.live = true
		done := make(chan int)
		go func() { done <- run(context.Background(), cfg, pr, &out, io.Discard) }()

		// 30 s apart: once two gaps are known the limit is 3 × 30 s.
		samples := detecttest.Trouble()[:4]
		for i := range samples[:3] {
			pw.Write(detecttest.Line(&samples[i]))
			synctest.Wait()
		}
		time.Sleep(80 * time.Second)
		synctest.Wait()
		if strings.Contains(out.String(), "collector_absent") {
			t.Fatalf("fired before the limit:\n%s", out.String())
		}
		time.Sleep(15 * time.Second)
		synctest.Wait()
		got := out.String()
		if !strings.Contains(got, `"rule":"collector_absent","subject":{},"state":"firing"`) ||
			!strings.Contains(got, `"value":90,`) {
			t.Fatalf("no absence issue after 95 s of silence:\n%s", got)
		}
		// A late sample (its ts is 60 s after the last) resolves it,
		// and judging by record time does not fire it a second time.
		late := samples[3]
		late.TS = record.Time{Time: samples[2].TS.Add(2 * time.Minute)}
		pw.Write(detecttest.Line(&late))
		pw.Close()
		if code := <-done; code != 0 {
			t.Fatalf("exit %d", code)
		}
		got = out.String()
		if n := strings.Count(got, `"rule":"collector_absent","subject":{},"state":"firing"`); n != 1 {
			t.Errorf("%d absence firings, want 1:\n%s", n, got)
		}
		if !strings.Contains(got, `"rule":"collector_absent","subject":{},"state":"resolved"`) {
			t.Errorf("absence not resolved:\n%s", got)
		}
	})
}

// gate is an output whose writes after the first wait until the gate
// opens: a downstream that stops reading for a while.
type gate struct {
	open   chan struct{}
	writes atomic.Int32
	lockedBuffer
}

func (g *gate) Write(p []byte) (int, error) {
	if g.writes.Add(1) > 1 {
		<-g.open
	}
	return g.lockedBuffer.Write(p)
}

// A stream piped in while the downstream is slow is not an absent
// collector: the watchdog fires only while lmn-detect waits for input.
// Should that break, the watchdog blocks on the writer's mutex, which
// synctest cannot see through, and this test fails by timing out.
func TestLiveBusyIsNotAbsent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Two reads: the first three samples, then the fourth. The
		// flush before the second read blocks, with the samples judged
		// and the watchdog armed.
		pr, pw := io.Pipe()
		out := &gate{open: make(chan struct{})}
		samples := detecttest.Trouble()[:4]
		go func() {
			var first []byte
			for i := range samples[:3] {
				first = append(first, detecttest.Line(&samples[i])...)
			}
			pw.Write(first)
			pw.Write(detecttest.Line(&samples[3]))
			pw.Close()
		}()
		cfg := testConfig()
		cfg.live = true
		done := make(chan int)
		go func() { done <- run(context.Background(), cfg, pr, out, io.Discard) }()
		// Blocked writing; a sample waits unread. Half a second off the
		// watchdog's whole-second rechecks: at the same instant as one,
		// the recheck could run after the write is let go and before the
		// waiting sample is read, and rightly see an idle reader.
		time.Sleep(10*time.Minute + 500*time.Millisecond)
		close(out.open)
		if code := <-done; code != 0 {
			t.Fatalf("exit %d", code)
		}
		if got := out.String(); strings.Contains(got, "collector_absent") || !strings.Contains(got, `"seq":4`) {
			t.Errorf("want all samples and no absence issue:\n%s", got)
		}
	})
}

// In a live pipe generation_unhealthy's verdict comes at the end of its
// settle window, from the last sample, without waiting for the next one.
func TestLiveGenerationVerdict(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pr, pw := io.Pipe()
		var out lockedBuffer
		cfg := testConfig()
		cfg.live = true
		done := make(chan int)
		go func() { done <- run(context.Background(), cfg, pr, &out, io.Discard) }()
		sample := func(d time.Duration, gen int, failed ...string) {
			s := record.Sample{Header: record.NewHeader(record.KindSample, "lmn-collect", "h", time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).Add(d)),
				IntervalSeconds: 30, Trigger: "tick",
				Nix:   &record.Nix{SystemGeneration: gen, CurrentSystem: "/nix/store/" + strings.Repeat("x", gen) + "-system", CurrentGeneration: gen},
				Units: &record.Units{Scope: "system", Failed: []record.Unit{}}}
			for _, u := range failed {
				s.Units.Failed = append(s.Units.Failed, record.Unit{Unit: u})
			}
			pw.Write(detecttest.Line(&s))
			synctest.Wait()
		}
		sample(0, 1)
		sample(30*time.Second, 2, "web.service")
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if strings.Contains(out.String(), `"rule":"generation_unhealthy"`) {
			t.Fatalf("judged before the settle window ended:\n%s", out.String())
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := out.String(); !strings.Contains(got, `"rule":"generation_unhealthy"`) || !strings.Contains(got, `"state":"firing"`) ||
			!strings.Contains(got, "web.service (system) failed after the switch") {
			t.Fatalf("no verdict 61 s after the switch, with no sample since:\n%s", got)
		}
		pw.Close()
		if code := <-done; code != 0 {
			t.Fatalf("exit %d", code)
		}
	})
}
