package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lmn-heal/lmn/internal/config"
)

// checkFunc is a check the scheduling tests control.
type checkFunc func(ctx context.Context) error

func (f checkFunc) check(ctx context.Context) error { return f(ctx) }

// fakeProbes returns n validated probes with interval and timeout, whose
// checks the test sets with s.checks.
func fakeProbes(t *testing.T, n int, interval, timeout time.Duration) []Probe {
	t.Helper()
	ps := make([]Probe, n)
	for i := range ps {
		ps[i] = Probe{Name: "p" + string(rune('a'+i)), Unit: "u.service", Interval: config.Duration(interval),
			Timeout: config.Duration(timeout), TCP: &TCP{Address: "127.0.0.1:9"}}
		if err := ps[i].validate(interval); err != nil {
			t.Fatal(err)
		}
	}
	return ps
}

// runFor runs s for d of the bubble's time and waits for it to stop.
func runFor(s *Scheduler, d time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	time.Sleep(d)
	cancel()
	<-done
}

// Each probe runs at once, then on its own interval.
func TestSchedulerIntervals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ps := fakeProbes(t, 2, time.Second, 100*time.Millisecond)
		ps[1].Interval = config.Duration(3 * time.Second)
		s := NewScheduler(ps, 0)
		var runs [2][]time.Duration
		start := time.Now()
		for i := range 2 {
			s.checks[i] = checkFunc(func(context.Context) error {
				runs[i] = append(runs[i], time.Since(start))
				return nil
			})
		}
		runFor(s, 9500*time.Millisecond)
		if len(runs[0]) != 10 || runs[0][9] != 9*time.Second || len(runs[1]) != 4 || runs[1][3] != 9*time.Second {
			t.Errorf("runs at %v and %v, want every 1 s (10) and every 3 s (4) from 0", runs[0], runs[1])
		}
	})
}

// A check that outlasts its interval (one that ignores its timeout, the
// worst case) is never started a second time while it runs: the turns
// that pass meanwhile are skipped and counted.
func TestSchedulerNotStartedTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewScheduler(fakeProbes(t, 1, time.Second, time.Second), 0)
		var running, most atomic.Int32
		var starts []time.Duration
		start := time.Now()
		s.checks[0] = checkFunc(func(context.Context) error {
			starts = append(starts, time.Since(start))
			n := running.Add(1)
			most.Store(max(most.Load(), n))
			time.Sleep(2500 * time.Millisecond)
			running.Add(-1)
			return nil
		})
		runFor(s, 8*time.Second)
		if most.Load() != 1 {
			t.Errorf("%d checks of one probe ran at once", most.Load())
		}
		want := []time.Duration{0, 3 * time.Second, 6 * time.Second}
		if len(starts) != len(want) || starts[1] != want[1] || starts[2] != want[2] {
			t.Errorf("started at %v, want %v", starts, want)
		}
		if got := s.Skipped()[0]; got != 4 {
			t.Errorf("skipped %d turns, want 4 (at 1, 2, 4 and 5 s)", got)
		}
	})
}

// No more than the bound run at once, and every probe gets its turn.
func TestSchedulerBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewScheduler(fakeProbes(t, 10, 5*time.Second, time.Second), 3)
		var running, most atomic.Int32
		var mu sync.Mutex
		ran := map[int]int{}
		for i := range 10 {
			s.checks[i] = checkFunc(func(ctx context.Context) error {
				n := running.Add(1)
				most.Store(max(most.Load(), n))
				<-ctx.Done() // until the timeout
				running.Add(-1)
				mu.Lock()
				ran[i]++
				mu.Unlock()
				return ctx.Err()
			})
		}
		runFor(s, 4500*time.Millisecond)
		if most.Load() != 3 {
			t.Errorf("at most %d ran at once, want 3", most.Load())
		}
		if len(ran) != 10 {
			t.Errorf("probes that ran: %v, want all 10 (four rounds of 3 slots in 4.5 s)", ran)
		}
	})
}

// Latest returns at once while checks run, with the result each probe
// had, and a timeout is said as such with the timeout as its latency.
func TestSchedulerLatestDuringChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewScheduler(fakeProbes(t, 2, 5*time.Second, 2*time.Second), 0)
		s.checks[0] = checkFunc(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
		s.checks[1] = checkFunc(func(context.Context) error { time.Sleep(10 * time.Millisecond); return nil })
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		time.Sleep(time.Second)
		before := time.Now()
		got := s.Latest(nil)
		if time.Since(before) != 0 {
			t.Errorf("Latest took %v of the bubble's time", time.Since(before))
		}
		if len(got) != 1 || got[0].Name != "pb" || !got[0].OK || got[0].Latency != 10*time.Millisecond {
			t.Errorf("after 1 s: %+v, want only pb's result", got)
		}
		time.Sleep(1500 * time.Millisecond)
		got = s.Latest(got[:0])
		if len(got) != 2 || got[0].Name != "pa" || got[0].OK || got[0].Error != "timeout after 2s" ||
			got[0].Latency != 2*time.Second || !got[0].CheckedAt.Equal(before.Add(time.Second)) {
			t.Errorf("after 2.5 s: %+v, want pa timed out at 2 s", got)
		}
		if r := got[0]; r.Unit != "u.service" || r.Scope != "system" || r.Kind != "tcp" {
			t.Errorf("result %+v lacks the probe's unit, scope or kind", r)
		}
		cancel()
		<-done
	})
}

// Streak counts the results in a row with the same verdict.
func TestSchedulerStreak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewScheduler(fakeProbes(t, 1, time.Second, 100*time.Millisecond), 0)
		verdicts := []bool{false, false, false, true, true, false}
		var streaks []int
		n := 0
		s.checks[0] = checkFunc(func(context.Context) error {
			if n > 0 {
				streaks = append(streaks, s.Latest(nil)[0].Streak)
			}
			ok := verdicts[min(n, len(verdicts)-1)]
			n++
			if ok {
				return nil
			}
			return errors.New("down")
		})
		runFor(s, 6500*time.Millisecond)
		want := []int{1, 2, 3, 1, 2, 1}
		if len(streaks) != len(want) {
			t.Fatalf("streaks %v, want %v", streaks, want)
		}
		for i := range want {
			if streaks[i] != want[i] {
				t.Errorf("streaks %v, want %v", streaks, want)
				break
			}
		}
	})
}

// Real probes at things that hang forever (a TCP listener that never
// answers, an HTTP handler that never returns, a command that never
// exits) hold neither the other probes nor a reader of the results: a
// healthy probe finishes five checks while the hung ones have none, and
// stopping the scheduler ends them all.
func TestSchedulerHungServicesHoldNothing(t *testing.T) {
	silent := tcpServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	healthy := tcpServer(t, redisLike("+PONG\r\n"))
	slowWeb := webServer(t) + "/slow"
	long := config.Duration(time.Minute)
	ps := []Probe{
		{Name: "silent", Interval: long, Timeout: long, TCP: &TCP{Address: silent, Send: "PING\r\n", Expect: "+PONG"}},
		{Name: "web", Interval: long, Timeout: long, HTTP: &HTTP{URL: slowWeb}},
		{Name: "cmd", Interval: long, Timeout: long, Exec: &Exec{Argv: []string{"/bin/sleep", "3600"}}},
		{Name: "redis", Interval: config.Duration(MinInterval), TCP: &TCP{Address: healthy, Send: "PING\r\n", Expect: "+PONG"}},
	}
	for i := range ps {
		if err := ps[i].validate(time.Second); err != nil {
			t.Fatal(err)
		}
	}
	s := NewScheduler(ps, 0)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	deadline := time.Now().Add(30 * time.Second) // a bound for a loaded machine, not a measurement
	for {
		got := s.Latest(nil)
		if len(got) > 1 {
			t.Fatalf("a hung probe has a result: %+v", got)
		}
		if len(got) == 1 && got[0].Name == "redis" && got[0].OK && got[0].Streak >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the healthy probe did not pass five times: %+v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the scheduler did not stop: a hung check ignored the cancellation")
	}
}

// Notify hears of each result as it is stored, its streak counted, and
// Latest already has it.
func TestSchedulerNotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ps := fakeProbes(t, 1, time.Second, 100*time.Millisecond)
		s := NewScheduler(ps, 0)
		n := 0
		s.checks[0] = checkFunc(func(context.Context) error {
			n++
			if n >= 3 {
				return failure("status 503")
			}
			return nil
		})
		var heard []Result
		s.Notify(func(r Result) {
			if latest := s.Latest(nil); len(latest) != 1 || latest[0] != r {
				t.Errorf("notified of %+v before Latest had it (%+v)", r, latest)
			}
			heard = append(heard, r)
		})
		runFor(s, 4500*time.Millisecond)
		var got []string
		for _, r := range heard {
			got = append(got, fmt.Sprintf("%v/%d", r.OK, r.Streak))
		}
		if want := "true/1 true/2 false/1 false/2 false/3"; strings.Join(got, " ") != want {
			t.Errorf("notified %s, want %s", strings.Join(got, " "), want)
		}
	})
}
