package collect

import (
	"time"

	"github.com/lmn-heal/lmn/internal/proc"
)

// counters are the cumulative values rates are computed from.
type counters struct {
	at    time.Time
	stat  proc.Stat
	vm    proc.VMStat
	disks []proc.DiskStat
	nets  []proc.NetDev
	// Which reads worked.
	statOK, vmOK, disksOK, netsOK bool
}

func (c *Collector) readCounters(k *counters) {
	var err error
	k.stat, err = c.proc.Stat()
	k.statOK = c.warn.check("cpu", err)
	k.vmOK = false // swap rates are left at zero without vmstat
	if c.haveSwap {
		k.vm, err = c.proc.VMStat()
		k.vmOK = err == nil
	}
	k.disks, err = c.proc.Diskstats(k.disks[:0])
	k.disksOK = len(k.disks) > 0 || err == nil
	c.warn.check("disks.devices", err)
	k.nets, err = c.proc.NetDev(k.nets[:0])
	k.netsOK = len(k.nets) > 0 || err == nil
	c.warn.check("net", err)
	k.at = c.cfg.Now()
}

// delta is cur-prev, or 0 when a counter went backwards (a reset or a
// re-created device): a wrong zero for one sample beats a huge spike.
func delta(cur, prev uint64) uint64 {
	if cur < prev {
		return 0
	}
	return cur - prev
}

// perS is a counter's rate over dt seconds.
func perS(cur, prev uint64, dt float64) float64 {
	if dt <= 0 {
		return 0
	}
	return float64(delta(cur, prev)) / dt
}

// ratio is part/whole clamped to [0, 1]; 0 when whole is 0.
func ratio(part, whole float64) float64 {
	if whole <= 0 || part <= 0 {
		return 0
	}
	if part >= whole {
		return 1
	}
	return part / whole
}

// findDisk returns prev's entry for name; hint is where it usually is.
func findDisk(prev []proc.DiskStat, name string, hint int) (proc.DiskStat, bool) {
	if hint < len(prev) && prev[hint].Name == name {
		return prev[hint], true
	}
	for _, d := range prev {
		if d.Name == name {
			return d, true
		}
	}
	return proc.DiskStat{}, false
}

func findNet(prev []proc.NetDev, name string, hint int) (proc.NetDev, bool) {
	if hint < len(prev) && prev[hint].Name == name {
		return prev[hint], true
	}
	for _, d := range prev {
		if d.Name == name {
			return d, true
		}
	}
	return proc.NetDev{}, false
}
