package heal

import (
	"fmt"
	"math"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
)

// Destructive actions (the catalogue's word: action.Spec.Destructive)
// delete what cannot be put back. lmn-heal runs one only on a strong
// signal: the issue is about a mount that the latest sample shows at least
// destructive.min_used_ratio full, in bytes or inodes, and it has held for
// destructive.min_firing. A trend alone, however steep, never qualifies: a
// short extrapolation is a warning, not a reason to delete.
//
// A step holding a destructive action that the signal does not yet allow
// is held back: the ladder goes on without it and ends in advice that
// says so, and it is taken up again, from the first step held, with the
// first sample that makes the signal strong.

// destructive reports whether the catalogue calls name destructive.
func destructive(name string) bool {
	s, ok := action.Lookup(name)
	return ok && s.Destructive
}

// stepDestructive returns the first destructive action of step, or "".
func stepDestructive(s Step) string {
	for _, a := range s.Actions {
		if destructive(a.Action) {
			return a.Action
		}
	}
	return ""
}

// strong reports whether t's signal allows a destructive action now, and
// if not, why not.
func (e *Engine) strong(t *tracked) (bool, string) {
	d := e.cfg.Policy.Destructive
	m := t.Subject["mount"]
	if m == "" {
		return false, "destructive actions answer only a filesystem that is nearly full, and this issue names none"
	}
	e.sampleFacts()
	f, ok := e.fills[m]
	if !ok {
		return false, fmt.Sprintf("the stream gives no fill level of %s", action.Quote(m))
	}
	if used := math.Max(f.used, f.inodes); used < d.MinUsedRatio {
		return false, fmt.Sprintf("%s is %s full and destructive actions need %s", action.Quote(m), percent(used), percent(d.MinUsedRatio))
	}
	if held, need := e.now.Sub(t.Since), d.MinFiring.D(); held < need {
		return false, fmt.Sprintf("the issue has held for %s and destructive actions need %s", held.Round(time.Second), need)
	}
	return true, ""
}

func percent(r float64) string {
	return fmt.Sprintf("%.4g%%", math.Round(r*1000)/10)
}

// recheckHeld takes up held-back steps whose signal is strong now. It runs
// for each sample, over the held issues only.
func (e *Engine) recheckHeld() {
	for _, t := range e.heldList() {
		if t.Phase != phaseDone || !t.Deadline.IsZero() {
			continue
		}
		if ok, _ := e.strong(t); !ok {
			continue
		}
		delete(e.held, t.ID)
		t.Step, t.Act, t.Held, t.Notes = t.Held-1, 0, 0, nil
		t.Phase = phaseReady
		e.queue(t)
	}
}

// heldList returns the held issues in the order they were tracked.
func (e *Engine) heldList() []*tracked {
	if len(e.held) == 0 {
		return nil
	}
	out := make([]*tracked, 0, len(e.held))
	for id := range e.held {
		if t := e.issues[id]; t != nil {
			out = append(out, t)
		}
	}
	sortTracked(out)
	return out
}
