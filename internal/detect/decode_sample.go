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
		case "cpu":
			return decodeGroup(d, &s.CPU, d.cpu)
		case "mem":
			return decodeGroup(d, &s.Mem, d.mem)
		case "swap":
			return decodeGroup(d, &s.Swap, d.swap)
		case "load":
			return decodeGroup(d, &s.Load, d.load)
		case "psi":
			return decodeGroup(d, &s.PSI, d.psi)
		case "disks":
			return decodeGroup(d, &s.Disks, d.disks)
		case "net":
			return decodeGroup(d, &s.Net, d.net)
		case "units":
			return decodeGroup(d, &s.Units, d.units)
		case "temps":
			return decodeGroup(d, &s.Temps, d.temps)
		case "nix":
			return decodeGroup(d, &s.Nix, d.nix)
		}
		return d.skip(k)
	})
}

func (d *sampleDecoder) cpu(c *record.CPU, k []byte) error {
	switch string(k) {
	case "count":
		return d.int(&c.Count)
	case "busy_ratio":
		return d.float(&c.BusyRatio)
	case "user_ratio":
		return d.float(&c.UserRatio)
	case "system_ratio":
		return d.float(&c.SystemRatio)
	case "iowait_ratio":
		return d.float(&c.IOWaitRatio)
	case "steal_ratio":
		return d.float(&c.StealRatio)
	}
	return d.skip(k)
}

func (d *sampleDecoder) mem(m *record.Mem, k []byte) error {
	switch string(k) {
	case "total_bytes":
		return d.uint(&m.TotalBytes)
	case "available_bytes":
		return d.uint(&m.AvailableBytes)
	case "free_bytes":
		return d.uint(&m.FreeBytes)
	case "cached_bytes":
		return d.uint(&m.CachedBytes)
	case "available_ratio":
		return d.float(&m.AvailableRatio)
	}
	return d.skip(k)
}

func (d *sampleDecoder) swap(s *record.Swap, k []byte) error {
	switch string(k) {
	case "total_bytes":
		return d.uint(&s.TotalBytes)
	case "free_bytes":
		return d.uint(&s.FreeBytes)
	case "used_ratio":
		return d.float(&s.UsedRatio)
	case "in_pages_per_s":
		return d.float(&s.InPerS)
	case "out_pages_per_s":
		return d.float(&s.OutPerS)
	}
	return d.skip(k)
}

func (d *sampleDecoder) load(l *record.Load, k []byte) error {
	switch string(k) {
	case "load1":
		return d.float(&l.Load1)
	case "load5":
		return d.float(&l.Load5)
	case "load15":
		return d.float(&l.Load15)
	case "load1_per_cpu":
		return d.float(&l.Load1Per)
	case "runnable":
		return d.int(&l.Runnable)
	case "processes":
		return d.int(&l.Processes)
	}
	return d.skip(k)
}

func (d *sampleDecoder) psi(p *record.PSI, k []byte) error {
	switch string(k) {
	case "cpu":
		return decodeGroup(d, &p.CPU, d.pressure)
	case "memory":
		return decodeGroup(d, &p.Memory, d.pressure)
	case "io":
		return decodeGroup(d, &p.IO, d.pressure)
	}
	return d.skip(k)
}

func (d *sampleDecoder) pressure(p *record.Pressure, k []byte) error {
	switch string(k) {
	case "some":
		return decodeGroup(d, &p.Some, d.pressureLine)
	case "full":
		return decodeGroup(d, &p.Full, d.pressureLine)
	}
	return d.skip(k)
}

func (d *sampleDecoder) pressureLine(l *record.PressureLine, k []byte) error {
	switch string(k) {
	case "avg10_ratio":
		return d.float(&l.Avg10Ratio)
	case "avg60_ratio":
		return d.float(&l.Avg60Ratio)
	case "avg300_ratio":
		return d.float(&l.Avg300Ratio)
	case "total_seconds":
		return d.float(&l.TotalSeconds)
	}
	return d.skip(k)
}

func (d *sampleDecoder) disks(g *record.Disks, k []byte) error {
	switch string(k) {
	case "mounts":
		return decodeList(d, &g.Mounts, d.mount)
	case "devices":
		return decodeList(d, &g.Devices, d.device)
	}
	return d.skip(k)
}

func (d *sampleDecoder) mount(m *record.Mount, k []byte) error {
	switch string(k) {
	case "mount":
		return d.string(&m.Mount)
	case "device":
		return d.string(&m.Device)
	case "fstype":
		return d.string(&m.FSType)
	case "size_bytes":
		return d.uint(&m.SizeBytes)
	case "avail_bytes":
		return d.uint(&m.AvailBytes)
	case "used_ratio":
		return d.float(&m.UsedRatio)
	case "inodes":
		return d.uint(&m.Inodes)
	case "inodes_free":
		return d.uint(&m.InodesFree)
	case "inodes_used_ratio":
		return d.float(&m.InodesUsedRatio)
	case "read_only":
		return d.bool(&m.ReadOnly)
	case "holds_nix_store":
		return d.bool(&m.HoldsNixStore)
	case "holds_var_log":
		return d.bool(&m.HoldsVarLog)
	}
	return d.skip(k)
}

func (d *sampleDecoder) device(b *record.BlockDevice, k []byte) error {
	switch string(k) {
	case "device":
		return d.string(&b.Device)
	case "read_bytes_per_s":
		return d.float(&b.ReadBytesPerS)
	case "write_bytes_per_s":
		return d.float(&b.WriteBytesPerS)
	case "reads_per_s":
		return d.float(&b.ReadsPerS)
	case "writes_per_s":
		return d.float(&b.WritesPerS)
	case "busy_ratio":
		return d.float(&b.BusyRatio)
	}
	return d.skip(k)
}

func (d *sampleDecoder) net(n *record.Net, k []byte) error {
	switch string(k) {
	case "default_route":
		return d.bool(&n.DefaultRoute)
	case "interfaces":
		return decodeList(d, &n.Interfaces, d.iface)
	}
	return d.skip(k)
}

func (d *sampleDecoder) iface(n *record.Interface, k []byte) error {
	switch string(k) {
	case "name":
		return d.string(&n.Name)
	case "up":
		return d.bool(&n.Up)
	case "operstate":
		return d.string(&n.OperState)
	case "rx_bytes_per_s":
		return d.float(&n.RxBytesPerS)
	case "tx_bytes_per_s":
		return d.float(&n.TxBytesPerS)
	case "rx_packets_per_s":
		return d.float(&n.RxPacketsPerS)
	case "tx_packets_per_s":
		return d.float(&n.TxPacketsPerS)
	case "rx_errors_per_s":
		return d.float(&n.RxErrorsPerS)
	case "tx_errors_per_s":
		return d.float(&n.TxErrorsPerS)
	case "rx_drops_per_s":
		return d.float(&n.RxDropsPerS)
	case "tx_drops_per_s":
		return d.float(&n.TxDropsPerS)
	}
	return d.skip(k)
}

func (d *sampleDecoder) units(u *record.Units, k []byte) error {
	switch string(k) {
	case "scope":
		return d.string(&u.Scope)
	case "failed":
		return decodeList(d, &u.Failed, d.unit)
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
		return decodeList(d, &t.Sensors, d.sensor)
	}
	return d.skip(k)
}

func (d *sampleDecoder) sensor(s *record.Sensor, k []byte) error {
	switch string(k) {
	case "sensor":
		return d.string(&s.Sensor)
	case "label":
		return d.string(&s.Label)
	case "celsius":
		return d.float(&s.Celsius)
	case "high_celsius":
		return d.optFloat(&s.HighCelsius)
	case "crit_celsius":
		return d.optFloat(&s.CritCelsius)
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
		return d.int(&n.SystemGeneration)
	case "generations":
		return d.int(&n.Generations)
	}
	return d.skip(k)
}
