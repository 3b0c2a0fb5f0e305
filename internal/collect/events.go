package collect

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/oom"
	"github.com/lmn-heal/lmn/internal/probe"
	"github.com/lmn-heal/lmn/internal/psi"
	"github.com/lmn-heal/lmn/internal/rtnetlink"
	"github.com/lmn-heal/lmn/internal/sysfs"
)

// The pressure triggers: each fires when tasks stall for this share of
// the window, the level of the rule it serves (docs/rules.md), within the
// shortest window the process may use at or above the one given
// (psi.Window: 2 s for memory without CAP_SYS_RESOURCE, 1 s with it).
// CPU and IO pressure rules hold for minutes, so their triggers use the
// longest window and fire at most every 10 s while the pressure lasts.
var (
	memoryTrigger = pressureTrigger{"memory", false, 0.10, time.Second}     // mem_pressure: some avg60 > 10 %
	cpuTrigger    = pressureTrigger{"cpu", false, 0.50, psi.MaxWindow}      // cpu_pressure: some ≥ 50 %
	ioTrigger     = pressureTrigger{"io", true, 0.20, psi.MaxWindow}        // io_pressure: full ≥ 20 %
	unitTrigger   = pressureTrigger{"memory", false, 0.10, time.Second}     // each watched unit's memory.pressure
	hostTriggers  = []pressureTrigger{memoryTrigger, cpuTrigger, ioTrigger} // of /proc/pressure
)

type pressureTrigger struct {
	resource string
	full     bool
	ratio    float64
	window   time.Duration
}

func (p pressureTrigger) on(path string, privileged bool) psi.Trigger {
	return psi.Ratio(path, p.full, p.ratio, p.window, privileged)
}

// Events are the running event sources of one collector: what a tick
// would find late, they report at once through a Wake.
type Events struct {
	c      *Collector
	wake   *Wake
	active []string

	psi        *psi.Watcher
	privileged bool
	host       []psi.Trigger
	oom        *oom.Watcher
	link       *rtnetlink.Listener
	linkDone   chan error
	unified    string // the cgroup2 tree, "" without one
	memoryV1   string // the v1 memory controller's tree, "" without one
}

// StartEvents sets up the event sources named (see Sources) for c, before
// its first sample. A source that cannot be set up is left to the tick,
// with one line on stderr saying why; Active lists those that work.
func StartEvents(ctx context.Context, c *Collector, names []string, wake *Wake) *Events {
	e := &Events{c: c, wake: wake, privileged: psi.Privileged()}
	e.unified, e.memoryV1 = cgroupTrees(c.cfg.SysRoot)
	for _, name := range names {
		var err error
		switch name {
		case SourceUnit:
			err = c.units.subscribe(ctx, func() { wake.Fire(TriggerUnit) })
		case SourcePSI:
			err = e.startPSI()
		case SourceLink:
			err = e.startLink()
		case SourceOOM:
			err = e.startOOM()
		case SourceProbe:
			err = e.startProbe()
		default:
			err = errors.New("unknown event source")
		}
		switch {
		case errors.Is(err, errUnitsNone), errors.Is(err, errNoProbes):
			c.cfg.Log.Info("event source off", "source", name, "err", err)
			continue
		case err != nil:
			c.cfg.Log.Warn("event source unavailable: the tick covers what it would report", "source", name, "err", err)
			continue
		}
		e.active = append(e.active, name)
	}
	if e.psi != nil || e.oom != nil {
		c.watch = e.watch
	}
	return e
}

// Active lists the sources that work, in the order of Sources; never nil.
func (e *Events) Active() []string {
	if e.active == nil {
		return []string{}
	}
	return e.active
}

// Close stops every source.
func (e *Events) Close() error {
	var errs []error
	if e.psi != nil {
		errs = append(errs, e.psi.Close())
	}
	if e.oom != nil {
		errs = append(errs, e.oom.Close())
	}
	if e.link != nil {
		errs = append(errs, e.link.Close(), <-e.linkDone)
	}
	return errors.Join(errs...)
}

// cgroupTrees finds the cgroup2 tree (the whole of fs/cgroup in unified
// mode, fs/cgroup/unified on a hybrid host) and the v1 memory
// controller's tree under the sysfs root.
func cgroupTrees(sys string) (unified, memoryV1 string) {
	base := filepath.Join(sys, "fs", "cgroup")
	for _, d := range []string{base, filepath.Join(base, "unified")} {
		if exists(filepath.Join(d, "cgroup.controllers")) {
			unified = d
			break
		}
	}
	if d := filepath.Join(base, "memory"); exists(filepath.Join(d, "memory.oom_control")) {
		memoryV1 = d
	}
	return unified, memoryV1
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func (e *Events) startPSI() error {
	w, err := psi.New(func(psi.Trigger) { e.wake.Fire(TriggerPSI) })
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range hostTriggers {
		t := p.on(filepath.Join(e.c.cfg.ProcRoot, "pressure", p.resource), e.privileged)
		if err := w.Arm(t); err != nil {
			errs = append(errs, err)
			continue
		}
		e.host = append(e.host, t)
	}
	if len(e.host) == 0 && e.unified == "" {
		w.Close()
		return errors.Join(errs...)
	}
	if len(errs) > 0 { // the units' triggers may still work
		e.c.cfg.Log.Warn("pressure triggers left to the tick", "source", SourcePSI, "err", errors.Join(errs...))
	}
	e.psi = w
	return nil
}

func (e *Events) startLink() error {
	l, err := rtnetlink.Listen()
	if err != nil {
		return err
	}
	e.link, e.linkDone = l, make(chan error, 1)
	go func() {
		e.linkDone <- l.Run(func(ch rtnetlink.Change) {
			if ch.Kind == rtnetlink.Route {
				e.wake.Fire(TriggerRoute)
				return
			}
			e.wake.Fire(TriggerLink) // a link, or lost messages
		})
	}()
	return nil
}

func (e *Events) startOOM() error {
	if e.memoryV1 == "" && !hasMemoryController(e.unified) {
		return errors.New("no memory controller in the cgroup trees")
	}
	w, err := oom.New(func(string) { e.wake.Fire(TriggerOOM) })
	if err != nil {
		return err
	}
	e.oom = w
	return nil
}

// errNoProbes: the probe source has nothing to follow.
var errNoProbes = errors.New("no --probes: no probe to follow")

// startProbe wakes a sample when a probe's result fails or changes its
// verdict (a failure, or the first success after failures): a probe_failed
// rule counts failed checks, and a failing service should not wait for the
// tick to be seen, nor one that answers again to be seen healed. A steady
// success needs no sample of its own.
func (e *Events) startProbe() error {
	if e.c.scheduler == nil {
		return errNoProbes
	}
	e.c.scheduler.Notify(func(r probe.Result) {
		if !r.OK || r.Streak == 1 {
			e.wake.Fire(TriggerProbe)
		}
	})
	return nil
}

func hasMemoryController(unified string) bool {
	b, err := os.ReadFile(filepath.Join(unified, "cgroup.controllers"))
	return err == nil && strings.Contains(" "+strings.TrimSpace(string(b))+" ", " memory ")
}

// watch takes the watched units' cgroups (sysfs.UnitCgroup: the top
// units and the units probes speak for) at each rescan: their
// memory.pressure gets a trigger, their memory.events (v2) or
// memory.oom_control (v1) a watch. It runs on the collector's goroutine,
// from Sample.
func (e *Events) watch(cgroups []sysfs.UnitCgroup) {
	if e.psi != nil {
		ts := append([]psi.Trigger(nil), e.host...)
		for _, cg := range cgroups {
			if p := cg.Pressure(); p != "" && exists(p) {
				ts = append(ts, unitTrigger.on(p, e.privileged))
			}
		}
		e.c.warn.check("events: psi of units", e.psi.Set(ts))
	}
	if e.oom != nil {
		var dirs []string
		for _, cg := range cgroups {
			if f := cg.Events(); f != "" && exists(f) {
				dirs = append(dirs, filepath.Dir(f))
			}
		}
		e.c.warn.check("events: oom of units", e.oom.Set(dirs))
	}
}
