package collect

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
)

// Event sources, as --events names them.
const (
	SourceUnit  = "unit"  // the service manager's signals: a unit entering or leaving failed, a service leaving active unexpectedly
	SourcePSI   = "psi"   // pressure stall triggers, the machine's and the watched units'
	SourceLink  = "link"  // rtnetlink: a link's state or carrier, a default route
	SourceOOM   = "oom"   // OOM kills in the watched units' cgroups
	SourceProbe = "probe" // a probe's result that fails or changes its verdict
)

// Sources lists every event source, in the order they are set up.
var Sources = []string{SourceUnit, SourcePSI, SourceLink, SourceOOM, SourceProbe}

// A sample's trigger: what woke the collector.
const (
	TriggerTick  = "tick"
	TriggerUnit  = "unit"
	TriggerPSI   = "psi"
	TriggerLink  = "link"
	TriggerRoute = "route"
	TriggerOOM   = "oom"
	TriggerProbe = "probe"
)

// triggers are the event triggers, in the order one is chosen to stamp a
// sample when several fired since the last one: the one most likely to
// need action first.
var triggers = []string{TriggerUnit, TriggerOOM, TriggerProbe, TriggerLink, TriggerRoute, TriggerPSI}

// ParseEvents reads --events: "all", "none" or a comma-separated list of
// Sources. The result is in the order of Sources, without repeats.
func ParseEvents(s string) ([]string, error) {
	switch s {
	case "all":
		return slices.Clone(Sources), nil
	case "none":
		return []string{}, nil
	}
	var out []string
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(Sources, name) {
			return nil, fmt.Errorf("unknown event source %q: want all, none or a list of %s", name, strings.Join(Sources, ", "))
		}
		out = append(out, name)
	}
	slices.SortFunc(out, func(a, b string) int { return slices.Index(Sources, a) - slices.Index(Sources, b) })
	return slices.Compact(out), nil
}

// Wake gathers the events that fired since the last sample. Sources call
// Fire from their own goroutines; it never blocks, and any number of
// events between two samples wake the loop once.
type Wake struct {
	c     chan struct{}
	fired atomic.Uint32 // a bit per entry of triggers
}

// NewWake returns a Wake with nothing fired.
func NewWake() *Wake { return &Wake{c: make(chan struct{}, 1)} }

// Fire records that trigger (one of the event triggers) fired.
func (w *Wake) Fire(trigger string) {
	i := slices.Index(triggers, trigger)
	if i < 0 {
		panic("collect: Fire with unknown trigger " + trigger)
	}
	w.fired.Or(1 << i)
	select {
	case w.c <- struct{}{}:
	default:
	}
}

// take returns the trigger to stamp on a sample for the events fired
// since the last take, and forgets them; "" when none fired.
func (w *Wake) take() string {
	bits := w.fired.Swap(0)
	for i, t := range triggers {
		if bits&(1<<i) != 0 {
			return t
		}
	}
	return ""
}
