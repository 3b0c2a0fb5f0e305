package generations_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/generations"
	"github.com/lmn-heal/lmn/internal/record"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) record.Time { return record.Time{Time: t0.Add(d)} }

func gen(n int) generations.Generation {
	return generations.Generation{N: n, StorePath: "/nix/store/" + itoa(n) + "-nixos-system"}
}

// running returns a system of generations 1..5 running generation n.
func running(n int) generations.System {
	s := generations.System{Profile: "/nix/var/nix/profiles/system", Current: n, Running: gen(n).StorePath}
	for i := 1; i <= 5; i++ {
		s.Generations = append(s.Generations, gen(i))
	}
	return s
}

// The four rules, in the order lmn meets them: 5 breaks and lmn rolls
// back to 4; 5 is never a target again; 4 breaks too and lmn stops; a
// known-good mark on 4 after that lets it go on; a person's later switch
// back to 5 does not make lmn roll back from 5 a second time; and no more
// than max_per_day switches a day.
func TestCheckBounds(t *testing.T) {
	var r generations.Record
	now := t0
	if err := r.Check(running(5), gen(4), now, 2); err != nil {
		t.Fatalf("first rollback refused: %v", err)
	}
	r.NoteRollback(running(5), gen(4), now)
	if e, ok := r.Rejection(gen(5).StorePath); !ok || e.Generation != 5 || !strings.Contains(e.Reason, "rolled back to generation 4") {
		t.Fatalf("5 not rejected: %+v", r)
	}

	now = t0.Add(time.Hour)
	err := r.Check(running(4), gen(5), now, 2)
	if !errors.Is(err, generations.ErrRejected) || !strings.Contains(err.Error(), "generation 5") {
		t.Errorf("to a rejected generation: %v", err)
	}
	err = r.Check(running(4), gen(3), now, 2)
	if !errors.Is(err, generations.ErrBound) || !strings.Contains(err.Error(), "where lmn rolled back to") {
		t.Errorf("onward from the rollback's target: %v", err)
	}
	r.MarkGood(gen(4), now)
	if err := r.Check(running(4), gen(3), now.Add(time.Minute), 2); err != nil {
		t.Errorf("4 was known good since the rollback: %v", err)
	}

	// A person switches back to 5 by hand; it breaks again.
	err = r.Check(running(5), gen(4), now, 2)
	if !errors.Is(err, generations.ErrBound) || !strings.Contains(err.Error(), "once already") {
		t.Errorf("a second rollback from 5: %v", err)
	}

	r.NoteRollback(running(3), gen(2), now)
	err = r.Check(running(1), gen(2), now.Add(time.Minute), 2)
	if !errors.Is(err, generations.ErrBound) || !strings.Contains(err.Error(), "2 automatic switches in the last 24h") {
		t.Errorf("the daily bound: %v", err)
	}
	if err := r.Check(running(1), gen(2), t0.Add(24*time.Hour+time.Second), 2); err != nil {
		t.Errorf("a day after the first switch one more is allowed: %v", err)
	}
	if err := r.Check(running(1), gen(2), t0, 0); !errors.Is(err, generations.ErrBound) {
		t.Errorf("max_per_day 0 allows no switch: %v", err)
	}
}

func TestVouch(t *testing.T) {
	var r generations.Record
	r.NoteRollback(running(5), gen(4), t0)
	if !r.Vouch(gen(5)) || len(r.Rejected) != 0 {
		t.Errorf("vouched for 5: %+v", r.Rejected)
	}
	if r.Vouch(gen(5)) {
		t.Error("vouched twice")
	}
	if len(r.Rollbacks) != 1 {
		t.Error("vouching forgot the rollback: the once-per-system bound must hold")
	}
}

func TestPolicyValidate(t *testing.T) {
	if err := generations.DefaultPolicy().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []generations.Policy{{Record: "relative.json"}, {MaxPerDay: -1}, {MaxPerDay: 25}} {
		if err := p.Validate(); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}
