package detect

import "github.com/lmn-heal/lmn/internal/record"

// The fields of record.Sample, by JSON key, for DecodeSample. A field added
// to record.Sample and missing here is skipped by the fast path, which
// FuzzDecodeSample and TestDecodeSampleMatchesJSON catch.

func (d *sampleDecoder) sample(s *record.Sample) error {
	return d.object(func(k []byte) error {
		switch string(k) {
		case "kind":
			return d.string(&s.Kind)
		case "v":
			return d.int(&s.V)
		case "ts":
			return d.time(&s.TS)
		case "host":
			return d.string(&s.Host)
		case "src":
			return d.string(&s.Src)
		case "seq":
			return d.uint(&s.Seq)
		case "interval_seconds":
			return d.float(&s.IntervalSeconds)
		case "trigger":
			return d.string(&s.Trigger)
		case "cpu":
			return decodeGroup(d, &s.CPU, slot(d.a, (*arena).cpuSlot), d.cpu)
		case "mem":
			return decodeGroup(d, &s.Mem, slot(d.a, (*arena).memSlot), d.mem)
		case "swap":
			return decodeGroup(d, &s.Swap, slot(d.a, (*arena).swapSlot), d.swap)
		case "load":
			return decodeGroup(d, &s.Load, slot(d.a, (*arena).loadSlot), d.load)
		case "psi":
			return decodeGroup(d, &s.PSI, slot(d.a, (*arena).psiSlot), d.psi)
		case "disks":
			return decodeGroup(d, &s.Disks, slot(d.a, (*arena).disksSlot), d.disks)
		case "net":
			return decodeGroup(d, &s.Net, slot(d.a, (*arena).netSlot), d.net)
		case "units":
			return decodeGroup(d, &s.Units, slot(d.a, (*arena).unitsSlot), d.units)
		case "temps":
			return decodeGroup(d, &s.Temps, slot(d.a, (*arena).tempsSlot), d.temps)
		case "nix":
			return decodeGroup(d, &s.Nix, slot(d.a, (*arena).nixSlot), d.nix)
		}
		return d.skip(k)
	})
}

func (d *sampleDecoder) cpu(c *record.CPU, k []byte) error {
	switch string(k) {
	case "count":
		return d.intF(fCPUCount, &c.Count)
	case "busy_ratio":
		return d.floatF(fCPUBusy, &c.BusyRatio)
	case "user_ratio":
		return d.floatF(fCPUUser, &c.UserRatio)
	case "system_ratio":
		return d.floatF(fCPUSystem, &c.SystemRatio)
	case "iowait_ratio":
		return d.floatF(fCPUIOWait, &c.IOWaitRatio)
	case "steal_ratio":
		return d.floatF(fCPUSteal, &c.StealRatio)
	}
	return d.skip(k)
}

func (d *sampleDecoder) mem(m *record.Mem, k []byte) error {
	switch string(k) {
	case "total_bytes":
		return d.uintF(fMemTotal, &m.TotalBytes)
	case "available_bytes":
		return d.uintF(fMemAvailable, &m.AvailableBytes)
	case "free_bytes":
		return d.uintF(fMemFree, &m.FreeBytes)
	case "cached_bytes":
		return d.uintF(fMemCached, &m.CachedBytes)
	case "available_ratio":
		return d.floatF(fMemAvailableRatio, &m.AvailableRatio)
	case "top_units":
		return decodeList(d, &m.TopUnits, listSlot(d.a, (*arena).topList), d.topUnit)
	}
	return d.skip(k)
}

func (d *sampleDecoder) topUnit(u *record.UnitMemory, k []byte) error {
	switch string(k) {
	case "unit":
		return d.stringF(fTopUnitName, &u.Unit)
	case "scope":
		return d.stringF(fTopUnitName, &u.Scope)
	case "memory_bytes":
		return d.uintF(fTopUnitMemory, &u.MemoryBytes)
	}
	return d.skip(k)
}

func (d *sampleDecoder) swap(s *record.Swap, k []byte) error {
	switch string(k) {
	case "total_bytes":
		return d.uintF(fSwapTotal, &s.TotalBytes)
	case "free_bytes":
		return d.uintF(fSwapFree, &s.FreeBytes)
	case "used_ratio":
		return d.floatF(fSwapUsedRatio, &s.UsedRatio)
	case "in_pages_per_s":
		return d.floatF(fSwapIn, &s.InPerS)
	case "out_pages_per_s":
		return d.floatF(fSwapOut, &s.OutPerS)
	}
	return d.skip(k)
}

func (d *sampleDecoder) load(l *record.Load, k []byte) error {
	switch string(k) {
	case "load1":
		return d.floatF(fLoad1, &l.Load1)
	case "load5":
		return d.floatF(fLoad5, &l.Load5)
	case "load15":
		return d.floatF(fLoad15, &l.Load15)
	case "load1_per_cpu":
		return d.floatF(fLoad1Per, &l.Load1Per)
	case "runnable":
		return d.intF(fLoadRunnable, &l.Runnable)
	case "processes":
		return d.intF(fLoadProcesses, &l.Processes)
	}
	return d.skip(k)
}

func (d *sampleDecoder) psi(p *record.PSI, k []byte) error {
	switch string(k) {
	case "cpu":
		return d.pressureOf(&p.CPU, 0)
	case "memory":
		return d.pressureOf(&p.Memory, 1)
	case "io":
		return d.pressureOf(&p.IO, 2)
	}
	return d.skip(k)
}

// pressureOf decodes the pressure of resource r (0 cpu, 1 memory, 2 io).
func (d *sampleDecoder) pressureOf(p **record.Pressure, r int) error {
	base := fPSI + field(r*8)
	var spare *record.Pressure
	var some, full *record.PressureLine
	if d.a != nil {
		spare, some, full = &d.a.pressure[r], &d.a.lines[2*r], &d.a.lines[2*r+1]
	}
	return decodeGroup(d, p, spare, func(p *record.Pressure, k []byte) error {
		switch string(k) {
		case "some":
			return decodeGroup(d, &p.Some, some, func(l *record.PressureLine, k []byte) error {
				return d.pressureLine(l, k, base)
			})
		case "full":
			return decodeGroup(d, &p.Full, full, func(l *record.PressureLine, k []byte) error {
				return d.pressureLine(l, k, base+4)
			})
		}
		return d.skip(k)
	})
}

func (d *sampleDecoder) pressureLine(l *record.PressureLine, k []byte, base field) error {
	switch string(k) {
	case "avg10_ratio":
		return d.floatF(base, &l.Avg10Ratio)
	case "avg60_ratio":
		return d.floatF(base+1, &l.Avg60Ratio)
	case "avg300_ratio":
		return d.floatF(base+2, &l.Avg300Ratio)
	case "total_seconds":
		return d.floatF(base+3, &l.TotalSeconds)
	}
	return d.skip(k)
}

func (d *sampleDecoder) disks(g *record.Disks, k []byte) error {
	switch string(k) {
	case "mounts":
		return decodeList(d, &g.Mounts, listSlot(d.a, (*arena).mountList), d.mount)
	case "devices":
		return decodeList(d, &g.Devices, listSlot(d.a, (*arena).deviceList), d.device)
	}
	return d.skip(k)
}

func (d *sampleDecoder) mount(m *record.Mount, k []byte) error {
	switch string(k) {
	case "mount":
		return d.stringF(fMountName, &m.Mount)
	case "device":
		return d.stringF(fMountName, &m.Device)
	case "fstype":
		return d.stringF(fMountName, &m.FSType)
	case "size_bytes":
		return d.uintF(fMountSize, &m.SizeBytes)
	case "avail_bytes":
		return d.uintF(fMountAvail, &m.AvailBytes)
	case "used_ratio":
		return d.floatF(fMountUsedRatio, &m.UsedRatio)
	case "inodes":
		return d.uintF(fMountInodes, &m.Inodes)
	case "inodes_free":
		return d.uintF(fMountInodesFree, &m.InodesFree)
	case "inodes_used_ratio":
		return d.floatF(fMountInodesUsedRatio, &m.InodesUsedRatio)
	case "read_only":
		return d.boolF(fMountReadOnly, &m.ReadOnly)
	case "holds_nix_store":
		return d.boolF(fMountHoldsNixStore, &m.HoldsNixStore)
	case "holds_var_log":
		return d.boolF(fMountHoldsVarLog, &m.HoldsVarLog)
	}
	return d.skip(k)
}

func (d *sampleDecoder) device(b *record.BlockDevice, k []byte) error {
	switch string(k) {
	case "device":
		return d.stringF(fDeviceName, &b.Device)
	case "read_bytes_per_s":
		return d.floatF(fDeviceReadBytes, &b.ReadBytesPerS)
	case "write_bytes_per_s":
		return d.floatF(fDeviceWriteBytes, &b.WriteBytesPerS)
	case "reads_per_s":
		return d.floatF(fDeviceReads, &b.ReadsPerS)
	case "writes_per_s":
		return d.floatF(fDeviceWrites, &b.WritesPerS)
	case "busy_ratio":
		return d.floatF(fDeviceBusy, &b.BusyRatio)
	}
	return d.skip(k)
}

func (d *sampleDecoder) net(n *record.Net, k []byte) error {
	switch string(k) {
	case "default_route":
		return d.boolF(fNetDefaultRoute, &n.DefaultRoute)
	case "interfaces":
		return decodeList(d, &n.Interfaces, listSlot(d.a, (*arena).ifaceList), d.iface)
	}
	return d.skip(k)
}

func (d *sampleDecoder) iface(n *record.Interface, k []byte) error {
	switch string(k) {
	case "name":
		return d.stringF(fIfaceName, &n.Name)
	case "up":
		return d.boolF(fIfaceUp, &n.Up)
	case "operstate":
		return d.stringF(fIfaceName, &n.OperState)
	case "rx_bytes_per_s":
		return d.floatF(fIfaceRxBytes, &n.RxBytesPerS)
	case "tx_bytes_per_s":
		return d.floatF(fIfaceTxBytes, &n.TxBytesPerS)
	case "rx_packets_per_s":
		return d.floatF(fIfaceRxPackets, &n.RxPacketsPerS)
	case "tx_packets_per_s":
		return d.floatF(fIfaceTxPackets, &n.TxPacketsPerS)
	case "rx_errors_per_s":
		return d.floatF(fIfaceRxErrors, &n.RxErrorsPerS)
	case "tx_errors_per_s":
		return d.floatF(fIfaceTxErrors, &n.TxErrorsPerS)
	case "rx_drops_per_s":
		return d.floatF(fIfaceRxDrops, &n.RxDropsPerS)
	case "tx_drops_per_s":
		return d.floatF(fIfaceTxDrops, &n.TxDropsPerS)
	}
	return d.skip(k)
}

func (d *sampleDecoder) units(u *record.Units, k []byte) error {
	switch string(k) {
	case "scope":
		return d.string(&u.Scope)
	case "failed":
		return decodeList(d, &u.Failed, listSlot(d.a, (*arena).failedList), d.unit)
	}
	return d.skip(k)
}

func (d *sampleDecoder) unit(u *record.Unit, k []byte) error {
	switch string(k) {
	case "unit":
		return d.string(&u.Unit)
	case "load":
		return d.string(&u.Load)
	case "active":
		return d.string(&u.Active)
	case "sub":
		return d.string(&u.Sub)
	case "description":
		return d.string(&u.Description)
	}
	return d.skip(k)
}

func (d *sampleDecoder) temps(t *record.Temps, k []byte) error {
	if string(k) == "sensors" {
		return decodeList(d, &t.Sensors, listSlot(d.a, (*arena).sensorList), d.sensor)
	}
	return d.skip(k)
}

func (d *sampleDecoder) sensor(s *record.Sensor, k []byte) error {
	switch string(k) {
	case "sensor":
		return d.stringF(fSensorName, &s.Sensor)
	case "label":
		return d.stringF(fSensorName, &s.Label)
	case "celsius":
		return d.floatF(fSensorCelsius, &s.Celsius)
	case "high_celsius":
		return d.optFloatF(fSensorHigh, &s.HighCelsius)
	case "crit_celsius":
		return d.optFloatF(fSensorCrit, &s.CritCelsius)
	}
	return d.skip(k)
}

func (d *sampleDecoder) optFloat(p **float64) error {
	if d.null() {
		*p = nil
		return nil
	}
	if *p == nil {
		*p = new(float64)
	}
	return d.float(*p)
}

func (d *sampleDecoder) nix(n *record.Nix, k []byte) error {
	switch string(k) {
	case "system_generation":
		return d.intF(fNixSystemGeneration, &n.SystemGeneration)
	case "generations":
		return d.intF(fNixGenerations, &n.Generations)
	}
	return d.skip(k)
}
