package collect

import (
	"slices"
	"time"

	"github.com/lmn-heal/lmn/internal/proc"
	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/sysfs"
)

// cgroupRescan is how often the services' cgroup directories are listed
// and their memory read. Memory pressure is judged over minutes, so the
// ranking may be 10 s old; reading every service's counter every sample
// would cost about 1 µs per service, doubling a sample on a machine with a
// hundred services.
const cgroupRescan = 10 * time.Second

// topUnitCount is how many services mem.top_units names.
const topUnitCount = 5

// topUnits is mem.top_units: the services using the most memory, largest
// first, or nil when no service cgroup can be read (no cgroup tree, no
// memory controller, a container), never an empty list. Between rescans it
// repeats the last ranking.
func (c *Collector) topUnits() []record.UnitMemory {
	if c.lastCgroupScan.IsZero() || c.cur.at.Sub(c.lastCgroupScan) >= cgroupRescan || c.cur.at.Before(c.lastCgroupScan) {
		c.sys.ScanUnitCgroups()
		c.lastCgroupScan = c.cur.at
		var err error
		c.g.unitMem, err = c.sys.UnitMemory(c.g.unitMem[:0])
		c.warn.check("mem.top_units", err)
		c.g.top = largest(c.g.top[:0], c.g.unitMem, topUnitCount)
		c.watchUnits()
		if c.watch != nil {
			c.g.watchCgs = c.sys.WatchedCgroups(c.g.watchCgs[:0])
			c.watch(c.g.watchCgs)
		}
	}
	if len(c.g.top) == 0 {
		return nil
	}
	return c.g.top
}

// largest appends to dst the n largest of all, largest first; ties go by
// unit name, then scope, so samples are stable. It is an insertion into a
// short list: n is small and a sort of every service would cost more.
func largest(dst []record.UnitMemory, all []sysfs.UnitMem, n int) []record.UnitMemory {
	for _, u := range all {
		i := len(dst)
		for i > 0 && before(u, dst[i-1]) {
			i--
		}
		if i >= n {
			continue
		}
		if len(dst) < n {
			dst = append(dst, record.UnitMemory{})
		}
		copy(dst[i+1:], dst[i:len(dst)-1])
		dst[i] = record.UnitMemory{Unit: u.Unit, Scope: u.Scope, MemoryBytes: u.Bytes}
	}
	return dst
}

// before reports whether u ranks above r.
func before(u sysfs.UnitMem, r record.UnitMemory) bool {
	if u.Bytes != r.MemoryBytes {
		return u.Bytes > r.MemoryBytes
	}
	if u.Unit != r.Unit {
		return u.Unit < r.Unit
	}
	return u.Scope < r.Scope
}

// watchUnits tells the sysfs reader which units' own cgroups to read
// closely (use, limit, OOM kills, pressure): the ranked ones and every unit
// a probe speaks for. It runs at each rescan, so a unit started since is
// found within cgroupRescan. What the host's cgroup layout cannot give is
// said once.
func (c *Collector) watchUnits() {
	ids := c.g.watchIDs[:0]
	for _, u := range c.g.top {
		ids = append(ids, sysfs.UnitID{Unit: u.Unit, Scope: u.Scope})
	}
	for _, id := range c.cfg.WatchUnits {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	c.g.watchIDs = ids
	c.sys.Watch(ids)
	if !c.caveatSaid {
		c.caveatSaid = true
		if msg := c.sys.CgroupCaveat(); msg != "" {
			c.cfg.Log.Info("per-unit cgroup figures are limited on this host", "detail", msg)
		}
	}
}

// unitResources reads the watched units' own cgroups, every sample.
func (c *Collector) unitResources() []sysfs.UnitResources {
	var err error
	c.g.unitRes, err = c.sys.UnitResources(c.g.unitRes[:0])
	c.warn.check("mem.units", err)
	return c.g.unitRes
}

// unitValues holds what one mem.units entry points to, reused between
// samples.
type unitValues struct {
	current, max, oom uint64
	ratio             float64
	pressure          record.Pressure
	lines             [2]record.PressureLine
}

// memUnits is mem.units: the watched units' own cgroups, read every
// sample from kept-open files, or nil when none can be read. A value the
// host's layout cannot give is left out (docs/probes.md).
func (c *Collector) memUnits() []record.UnitResources {
	res := c.unitResources()
	if len(res) == 0 {
		return nil
	}
	if cap(c.g.unitVals) < len(res) {
		c.g.unitVals = make([]unitValues, len(res))
	}
	vals := c.g.unitVals[:len(res)]
	out := c.g.units[:0]
	for i, r := range res {
		v := &vals[i]
		u := record.UnitResources{Unit: r.Unit, Scope: r.Scope}
		if r.HasCurrent {
			v.current = r.CurrentBytes
			u.MemoryBytes = &v.current
		}
		if r.HasMax {
			v.max = r.MaxBytes
			u.MaxBytes = &v.max
		}
		if r.HasCurrent && r.HasMax && r.MaxBytes > 0 {
			v.ratio = float64(r.CurrentBytes) / float64(r.MaxBytes)
			u.MaxUsedRatio = &v.ratio
		}
		if r.HasOOMKills {
			v.oom = r.OOMKills
			u.OOMKills = &v.oom
		}
		if r.HasPressure {
			u.Pressure = unitPressure(v, r.Pressure)
		}
		out = append(out, u)
	}
	c.g.units = out
	return out
}

func unitPressure(v *unitValues, p proc.Pressure) *record.Pressure {
	v.pressure = record.Pressure{}
	line := func(l *record.PressureLine, p proc.PressureLine) *record.PressureLine {
		*l = record.PressureLine{Avg10Ratio: p.Avg10, Avg60Ratio: p.Avg60, Avg300Ratio: p.Avg300, TotalSeconds: float64(p.Total) / 1e6}
		return l
	}
	if p.HasSome {
		v.pressure.Some = line(&v.lines[0], p.Some)
	}
	if p.HasFull {
		v.pressure.Full = line(&v.lines[1], p.Full)
	}
	return &v.pressure
}

// UnitCgroups appends where the watched units' cgroups are (as of the
// last rescan) to dst, for readers of the same files: PSI triggers on
// their memory.pressure, inotify on their memory.events.
func (c *Collector) UnitCgroups(dst []sysfs.UnitCgroup) []sysfs.UnitCgroup {
	return c.sys.WatchedCgroups(dst)
}
