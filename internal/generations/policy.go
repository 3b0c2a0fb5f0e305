package generations

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/lmn-heal/lmn/internal/config"
	"github.com/lmn-heal/lmn/internal/record"
)

// Policy is where the record is kept and how far lmn may go by itself.
type Policy struct {
	// Record is the record's file; "" means there is none, and
	// switch_generation refuses (only lmn-privd keeps one).
	Record string `json:"record"`
	// MaxPerDay bounds lmn's automatic switches in any 24 hours.
	MaxPerDay int `json:"max_per_day"`
}

// DefaultRecord is where lmn-privd keeps the record: its StateDirectory.
const DefaultRecord = "/var/lib/luminous-privd/generations.json"

// DefaultPolicy is lmn-privd's: the record in its state directory, at most
// two automatic switches a day.
func DefaultPolicy() Policy { return Policy{Record: DefaultRecord, MaxPerDay: 2} }

// Validate checks p as a configuration.
func (p Policy) Validate() error {
	if p.Record != "" && !filepath.IsAbs(p.Record) {
		return config.Errorf("record", "%q is not an absolute path", p.Record)
	}
	if p.MaxPerDay < 0 || p.MaxPerDay > 24 {
		return config.Errorf("max_per_day", "%d not in 0..24 (0: never switch by itself)", p.MaxPerDay)
	}
	return nil
}

// Errors Check wraps; callers branch with errors.Is.
var (
	// ErrRejected: the target is a system lmn rolled back from.
	ErrRejected = errors.New("rejected generation")
	// ErrBound: a bound on automatic switches holds.
	ErrBound = errors.New("automatic switch bound reached")
)

// day is the window of MaxPerDay.
const day = 24 * time.Hour

// Check says why lmn may not switch by itself from the running system to
// generation to at now, or nil. Four rules, so a switch never ping-pongs
// and never repeats:
//   - never to a rejected system;
//   - at most one automatic rollback from any one system;
//   - never onward from a system lmn rolled back to, unless it was known
//     good since: if the older generation is unhealthy too, a person decides;
//   - at most maxPerDay automatic switches in any 24 hours.
func (r Record) Check(sys System, to Generation, now time.Time, maxPerDay int) error {
	if e, ok := r.Rejection(to.StorePath); ok {
		return fmt.Errorf("%w: generation %d (%s) was rejected at %s: %s", ErrRejected, to.N, to.StorePath, stamp(e.At), e.Reason)
	}
	var lastTo *Rollback
	recent := 0
	for i := range r.Rollbacks {
		rb := &r.Rollbacks[i]
		if rb.From.StorePath == sys.Running {
			return fmt.Errorf("%w: lmn rolled back from this system (%s) once already, at %s: never twice", ErrBound, sys.Running, stamp(rb.At))
		}
		if rb.To.StorePath == sys.Running {
			lastTo = rb
		}
		if now.Sub(rb.At.Time) < day {
			recent++
		}
	}
	if lastTo != nil && !r.goodSince(sys.Running, lastTo.At.Time) {
		return fmt.Errorf("%w: this system (%s) is where lmn rolled back to at %s, and it is judged unhealthy too: a person decides", ErrBound, sys.Running, stamp(lastTo.At))
	}
	if recent >= maxPerDay {
		return fmt.Errorf("%w: %d automatic switches in the last 24h (max_per_day %d)", ErrBound, recent, maxPerDay)
	}
	return nil
}

func (r Record) goodSince(storePath string, t time.Time) bool {
	k := r.KnownGood
	return k != nil && k.StorePath == storePath && k.At.After(t)
}

func stamp(t record.Time) string { return t.UTC().Format(time.RFC3339) }

// NoteRollback records an automatic switch from the running system to
// generation to, and rejects the running system.
func (r *Record) NoteRollback(sys System, to Generation, now time.Time) {
	from := Ref{Generation: sys.RunningGeneration(), StorePath: sys.Running}
	r.Rollbacks = append(r.Rollbacks, Rollback{At: record.Time{Time: now}, From: from,
		To: Ref{Generation: to.N, StorePath: to.StorePath}})
	if _, ok := r.Rejection(sys.Running); !ok {
		r.Rejected = append(r.Rejected, Rejection{Generation: from.Generation, StorePath: from.StorePath,
			At: record.Time{Time: now}, Reason: fmt.Sprintf("judged unhealthy; lmn rolled back to generation %d", to.N)})
	}
}

// Vouch removes the rejection of g: a person switched to it on purpose.
// It reports whether g was rejected.
func (r *Record) Vouch(g Generation) bool {
	n := len(r.Rejected)
	r.Rejected = slices.DeleteFunc(r.Rejected, func(e Rejection) bool { return e.StorePath == g.StorePath })
	return len(r.Rejected) != n
}

// MarkGood makes g the last known-good generation.
func (r *Record) MarkGood(g Generation, now time.Time) {
	r.KnownGood = &Mark{Generation: g.N, StorePath: g.StorePath, At: record.Time{Time: now}}
}
