package main

import (
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// watchdog judges absence in a live pipe, where a hung collector sends
// nothing and so no record time passes: it is re-armed by every sample and,
// when the absence limit passes on the wall clock with no sample, asks the
// engine to fire absence issues and flushes them at once. It also wakes at
// the end of a generation judgement's settle window, so the verdict does
// not wait for the next tick. It fires only
// while lmn-detect waits for input: a stream piped in faster than a slow
// downstream takes it is not an absent collector. Replays from a file never
// start one; there, absence is judged from record time only.
type watchdog struct {
	d       *detector
	waiting atomic.Bool // a read of stdin is in progress
	mu      sync.Mutex
	timer   *time.Timer
	arrived time.Time // when the last sample arrived, on the wall clock
	gen     uint64
	stopped bool
}

func newWatchdog(d *detector) *watchdog { return &watchdog{d: d} }

// arm restarts the countdown after a sample; limit 0 disarms it.
func (w *watchdog) arm(limit time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gen++
	w.arrived = time.Now()
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	if limit <= 0 || w.stopped {
		return
	}
	gen := w.gen
	w.timer = time.AfterFunc(limit, func() { w.fire(gen, limit) })
}

// recheck is how soon a watchdog that went off while lmn-detect was busy
// (not waiting for input) looks again.
const recheck = time.Second

func (w *watchdog) fire(gen uint64, limit time.Duration) {
	w.mu.Lock()
	if gen != w.gen || w.stopped {
		w.mu.Unlock()
		return
	}
	if !w.waiting.Load() {
		w.timer = time.AfterFunc(min(recheck, limit), func() { w.fire(gen, limit) })
		w.mu.Unlock()
		return
	}
	elapsed := time.Since(w.arrived)
	w.mu.Unlock()

	d := w.d
	d.mu.Lock()
	defer d.mu.Unlock()
	w.mu.Lock()
	stale := gen != w.gen
	w.mu.Unlock()
	if stale {
		return // a sample arrived meanwhile
	}
	for _, is := range d.engine.Silence(elapsed) {
		if err := d.emitIssue(is); err != nil {
			d.log.Warn("write absence issue", "err", err)
			return
		}
	}
	if err := d.w.Flush(); err != nil {
		d.log.Warn("flush absence issue", "err", err)
	}
	if next := d.engine.NextWake(elapsed); next > 0 {
		w.mu.Lock()
		if gen == w.gen && !w.stopped {
			w.timer = time.AfterFunc(next-elapsed, func() { w.fire(gen, next) })
		}
		w.mu.Unlock()
	}
}

func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.timer != nil {
		w.timer.Stop()
	}
}

// reader wraps stdin so the watchdog knows when lmn-detect waits for input.
func (w *watchdog) reader(r io.Reader) io.Reader { return waitReader{r, w} }

type waitReader struct {
	r io.Reader
	w *watchdog
}

func (wr waitReader) Read(p []byte) (int, error) {
	wr.w.waiting.Store(true)
	defer wr.w.waiting.Store(false)
	return wr.r.Read(p)
}
