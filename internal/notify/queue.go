package notify

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// dropReportEvery bounds how often a channel that keeps dropping reports
// it, in a record and on stderr.
const dropReportEvery = 10 * time.Second

// worker is one channel's bounded queue and the goroutine that delivers
// from it, retrying with backoff. put never blocks: a full queue drops its
// oldest message and counts it.
type worker struct {
	ch     channel
	retry  Retry
	max    int
	report func(record.Notify)
	log    *slog.Logger

	mu           sync.Mutex
	queue        []*Message
	dropped      int // since the last dropped record
	droppedTotal int
	lastReport   time.Time
	wake         chan struct{}
}

func newWorker(ch channel, cfg *Config, report func(record.Notify), log *slog.Logger) *worker {
	return &worker{ch: ch, retry: cfg.Retry, max: cfg.Queue, report: report, log: log.With("channel", ch.name()),
		wake: make(chan struct{}, 1)}
}

// put queues m.
func (w *worker) put(m *Message) {
	w.mu.Lock()
	if len(w.queue) >= w.max {
		copy(w.queue, w.queue[1:])
		w.queue = w.queue[:len(w.queue)-1]
		w.dropped++
		w.droppedTotal++
	}
	w.queue = append(w.queue, m)
	due := w.dropped > 0 && time.Since(w.lastReport) >= dropReportEvery
	w.mu.Unlock()
	if due {
		w.reportDrops(0)
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// reportDrops writes a dropped record for the drops not yet reported,
// plus lost messages that were still queued at the end.
func (w *worker) reportDrops(lost int) {
	w.mu.Lock()
	w.dropped += lost
	w.droppedTotal += lost
	n, total := w.dropped, w.droppedTotal
	w.dropped, w.lastReport = 0, time.Now()
	w.mu.Unlock()
	if n == 0 {
		return
	}
	w.log.Warn("queue full: messages dropped", "dropped", n, "dropped_total", total)
	w.report(record.Notify{Channel: w.ch.name(), Phase: record.NotifyDropped, Dropped: n, DroppedTotal: total})
}

func (w *worker) next() *Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return nil
	}
	m := w.queue[0]
	w.queue[0] = nil
	w.queue = w.queue[1:]
	return m
}

// run delivers until ctx is done, or until closing is closed and the
// queue is empty. What is still queued when ctx ends is reported lost.
func (w *worker) run(ctx context.Context, closing <-chan struct{}) {
	defer func() {
		w.mu.Lock()
		lost := len(w.queue)
		w.queue = nil
		w.mu.Unlock()
		w.reportDrops(lost)
	}()
	for {
		m := w.next()
		if m != nil {
			w.deliver(ctx, m)
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-closing:
			if w.next() == nil { // nothing came in since
				return
			}
			w.wakeUp()
		case <-w.wake:
		}
	}
}

func (w *worker) wakeUp() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// deliver sends m, retrying failures that are worth it with doubling
// waits until retry.For has passed, then records the result.
func (w *worker) deliver(ctx context.Context, m *Message) {
	start := time.Now()
	wait := w.retry.First.D()
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, w.retry.Timeout.D())
		err := w.ch.send(actx, m)
		cancel()
		if err == nil {
			lat := float64(time.Since(m.Read).Microseconds()) / 1000
			w.report(record.Notify{Channel: w.ch.name(), Phase: record.NotifySent, Event: m.Event,
				Issues: m.Issues(), Attempts: attempt, LatencyMS: &lat})
			return
		}
		giveUp := isPermanent(err) || ctx.Err() != nil || time.Since(start)+wait > w.retry.For.D()
		if attempt == 1 || giveUp {
			w.log.Warn("not delivered", "event", m.Event, "attempt", attempt, "retry", !giveUp, "err", err)
		}
		if !giveUp {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
				wait = min(2*wait, w.retry.Max.D())
				continue
			case <-ctx.Done():
				t.Stop()
			}
		}
		w.report(record.Notify{Channel: w.ch.name(), Phase: record.NotifyFailed, Event: m.Event,
			Issues: m.Issues(), Attempts: attempt, Error: err.Error()})
		return
	}
}
