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

// Run samples every interval and passes each sample to emit, which must
// finish with it before returning (the sample is reused). It stops after
// count samples (0: until ctx is done) or when emit fails. When ctx is done
// it finishes the sample in progress, emits it, and returns nil.
func Run(ctx context.Context, c *Collector, interval time.Duration, count int, emit func(*record.Sample) error) error {
	c.Prime()
	stopped := !wait(ctx, min(interval, FirstDelta))
	var tick *time.Ticker
	for n := 1; ; n++ {
		if err := emit(c.Sample(ctx)); err != nil {
			return err
		}
		if stopped || (count > 0 && n >= count) {
			return nil
		}
		if tick == nil {
			tick = time.NewTicker(interval)
			defer tick.Stop()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
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
