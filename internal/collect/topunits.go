package collect

import (
	"time"

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
		if c.watch != nil {
			c.watch(c.watched())
		}
	}
	if len(c.g.top) == 0 {
		return nil
	}
	return c.g.top
}

// watched are the cgroups of the units the event sources watch: for now
// those of mem.top_units.
func (c *Collector) watched() []string {
	cgroups := make([]string, 0, len(c.g.top))
	for _, u := range c.g.top {
		if cg := c.sys.UnitCgroup(u.Unit, u.Scope); cg != "" {
			cgroups = append(cgroups, cg)
		}
	}
	return cgroups
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
