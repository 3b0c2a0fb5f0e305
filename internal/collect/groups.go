package collect

import (
	"runtime"

	"github.com/lmn-heal/lmn/internal/proc"
	"github.com/lmn-heal/lmn/internal/record"
)

// cpu is the CPU time shares over the delta. Guest time is inside user.
func (c *Collector) cpu(dt float64) *record.CPU {
	if !c.cur.statOK || !c.prev.statOK {
		return nil
	}
	p, n := c.prev.stat.CPU, c.cur.stat.CPU
	total := float64(delta(n.Total(), p.Total()))
	idle := float64(delta(n.Idle, p.Idle) + delta(n.IOWait, p.IOWait))
	g := &c.g.cpu
	*g = record.CPU{
		Count:       c.cur.stat.CPUs,
		BusyRatio:   ratio(total-idle, total),
		UserRatio:   ratio(float64(delta(n.User, p.User)+delta(n.Nice, p.Nice)), total),
		SystemRatio: ratio(float64(delta(n.System, p.System)+delta(n.IRQ, p.IRQ)+delta(n.SoftIRQ, p.SoftIRQ)), total),
		IOWaitRatio: ratio(float64(delta(n.IOWait, p.IOWait)), total),
		StealRatio:  ratio(float64(delta(n.Steal, p.Steal)), total),
	}
	return g
}

// mem is the mem and swap groups; swap is present whenever meminfo is,
// with zero totals on a machine without swap.
func (c *Collector) mem(dt float64) (*record.Mem, *record.Swap) {
	m, err := c.proc.Meminfo()
	if !c.warn.check("mem", err) {
		return nil, nil
	}
	avail := m.MemAvailable
	if !m.HasAvailable { // kernels before 3.14
		avail = m.MemFree + m.Buffers + m.Cached
	}
	g := &c.g.mem
	*g = record.Mem{
		TotalBytes:     m.MemTotal,
		AvailableBytes: avail,
		FreeBytes:      m.MemFree,
		CachedBytes:    m.Cached,
		AvailableRatio: ratio(float64(avail), float64(m.MemTotal)),
		TopUnits:       c.topUnits(),
	}
	g.Units = c.memUnits()
	c.haveSwap = m.SwapTotal > 0
	sw := &c.g.swap
	*sw = record.Swap{
		TotalBytes: m.SwapTotal,
		FreeBytes:  m.SwapFree,
		UsedRatio:  ratio(float64(delta(m.SwapTotal, m.SwapFree)), float64(m.SwapTotal)),
	}
	if c.cur.vmOK && c.prev.vmOK {
		sw.InPerS = perS(c.cur.vm.PswpIn, c.prev.vm.PswpIn, dt)
		sw.OutPerS = perS(c.cur.vm.PswpOut, c.prev.vm.PswpOut, dt)
	}
	return g, sw
}

func (c *Collector) load() *record.Load {
	l, err := c.proc.Loadavg()
	if !c.warn.check("load", err) {
		return nil
	}
	cpus := c.cur.stat.CPUs
	if cpus <= 0 {
		cpus = runtime.NumCPU()
	}
	g := &c.g.load
	*g = record.Load{
		Load1: l.Load1, Load5: l.Load5, Load15: l.Load15,
		Load1Per: l.Load1 / float64(cpus),
		Runnable: l.Runnable, Processes: l.Processes,
	}
	return g
}

// pressure is the psi group: a resource whose file is missing is nil, and
// the group is nil when all are (kernels without CONFIG_PSI, or psi=0).
func (c *Collector) pressure() *record.PSI {
	g := &c.g.psi
	*g = record.PSI{}
	dst := [3]**record.Pressure{&g.CPU, &g.Memory, &g.IO}
	found := false
	var firstErr error
	for i := range proc.PressureResources {
		p, err := c.proc.Pressure(i)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		r := &c.g.press[i]
		*r = record.Pressure{}
		if p.HasSome {
			r.Some = c.pressureLine(2*i, p.Some)
		}
		if p.HasFull {
			r.Full = c.pressureLine(2*i+1, p.Full)
		}
		*dst[i] = r
		found = true
	}
	c.warn.check("psi", firstErr)
	if !found {
		return nil
	}
	return g
}

func (c *Collector) pressureLine(slot int, p proc.PressureLine) *record.PressureLine {
	l := &c.g.lines[slot]
	*l = record.PressureLine{
		Avg10Ratio:   p.Avg10,
		Avg60Ratio:   p.Avg60,
		Avg300Ratio:  p.Avg300,
		TotalSeconds: float64(p.Total) / 1e6,
	}
	return l
}
