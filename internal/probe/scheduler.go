package probe

import (
	"context"
	"sync"
	"time"
)

// DefaultMaxRunning bounds the checks running at once.
const DefaultMaxRunning = 8

// Scheduler runs each probe on its own interval, concurrently with the
// others and with the collector: one goroutine per probe runs its checks
// one after another, so a probe still running at its next turn is not
// started again (that turn is skipped), and a semaphore bounds how many
// run at once. Latest never waits for a check.
type Scheduler struct {
	probes []Probe
	checks []checker
	limit  chan struct{}

	mu      sync.Mutex
	results []Result
	have    []bool
	skipped []uint64
	// stored, when set, is told of each result as it is stored (Notify).
	stored func(Result)
}

// Notify sets f to be called with each result as the Scheduler stores it,
// from the probe's own goroutine, after the result is visible to Latest:
// so a collector can take a sample at once when a probe starts failing
// rather than at its next tick. f must not block. Call it before Run.
func (s *Scheduler) Notify(f func(Result)) { s.stored = f }

// NewScheduler returns a Scheduler for validated probes, with at most
// maxRunning checks at once (DefaultMaxRunning when 0 or less).
func NewScheduler(probes []Probe, maxRunning int) *Scheduler {
	if maxRunning <= 0 {
		maxRunning = DefaultMaxRunning
	}
	s := &Scheduler{
		probes:  probes,
		checks:  make([]checker, len(probes)),
		limit:   make(chan struct{}, maxRunning),
		results: make([]Result, len(probes)),
		have:    make([]bool, len(probes)),
		skipped: make([]uint64, len(probes)),
	}
	for i := range probes {
		s.checks[i] = probes[i].checker()
	}
	return s
}

// Probes are the probes the Scheduler runs.
func (s *Scheduler) Probes() []Probe { return s.probes }

// Run checks every probe at once, then each again on its interval, until
// ctx is done; it returns when the last check has ended. A check cut short
// by ctx leaves no result.
func (s *Scheduler) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range s.probes {
		wg.Go(func() { s.loop(ctx, i) })
	}
	wg.Wait()
}

func (s *Scheduler) loop(ctx context.Context, i int) {
	p := &s.probes[i]
	interval := p.Interval.D()
	next := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		select {
		case s.limit <- struct{}{}:
		case <-ctx.Done():
			return
		}
		r := s.checkOnce(ctx, i)
		<-s.limit
		if ctx.Err() != nil {
			return
		}
		s.store(i, r)
		// The next turn is the first one still to come: turns that passed
		// while this check ran (or waited for its slot) are skipped.
		next = next.Add(interval)
		now := time.Now()
		if missed := now.Sub(next); missed > 0 {
			n := missed/interval + 1
			next = next.Add(n * interval)
			s.mu.Lock()
			s.skipped[i] += uint64(n)
			s.mu.Unlock()
		}
		t.Reset(next.Sub(now))
	}
}

// checkOnce runs probe i's check under its timeout.
func (s *Scheduler) checkOnce(ctx context.Context, i int) Result {
	p := &s.probes[i]
	timeout := p.Timeout.D()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	start := time.Now()
	err := s.checks[i].check(cctx)
	end := time.Now()
	ctxErr := cctx.Err()
	cancel()
	r := Result{Name: p.Name, Unit: p.Unit, Scope: p.Scope, Kind: p.Kind(), OK: err == nil,
		Latency: min(end.Sub(start), timeout), CheckedAt: end}
	if err != nil {
		r.Error = describe(err, ctxErr, timeout)
	}
	return r
}

func (s *Scheduler) store(i int, r Result) {
	s.mu.Lock()
	r.Streak = 1
	if prev := s.results[i]; s.have[i] && prev.OK == r.OK {
		r.Streak = prev.Streak + 1
	}
	s.results[i], s.have[i] = r, true
	s.mu.Unlock()
	if s.stored != nil {
		s.stored(r)
	}
}

// Latest appends to dst the latest finished result of each probe that has
// one, in the order of the configuration. It holds a lock only to copy.
func (s *Scheduler) Latest(dst []Result) []Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, ok := range s.have {
		if ok {
			dst = append(dst, s.results[i])
		}
	}
	return dst
}

// Skipped counts, per probe in configuration order, the turns skipped
// because the probe was still running or waiting for a slot.
func (s *Scheduler) Skipped() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint64(nil), s.skipped...)
}
