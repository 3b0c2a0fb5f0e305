package privd

import "time"

// resetWindow is how long after lmn-privd reset a unit's failed state a
// restart of it still has that premise: lmn-heal's unit_failed ladder
// resets and restarts in one step.
const resetWindow = 10 * time.Minute

// resets are the targets ("unit:NAME") whose failed state lmn-privd
// reset, by this process or another on the same log, and when; the next
// restart of the target uses it up. Guarded by the audit lock.
type resets map[string]time.Time

func (r resets) absorb(e Entry) {
	switch {
	case e.Event == EventResult && e.Action == "reset_failed_unit" && e.Outcome == "ok":
		r[e.Target] = e.TS.Time
	case e.Event == EventIntent && e.Action == "restart_unit":
		delete(r, e.Target)
	}
}

// recent reports whether target was reset within resetWindow of now, and
// forgets resets older than that.
func (r resets) recent(target string, now time.Time) bool {
	for t, at := range r {
		if now.Sub(at) > resetWindow || at.After(now.Add(resetWindow)) {
			delete(r, t)
		}
	}
	_, ok := r[target]
	return ok
}
