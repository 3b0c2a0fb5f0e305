package main

import "time"

// alarm wakes a live lmn-heal at the engine's next deadline when no
// record comes first (docs/policy.md, Time). The engine's clock is the
// stream's: between records it stands still, so with a 30 s tick a
// backoff or a verification window ending between two samples would wait
// for the second. Live, the clock between records is the latest record's
// time plus the time since it was read (the monotonic clock, which does
// not count a suspend), and the alarm rings when that reaches the next
// deadline; the engine meets the deadline at its own time, as a replay of
// the same records does when the next record passes it. Replaying a file
// (cfg.inline) there is no alarm: the records are read as fast as they
// come, and the next one brings the clock past the deadline.
type alarm struct {
	timer   *time.Timer
	readAt  time.Time // when the latest sample or issue was read
	rang    time.Time // the deadline the alarm last rang for
	stopped bool      // the stream ended: no more wake-ups
}

// arm sets the alarm for the engine's next deadline, or stops it when
// there is none. Called with h.mu held, after every change to the
// engine.
func (h *healer) arm() {
	a := &h.alarm
	if h.cfg.inline || a.stopped {
		return
	}
	next, ok := h.eng.Next()
	if !ok {
		if a.timer != nil {
			a.timer.Stop()
		}
		return
	}
	d := next.Sub(h.eng.RecordTime()) - time.Since(a.readAt)
	if d <= 0 && next.Equal(a.rang) {
		// Rang for it and it is still there: never spin; the next
		// record takes it.
		return
	}
	if a.timer == nil {
		a.timer = time.AfterFunc(d, h.ring)
		return
	}
	a.timer.Reset(d)
}

// ring moves the engine's clock to now as a live pipe knows it, and
// writes what the deadlines that passed started.
func (h *healer) ring() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.alarm.stopped {
		return
	}
	h.alarm.rang, _ = h.eng.Next()
	h.eng.Advance(h.eng.RecordTime().Add(time.Since(h.alarm.readAt)))
	if err := h.flushEngine(false); err != nil {
		h.log.Warn("write", "err", err)
		h.cancel()
		return
	}
	h.out.Flush()
}

// stopAlarm ends the wake-ups once the stream ended. Called with h.mu
// held.
func (h *healer) stopAlarm() {
	h.alarm.stopped = true
	if h.alarm.timer != nil {
		h.alarm.timer.Stop()
	}
}
