package alertmanager

import "time"

// Dedupe remembers the alerts delivered, so that the same alert arriving
// from two Alertmanager peers, again on a retry, or on every repeat
// interval gives one issue record per change of state. An alert is known by
// its labels (what its fingerprint hashes) and one episode of it by its
// startsAt: Prometheus sends the same startsAt to every peer, and a new
// startsAt means the alert fired anew.
//
// It is not safe for concurrent use.
type Dedupe struct {
	seen map[string]*episode // by issue id
	// Max bounds the alerts remembered; past it the least recently seen
	// is forgotten (a repeat of it is then a new record of the same id,
	// which lmn-heal takes as no change).
	Max int
	// Retain is how long an alert is remembered after it resolved, so
	// that late deliveries of the same episode stay duplicates.
	Retain time.Duration
}

type episode struct {
	startsAt time.Time
	resolved bool
	last     time.Time // when it was last delivered
}

// Verdicts of Judge.
type Verdict int

const (
	// Fresh: a change of state to write as an issue record.
	Fresh Verdict = iota
	// Duplicate: this state of this episode was delivered before.
	Duplicate
	// Stale: a delivery about an older episode than the one known.
	Stale
)

func (v Verdict) String() string {
	return [...]string{"fresh", "duplicate", "stale"}[v]
}

// NewDedupe returns an empty Dedupe remembering up to 16384 alerts, and
// resolved ones for an hour.
func NewDedupe() *Dedupe {
	return &Dedupe{seen: map[string]*episode{}, Max: 16384, Retain: time.Hour}
}

// Judge says whether alert a, known as id, changes anything. It changes
// nothing itself: Commit does, once the record is safely queued.
func (d *Dedupe) Judge(id string, a Alert) Verdict {
	e := d.seen[id]
	if e == nil {
		return Fresh
	}
	switch {
	case a.StartsAt.Before(e.startsAt):
		return Stale
	case a.StartsAt.After(e.startsAt):
		return Fresh
	}
	// The same episode: a firing after its resolve is a late delivery.
	if a.Status == StatusFiring || e.resolved {
		return Duplicate
	}
	return Fresh
}

// Seen marks a duplicate as delivered again at now, so it is remembered.
func (d *Dedupe) Seen(id string, now time.Time) {
	if e := d.seen[id]; e != nil {
		e.last = now
	}
}

// Commit records alert a, known as id, as delivered at now.
func (d *Dedupe) Commit(id string, a Alert, now time.Time) {
	e := d.seen[id]
	if e == nil {
		d.makeRoom(now)
		e = &episode{}
		d.seen[id] = e
	}
	e.startsAt, e.resolved, e.last = a.StartsAt, a.Status == StatusResolved, now
}

// Len is the number of alerts remembered.
func (d *Dedupe) Len() int { return len(d.seen) }

// makeRoom forgets resolved alerts past Retain and, at Max, the least
// recently delivered one.
func (d *Dedupe) makeRoom(now time.Time) {
	if len(d.seen) < d.Max {
		return
	}
	var oldest string
	for id, e := range d.seen {
		if e.resolved && now.Sub(e.last) > d.Retain {
			delete(d.seen, id)
			continue
		}
		if oldest == "" || e.last.Before(d.seen[oldest].last) {
			oldest = id
		}
	}
	if len(d.seen) >= d.Max && oldest != "" {
		delete(d.seen, oldest)
	}
}
