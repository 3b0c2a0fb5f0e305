package alertmanager

import (
	"testing"
	"time"
)

func TestDedupe(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	firing := Alert{Status: StatusFiring, StartsAt: t0}
	resolved := Alert{Status: StatusResolved, StartsAt: t0}
	again := Alert{Status: StatusFiring, StartsAt: t0.Add(time.Hour)}
	older := Alert{Status: StatusFiring, StartsAt: t0.Add(-time.Hour)}
	d := NewDedupe()
	steps := []struct {
		what string
		a    Alert
		want Verdict
	}{
		{"first delivery", firing, Fresh},
		{"the second peer", firing, Duplicate},
		{"a retry", firing, Duplicate},
		{"resolved", resolved, Fresh},
		{"resolved from the second peer", resolved, Duplicate},
		{"a late firing of the same episode", firing, Duplicate},
		{"an older episode", older, Stale},
		{"fired anew", again, Fresh},
		{"fired anew, second peer", again, Duplicate},
		{"resolved of the old episode", resolved, Stale},
	}
	for i, s := range steps {
		now := t0.Add(time.Duration(i) * time.Second)
		got := d.Judge("id", s.a)
		if got != s.want {
			t.Fatalf("step %d (%s): %v; want %v", i, s.what, got, s.want)
		}
		if got == Fresh {
			d.Commit("id", s.a, now)
		}
	}
	// A resolved alert never seen firing (lmn-detect restarted) resolves.
	if v := d.Judge("other", resolved); v != Fresh {
		t.Errorf("unknown resolved: %v", v)
	}
}

func TestDedupeBounded(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	d := NewDedupe()
	d.Max, d.Retain = 3, time.Minute
	a := Alert{Status: StatusFiring, StartsAt: t0}
	d.Commit("a", a, t0)
	d.Commit("b", a, t0.Add(time.Second))
	d.Commit("c", Alert{Status: StatusResolved, StartsAt: t0}, t0.Add(2*time.Second))
	d.Seen("a", t0.Add(3*time.Second)) // a repeat keeps a remembered
	d.Commit("d", a, t0.Add(4*time.Second))
	if d.Len() != 3 || d.Judge("b", a) != Fresh || d.Judge("a", a) != Duplicate {
		t.Errorf("at Max the least recently seen (b) goes: len %d, b %v, a %v", d.Len(), d.Judge("b", a), d.Judge("a", a))
	}
	// Past Retain, resolved alerts go first, whatever their age order.
	d.Commit("e", Alert{Status: StatusResolved, StartsAt: t0}, t0.Add(5*time.Second))
	later := t0.Add(10 * time.Minute)
	d.Seen("a", later)
	d.Seen("d", later)
	d.Commit("f", a, later)
	if d.Judge("e", a) != Fresh || d.Judge("a", a) != Duplicate || d.Judge("d", a) != Duplicate || d.Judge("f", a) != Duplicate {
		t.Errorf("resolved e past Retain should have made room: len %d", d.Len())
	}
}
