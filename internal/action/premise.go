package action

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/lmn-heal/lmn/internal/proc"
	"github.com/lmn-heal/lmn/internal/sysfs"
)

// Premise is what lmn-privd checks itself before restart_unit, instead of
// trusting the client's word that the unit needs it: a forged issue on
// lmn-heal's input must not be enough to restart nix-daemon.service. A
// unit may be restarted when the service manager says it failed, or when
// one of these says so:
type Premise struct {
	// RestartActive are globs of units that may be restarted while they
	// are not failed (a service known to hang while active).
	RestartActive []string `json:"restart_active"`
	// ProbeUnits are the units lmn-collect's probes check (the NixOS
	// module fills them): a failing probe is a premise lmn-privd cannot
	// see itself, so it takes the client's word for these units only.
	ProbeUnits []string `json:"probe_units"`
	// Memory is the premise of {{top_memory_unit}}.
	Memory MemoryPremise `json:"memory"`
	// ResetByBroker are units whose failed state lmn-privd itself has just
	// reset (reset_failed_unit, as the second step of lmn-heal's
	// unit_failed ladder does before it restarts): such a unit, inactive
	// now, may be restarted once. Filled per request by lmn-privd.
	ResetByBroker []string `json:"-"`
}

// MemoryPremise lets a unit that is not failed be restarted for memory
// pressure when lmn-privd sees the pressure and the unit's size itself:
// MemAvailable below AvailableBelowRatio of MemTotal, and the unit one of
// the Top largest system services the unit policy allows, by their
// cgroups' memory as lmn-collect counts it (internal/sysfs). Top 0 turns
// the premise off.
//
// A unit's own cgroup is a premise too, read by lmn-privd itself: a unit
// using at least UnitLimitRatio of its own memory limit (memory.current /
// memory.max, MemoryMax=), or whose tasks stall on memory at least
// UnitPressure of the time (its memory.pressure some avg10), may be
// restarted gracefully before the kernel's OOM killer acts. 0 turns each
// off.
type MemoryPremise struct {
	Top                 int     `json:"top"`
	AvailableBelowRatio float64 `json:"available_below_ratio"`
	UnitLimitRatio      float64 `json:"unit_limit_ratio"`
	UnitPressure        float64 `json:"unit_pressure"`
}

// DefaultPremise has no listed units and the memory premises on: one of
// the 3 largest services while less than 15 % of memory is available
// (lmn-detect's mem_pressure fires below 10 %; a little slack for what
// was freed between its sample and the request), and a unit at 85 % of
// its own limit or stalling 15 % of the time on memory inside it
// (lmn-detect's unit_memory_near_limit fires at 90 %, unit_memory_pressure
// at 20 %, each held 30 s).
func DefaultPremise() Premise {
	return Premise{RestartActive: []string{}, ProbeUnits: []string{},
		Memory: MemoryPremise{Top: 3, AvailableBelowRatio: 0.15, UnitLimitRatio: 0.85, UnitPressure: 0.15}}
}

// Validate checks the globs and the memory bounds.
func (p Premise) Validate() error {
	for _, list := range [][]string{p.RestartActive, p.ProbeUnits} {
		for _, pat := range list {
			if _, err := path.Match(pat, ""); err != nil {
				return fmt.Errorf("pattern %q: %w", pat, err)
			}
		}
	}
	if p.Memory.Top < 0 || p.Memory.Top > 100 {
		return fmt.Errorf("memory.top %d not in 0..100", p.Memory.Top)
	}
	for name, v := range map[string]float64{"memory.available_below_ratio": p.Memory.AvailableBelowRatio,
		"memory.unit_limit_ratio": p.Memory.UnitLimitRatio, "memory.unit_pressure": p.Memory.UnitPressure} {
		if v < 0 || v > 1 {
			return fmt.Errorf("%s %v not in 0..1", name, v)
		}
	}
	return nil
}

// unitState is what the service manager says of a unit.
type unitState struct {
	names             []string
	loadState, active string
}

// showUnit asks the service manager for unit's names and states, in one
// `systemctl show`.
func showUnit(ctx context.Context, env Env, unit string) (unitState, error) {
	out, err := runCommand(ctx, env, with(env.Systemctl, "show", "--property=Names,LoadState,ActiveState", "--", unit))
	if err != nil {
		return unitState{}, fmt.Errorf("%w: cannot ask the service manager about %s: %w", ErrFailed, unit, err)
	}
	props := parseShow(out)
	return unitState{names: strings.Fields(props["Names"]), loadState: props["LoadState"], active: props["ActiveState"]}, nil
}

// parseShow parses `systemctl show` output: KEY=VALUE lines. Lines
// without '=' are skipped; a repeated key keeps its last value.
func parseShow(out string) map[string]string {
	props := map[string]string{}
	for line := range strings.Lines(out) {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\r\n"), "=")
		if ok && k != "" {
			props[k] = v
		}
	}
	return props
}

// checkPremise refuses to restart a unit that is not failed unless the
// premise names it or the memory premise holds.
func checkPremise(env Env, unit string, st unitState) error {
	p := env.Premise
	if st.active == "failed" || matchAny(p.RestartActive, unit) || matchAny(p.ProbeUnits, unit) {
		return nil
	}
	if st.active == "inactive" && st.loadState == "loaded" && slices.Contains(p.ResetByBroker, unit) {
		return nil
	}
	state := st.active
	if st.loadState != "loaded" {
		state += " (LoadState=" + st.loadState + ")"
	}
	why := p.Memory.check(env, unit)
	if why != nil {
		own := p.Memory.checkUnit(env, unit)
		if own == nil {
			why = nil
		} else {
			why = fmt.Errorf("%w; %w", why, own)
		}
	}
	if why == nil && st.loadState == "loaded" {
		return nil
	}
	if why == nil {
		why = fmt.Errorf("%w: it is not loaded", errNoMemoryPremise)
	}
	return fmt.Errorf("%w: %s is %s, not failed, and neither premise.restart_active nor premise.probe_units names it; as a memory fix: %w",
		ErrDenied, unit, state, why)
}

func matchAny(pats []string, name string) bool {
	for _, pat := range pats {
		if ok, _ := path.Match(pat, name); ok || pat == name {
			return true
		}
	}
	return false
}

var errNoMemoryPremise = errors.New("no memory premise")

// check reports why unit may not be restarted for memory pressure, or nil.
func (m MemoryPremise) check(env Env, unit string) error {
	if m.Top == 0 {
		return fmt.Errorf("%w: premise.memory.top is 0", errNoMemoryPremise)
	}
	pfs := proc.NewFS(env.ProcRoot)
	defer pfs.Close()
	mi, err := pfs.Meminfo()
	if err != nil || !mi.HasAvailable || mi.MemTotal == 0 {
		return fmt.Errorf("%w: cannot read MemAvailable (%v)", errNoMemoryPremise, err)
	}
	ratio := float64(mi.MemAvailable) / float64(mi.MemTotal)
	if ratio >= m.AvailableBelowRatio {
		return fmt.Errorf("%w: %.0f%% of memory is available, not below %.0f%%", errNoMemoryPremise, 100*ratio, 100*m.AvailableBelowRatio)
	}
	sfs := sysfs.NewFS(env.SysRoot)
	defer sfs.Close()
	sfs.ScanUnitCgroups()
	all, _ := sfs.UnitMemory(nil)
	all = slices.DeleteFunc(all, func(u sysfs.UnitMem) bool { return u.Scope != "system" || env.Units.Check(u.Unit) != nil })
	slices.SortFunc(all, func(a, b sysfs.UnitMem) int {
		if a.Bytes != b.Bytes {
			if a.Bytes > b.Bytes {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Unit, b.Unit)
	})
	if slices.ContainsFunc(all[:min(m.Top, len(all))], func(u sysfs.UnitMem) bool { return u.Unit == unit }) {
		return nil
	}
	return fmt.Errorf("%w: %s is not one of the %d largest allowed services (%.0f%% of memory available)", errNoMemoryPremise, unit, m.Top, 100*ratio)
}

// checkUnit reports why unit's own cgroup, as lmn-privd reads it (the
// system's services under system.slice), is no reason to restart it for
// memory, or nil when it is near its own limit or stalls on memory.
func (m MemoryPremise) checkUnit(env Env, unit string) error {
	if m.UnitLimitRatio == 0 && m.UnitPressure == 0 {
		return fmt.Errorf("%w: premise.memory.unit_limit_ratio and unit_pressure are 0", errNoMemoryPremise)
	}
	sfs := sysfs.NewFS(env.SysRoot).WithProc(env.ProcRoot)
	defer sfs.Close()
	sfs.ScanUnitCgroups()
	sfs.Watch([]sysfs.UnitID{{Unit: unit, Scope: "system"}})
	res, _ := sfs.UnitResources(nil)
	if len(res) != 1 {
		return fmt.Errorf("%w: %s has no cgroup lmn-privd can read", errNoMemoryPremise, unit)
	}
	r := res[0]
	var used, stall float64
	if r.HasCurrent && r.HasMax && r.MaxBytes > 0 {
		used = float64(r.CurrentBytes) / float64(r.MaxBytes)
		if m.UnitLimitRatio > 0 && used >= m.UnitLimitRatio {
			return nil
		}
	}
	if r.HasPressure && r.Pressure.HasSome {
		stall = r.Pressure.Some.Avg10
		if m.UnitPressure > 0 && stall >= m.UnitPressure {
			return nil
		}
	}
	limit := "no memory limit"
	if r.HasMax {
		limit = fmt.Sprintf("%.0f%% of its memory limit", 100*used)
	}
	return fmt.Errorf("%w: its own cgroup uses %s and stalls on memory %.0f%% of the time, below %.0f%% and %.0f%%",
		errNoMemoryPremise, limit, 100*stall, 100*m.UnitLimitRatio, 100*m.UnitPressure)
}
