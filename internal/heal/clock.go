package heal

import (
	"container/heap"
	"fmt"
	"time"
)

// The engine's clock is the machine's time as the stream carries it: the
// latest ts of the samples and issues read. Start records (each stage's
// own start, stamped when it started: today, in a replay of last month)
// and heal records do not move it, so a recorded day replays as it ran.
// It only moves forward, and a record far from the others' time does not
// move it at all.
//
// A deadline (a verification window, a breaker's backoff or retry) that
// falls between two records is met at its own time: the clock steps to
// it, and what it starts is stamped with it, whether a live pipe woke for
// it (Advance) or, replaying a file, the next record took the clock past
// it. So a replay gives the heal records of the live run, and a live pipe
// with a 30 s tick acts at a backoff's end, not at the next sample. Only
// deadlines within maxJump of the latest record are stepped to; later
// ones are met at the record that reaches them.
const (
	// maxAhead is how far past the machine's own clock a record's time
	// may be.
	maxAhead = time.Hour
	// maxJump is the largest step one record moves the clock mid-stream
	// at once, unless this machine's clock moved as much since the record
	// before (a live pipe after a suspend, or a sparse stream); a larger
	// one is believed once the next record confirms it.
	maxJump = 10 * time.Minute
)

// ClockError says a record was used but its time was not, and why.
type ClockError struct {
	Line  int
	TS    time.Time
	Clock time.Time // the engine's clock then
	Why   string
}

func (e *ClockError) Error() string {
	return fmt.Sprintf("line %d: ts %s does not move the clock (at %s): %s",
		e.Line, e.TS.UTC().Format(time.RFC3339), e.Clock.UTC().Format(time.RFC3339), e.Why)
}

// jump is a far step forward waiting for the next record.
type jump struct {
	ts   time.Time
	line int
}

// clock moves the clock to ts, the time of a sample or issue on line, if
// that is believable. It returns a *ClockError for a record whose time is
// refused: ts itself, or the held jump that ts does not confirm.
func (e *Engine) clock(ts time.Time, line int) error {
	defer func() { e.recordNow = e.now }()
	if e.cfg.Wall == nil {
		e.moveTo(ts)
		e.started = true
		return nil
	}
	wall := e.cfg.Wall()
	if ts.After(wall.Add(maxAhead)) {
		e.skewed++
		return &ClockError{Line: line, TS: ts, Clock: e.now,
			Why: fmt.Sprintf("more than %s ahead of this machine's clock (%s)", maxAhead, wall.UTC().Format(time.RFC3339))}
	}
	defer func() { e.lastWall = wall }()
	var refused error
	if held := e.jump; !held.ts.IsZero() {
		e.jump = jump{}
		if d := ts.Sub(held.ts); d > -maxJump && d < maxJump {
			e.moveTo(held.ts)
			e.moveTo(ts)
			return nil
		}
		e.skewed++
		refused = &ClockError{Line: held.line, TS: held.ts, Clock: e.now,
			Why: fmt.Sprintf("more than %s ahead of the records before and after it", maxJump)}
	}
	if !e.started {
		// The first record of a run may be far from the saved state's
		// time: a collector run by a timer after the machine was off.
		e.started = true
		e.setNow(ts)
		return refused
	}
	if step := ts.Sub(e.now); step > maxJump && wall.Sub(e.lastWall) < step-maxJump {
		e.jump = jump{ts: ts, line: line}
		return refused
	}
	e.moveTo(ts)
	return refused
}

// moveTo moves the clock to t, a record's time, meeting on the way the
// deadlines before it (catchUp). A deadline at the record's very time is
// met after the record: what the record says counts within the window.
func (e *Engine) moveTo(t time.Time) {
	e.catchUp(t.Add(-1))
	e.setNow(t)
}

// catchUp steps the clock to each deadline due by t, in order, and
// advances what waited for it, as long as the deadline is within maxJump
// of the latest record's time. Before the first record of a run nothing
// is stepped to: deadlines from a saved state are met at that record.
func (e *Engine) catchUp(t time.Time) {
	if !e.started {
		return
	}
	limit := e.recordNow.Add(maxJump)
	for {
		at, ok := e.nextTimer()
		if !ok || at.After(t) || at.After(limit) {
			return
		}
		if !at.After(e.now) {
			// Due already (set since the last tick): one tick takes it,
			// and anything it sets for now; never loop on the same time.
			e.tick()
			if at2, ok := e.nextTimer(); ok && !at2.After(e.now) {
				return
			}
			continue
		}
		e.setNow(at)
		e.tick()
	}
}

// nextTimer returns the time of the earliest live timer, dropping the
// stale ones on top of the heap.
func (e *Engine) nextTimer() (time.Time, bool) {
	for len(e.timers) > 0 {
		if e.timers[0].live() {
			return e.timers[0].at, true
		}
		heap.Pop(&e.timers)
	}
	return time.Time{}, false
}

// Next returns the earliest deadline a live pipe should wake for when no
// record comes first: a timer within maxJump of the latest record's time.
// false when there is none, or before the first record of the run.
func (e *Engine) Next() (time.Time, bool) {
	if !e.started {
		return time.Time{}, false
	}
	at, ok := e.nextTimer()
	if !ok || at.After(e.recordNow.Add(maxJump)) {
		return time.Time{}, false
	}
	return at, true
}

// RecordTime returns the clock as the latest sample or issue left it.
func (e *Engine) RecordTime() time.Time { return e.recordNow }

// Advance is a live pipe's clock between records: now is the latest
// record's time plus the time since it was read. The deadlines due by now
// are met at their own times (catchUp); the clock does not move past the
// last of them, so the next record, or a replay, finds it where a record
// would have.
func (e *Engine) Advance(now time.Time) { e.catchUp(now) }

func (e *Engine) setNow(t time.Time) {
	if t.After(e.now) {
		e.now = t
		e.st.Now = t
	}
}

// Skewed returns how many records' times were refused.
func (e *Engine) Skewed() int { return e.skewed }

// RepairError says a saved state's clock was far in the future and was
// moved back; the state is used.
type RepairError struct {
	Saved, Now time.Time
}

func (e *RepairError) Error() string {
	return fmt.Sprintf("state: its clock %s is more than %s ahead of this machine's (%s): its times were moved back by %s",
		e.Saved.UTC().Format(time.RFC3339), maxAhead, e.Now.UTC().Format(time.RFC3339), e.Saved.Sub(e.Now).Round(time.Second))
}

// repairClock moves every time of st later than wall+maxAhead back by as
// much as st.Now is ahead of wall, so the intervals between them (a
// breaker's cool-down, a verification window) keep their length.
func repairClock(st *state, wall time.Time) error {
	limit := wall.Add(maxAhead)
	if !st.Now.After(limit) {
		return nil
	}
	shift := st.Now.Sub(wall)
	fix := func(t *time.Time) {
		if t.After(limit) {
			*t = t.Add(-shift)
		}
	}
	saved := st.Now
	fix(&st.Now)
	for _, t := range st.Issues {
		fix(&t.Deadline)
		fix(&t.Since)
		fix(&t.FailedAt)
	}
	for _, b := range st.Breakers {
		for i := range b.Attempts {
			fix(&b.Attempts[i])
		}
		fix(&b.Last)
		fix(&b.RetryAt)
		fix(&b.Healed)
	}
	for i := range st.Budget {
		fix(&st.Budget[i])
	}
	for _, s := range st.Saved {
		fix(&s.RestoreAt)
	}
	return &RepairError{Saved: saved, Now: wall}
}
