package collect

import "github.com/lmn-heal/lmn/internal/record"

func (e *encoder) topUnits(us []record.UnitMemory) {
	e.b = append(e.b, `,"top_units":[`...)
	for i := range us {
		u := &us[i]
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = append(e.b, `{"unit":`...)
		e.str(u.Unit)
		e.b = append(e.b, `,"scope":`...)
		e.str(u.Scope)
		e.uint(`,"memory_bytes":`, u.MemoryBytes)
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, ']')
}

func (e *encoder) disks(g *record.Disks) {
	e.b = append(e.b, `,"disks":{`...)
	if len(g.Mounts) > 0 {
		e.b = append(e.b, `"mounts":[`...)
		for i := range g.Mounts {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.mount(&g.Mounts[i])
		}
		e.b = append(e.b, ']')
	}
	if len(g.Devices) > 0 {
		if len(g.Mounts) > 0 {
			e.b = append(e.b, ',')
		}
		e.b = append(e.b, `"devices":[`...)
		for i := range g.Devices {
			d := &g.Devices[i]
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.b = append(e.b, `{"device":`...)
			e.str(d.Device)
			e.num(`,"read_bytes_per_s":`, d.ReadBytesPerS)
			e.num(`,"write_bytes_per_s":`, d.WriteBytesPerS)
			e.num(`,"reads_per_s":`, d.ReadsPerS)
			e.num(`,"writes_per_s":`, d.WritesPerS)
			e.num(`,"busy_ratio":`, d.BusyRatio)
			e.b = append(e.b, '}')
		}
		e.b = append(e.b, ']')
	}
	e.b = append(e.b, '}')
}

func (e *encoder) mount(m *record.Mount) {
	e.b = append(e.b, `{"mount":`...)
	e.str(m.Mount)
	e.b = append(e.b, `,"device":`...)
	e.str(m.Device)
	e.b = append(e.b, `,"fstype":`...)
	e.str(m.FSType)
	e.uint(`,"size_bytes":`, m.SizeBytes)
	e.uint(`,"avail_bytes":`, m.AvailBytes)
	e.num(`,"used_ratio":`, m.UsedRatio)
	e.uint(`,"inodes":`, m.Inodes)
	e.uint(`,"inodes_free":`, m.InodesFree)
	e.num(`,"inodes_used_ratio":`, m.InodesUsedRatio)
	e.flag(`,"read_only":true`, m.ReadOnly)
	e.flag(`,"holds_nix_store":true`, m.HoldsNixStore)
	e.flag(`,"holds_var_log":true`, m.HoldsVarLog)
	e.b = append(e.b, '}')
}

func (e *encoder) flag(text string, v bool) {
	if v {
		e.b = append(e.b, text...)
	}
}

func (e *encoder) net(g *record.Net) {
	e.b = append(e.b, `,"net":{"default_route":`...)
	if g.DefaultRoute {
		e.b = append(e.b, "true"...)
	} else {
		e.b = append(e.b, "false"...)
	}
	if len(g.Interfaces) > 0 {
		e.b = append(e.b, `,"interfaces":[`...)
		for i := range g.Interfaces {
			f := &g.Interfaces[i]
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.b = append(e.b, `{"name":`...)
			e.str(f.Name)
			if f.Up {
				e.b = append(e.b, `,"up":true,"operstate":`...)
			} else {
				e.b = append(e.b, `,"up":false,"operstate":`...)
			}
			e.str(f.OperState)
			e.num(`,"rx_bytes_per_s":`, f.RxBytesPerS)
			e.num(`,"tx_bytes_per_s":`, f.TxBytesPerS)
			e.num(`,"rx_packets_per_s":`, f.RxPacketsPerS)
			e.num(`,"tx_packets_per_s":`, f.TxPacketsPerS)
			e.num(`,"rx_errors_per_s":`, f.RxErrorsPerS)
			e.num(`,"tx_errors_per_s":`, f.TxErrorsPerS)
			e.num(`,"rx_drops_per_s":`, f.RxDropsPerS)
			e.num(`,"tx_drops_per_s":`, f.TxDropsPerS)
			e.b = append(e.b, '}')
		}
		e.b = append(e.b, ']')
	}
	e.b = append(e.b, '}')
}

func (e *encoder) units(g *record.Units) {
	e.b = append(e.b, `,"units":{"scope":`...)
	e.str(g.Scope)
	e.b = append(e.b, `,"failed":`...)
	if g.Failed == nil {
		e.b = append(e.b, "null}"...)
		return
	}
	e.b = append(e.b, '[')
	for i := range g.Failed {
		u := &g.Failed[i]
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = append(e.b, `{"unit":`...)
		e.str(u.Unit)
		e.optStr(`,"load":`, u.Load)
		e.optStr(`,"active":`, u.Active)
		e.optStr(`,"sub":`, u.Sub)
		e.optStr(`,"description":`, u.Description)
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, "]}"...)
}

func (e *encoder) optStr(key, v string) {
	if v != "" {
		e.b = append(e.b, key...)
		e.str(v)
	}
}

func (e *encoder) temps(g *record.Temps) {
	e.b = append(e.b, `,"temps":{"sensors":`...)
	if g.Sensors == nil {
		e.b = append(e.b, "null}"...)
		return
	}
	e.b = append(e.b, '[')
	for i := range g.Sensors {
		s := &g.Sensors[i]
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = append(e.b, `{"sensor":`...)
		e.str(s.Sensor)
		e.optStr(`,"label":`, s.Label)
		e.num(`,"celsius":`, s.Celsius)
		if s.HighCelsius != nil {
			e.num(`,"high_celsius":`, *s.HighCelsius)
		}
		if s.CritCelsius != nil {
			e.num(`,"crit_celsius":`, *s.CritCelsius)
		}
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, "]}"...)
}
