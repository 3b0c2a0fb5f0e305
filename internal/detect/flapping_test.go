package detect

import (
	"testing"
	"time"
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
		"12:10:00 disk / resolved warning", // 5m after the last change at 12:05
		"12:11:00 disk / firing warning",   // old transitions have left the window
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
