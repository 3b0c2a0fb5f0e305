package collect

import (
	"context"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// FirstDelta is the longest wait before the first sample. Rates need two
// readings; rather than print garbage or leave the rates out of the first
// sample, Run takes a reading, waits FirstDelta (or the interval if that is
// shorter) and samples, so the first line arrives at once and is complete.
const FirstDelta = 200 * time.Millisecond

// Coalesce is the shortest time between a sample and the next one an event
// causes: the first event after a quiet spell is sampled at once, the
// events of a burst are folded into one sample per Coalesce, so a thousand
// unit changes in a second give at most 40 samples.
const Coalesce = 25 * time.Millisecond

// Run samples every interval and, when wake is not nil, as soon as an
// event fires (at most one event sample per Coalesce), passing each sample
// to emit, which must finish with it before returning (the sample is
// reused). A sample's trigger is "tick" for the regular samples, whose
// phase events never move, and the event's otherwise; a tick folds in the
// events that fired since the last sample. Rates cover the time since the
// previous sample, whatever woke it. Run stops after count samples (0:
// until ctx is done) or when emit fails. When ctx is done it finishes the
// sample in progress, emits it, and returns nil.
func Run(ctx context.Context, c *Collector, interval time.Duration, count int, wake *Wake, emit func(*record.Sample) error) error {
	c.Prime()
	stopped := !wait(ctx, min(interval, FirstDelta))
	w := waiter{interval: interval, wake: wake}
	defer w.stop()
	trigger := TriggerTick
	for n := 1; ; n++ {
		if wake != nil && trigger == TriggerTick {
			wake.take() // what fired since the last sample is in this one
		}
		taken := time.Now()
		s := c.Sample(ctx)
		s.Trigger = trigger
		if err := emit(s); err != nil {
			return err
		}
		if stopped || (count > 0 && n >= count) {
			return nil
		}
		if trigger = w.next(ctx, taken); trigger == "" {
			return nil
		}
	}
}

// waiter waits for the tick or an event.
type waiter struct {
	interval time.Duration
	wake     *Wake
	tick     *time.Ticker
	hold     *time.Timer // the rest of a coalescing window
}

// next waits for what wakes the next sample after the one taken at last,
// and returns its trigger; "" once ctx is done.
func (w *waiter) next(ctx context.Context, last time.Time) string {
	if w.tick == nil {
		w.tick = time.NewTicker(w.interval)
	}
	var events <-chan struct{}
	if w.wake != nil {
		events = w.wake.c
	}
	var held <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return ""
		case <-w.tick.C:
			return TriggerTick
		case <-events:
			if d := Coalesce - time.Since(last); d > 0 {
				// Too soon after the last sample: let what fires until
				// the window ends accumulate in wake.
				if w.hold == nil {
					w.hold = time.NewTimer(d)
				} else {
					w.hold.Reset(d)
				}
				held, events = w.hold.C, nil
				continue
			}
			if t := w.wake.take(); t != "" {
				return t
			}
		case <-held:
			held, events = nil, w.wake.c
			if t := w.wake.take(); t != "" {
				return t
			}
		}
	}
}

func (w *waiter) stop() {
	if w.tick != nil {
		w.tick.Stop()
	}
	if w.hold != nil {
		w.hold.Stop()
	}
}

// wait sleeps for d and reports whether it was not cut short by ctx.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
