package detect

import (
	"fmt"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

func TestFlapping(t *testing.T) {
	e := NewEngine(rulesOf(t, `{"name":"disk","kind":"threshold","metric":"disks.mounts[].used_ratio",
		"warning":0.9,"clear":0.8,"flapping":{"transitions":3,"window":"10m"}}`))
	var got []string
	i := 0
	step := func(v float64) {
		got = append(got, feed(e, withMount(at(time.Duration(i)*time.Minute), "/", v))...)
		i++
	}
	for _, v := range []float64{0.95, 0.5, 0.95, 0.5, 0.95, 0.5} {
		step(v)
	}
	// Quiet (below clear) for the 10m window: held until then.
	for range 10 {
		step(0.5)
	}
	equalTrace(t, got, []string{
		"12:00:00 disk / firing warning",
		"12:01:00 disk / resolved warning",
		"12:02:00 disk / firing warning",
		"12:03:00 disk / firing warning flapping", // 4th transition in 10m
		"12:04:00 disk / firing warning flapping", // back while held: a new failure
		"12:15:00 disk / resolved warning",        // held through 12:04-12:05; quiet 10m after
	})
}

func TestFlappingHeldThroughNewFires(t *testing.T) {
	e := NewEngine(rulesOf(t, `{"name":"disk","kind":"threshold","metric":"disks.mounts[].used_ratio",
		"warning":0.9,"clear":0.8,"flapping":{"transitions":2,"window":"5m"}}`))
	var got []string
	vals := []float64{0.95, 0.5, 0.95, 0.5, 0.95, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.95}
	for i, v := range vals {
		got = append(got, feed(e, withMount(at(time.Duration(i)*time.Minute), "/", v))...)
	}
	equalTrace(t, got, []string{
		"12:00:00 disk / firing warning",
		"12:01:00 disk / resolved warning",
		"12:02:00 disk / firing warning flapping",
		"12:04:00 disk / firing warning flapping", // back while held
		"12:10:00 disk / resolved warning",        // 5m after the last change at 12:05
		"12:11:00 disk / firing warning",          // old transitions have left the window
	})
}

func TestFlappingOff(t *testing.T) {
	e := NewEngine(rulesOf(t, `{"name":"disk","kind":"threshold","metric":"disks.mounts[].used_ratio",
		"warning":0.9,"clear":0.8,"flapping":{"transitions":0,"window":"5m"}}`))
	var got []string
	for i, v := range []float64{0.95, 0.5, 0.95, 0.5, 0.95, 0.5, 0.95, 0.5} {
		got = append(got, feed(e, withMount(at(time.Duration(i)*time.Minute), "/", v))...)
	}
	if len(got) != 8 {
		t.Errorf("want 8 plain fire/resolve records, got %v", got)
	}
}

// TestFlappingHoldWritesEachReturn: while held, each return of the
// condition is written firing with its own since, so lmn-heal sees a unit
// that failed again during the hold; repeats of one failure are not.
func TestFlappingHoldWritesEachReturn(t *testing.T) {
	e := NewEngine(rulesOf(t, `{"name":"disk","kind":"threshold","metric":"disks.mounts[].used_ratio",
		"warning":0.9,"clear":0.8,"flapping":{"transitions":2,"window":"1h"}}`))
	var since []time.Time
	for i, v := range []float64{0.95, 0.5, 0.95, 0.5, 0.95, 0.95, 0.95, 0.5, 0.95} {
		for _, is := range e.Sample(withMount(at(time.Duration(i)*time.Minute), "/", v)) {
			if is.State == "firing" {
				since = append(since, is.Since.Time)
			}
		}
	}
	want := []time.Duration{0, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute}
	if len(since) != len(want) {
		t.Fatalf("firing records with since %v, want %v", since, want)
	}
	for i, w := range want {
		if !since[i].Equal(t0.Add(w)) {
			t.Errorf("firing record %d since %v, want %v", i, since[i], t0.Add(w))
		}
	}
}

// TestBuiltinUnitFailedFlapsAtTheThirdCycle holds docs/see-it-heal.md to
// the built-in unit_failed rule: a unit that failed and recovered three
// times within the hour is marked flapping at its third recovery (the
// sixth transition is more than the default 5), not after five cycles.
func TestBuiltinUnitFailedFlapsAtTheThirdCycle(t *testing.T) {
	e := NewEngine(Defaults())
	var got []string
	for i := range 8 {
		s := at(time.Duration(i) * time.Minute)
		s.Units = &record.Units{Scope: "user", Failed: []record.Unit{}}
		if i%2 == 0 {
			s.Units.Failed = []record.Unit{{Unit: "flaky.service", Load: "loaded", Active: "failed", Sub: "failed"}}
		}
		for _, l := range feed(e, s) {
			got = append(got, fmt.Sprintf("cycle %d: %s", i/2+1, l))
		}
	}
	equalTrace(t, got, []string{
		"cycle 1: 12:00:00 unit_failed user,flaky.service firing warning",
		"cycle 1: 12:01:00 unit_failed user,flaky.service resolved warning",
		"cycle 2: 12:02:00 unit_failed user,flaky.service firing warning",
		"cycle 2: 12:03:00 unit_failed user,flaky.service resolved warning",
		"cycle 3: 12:04:00 unit_failed user,flaky.service firing warning",
		"cycle 3: 12:05:00 unit_failed user,flaky.service firing warning flapping",
		"cycle 4: 12:06:00 unit_failed user,flaky.service firing warning flapping",
	})
}
