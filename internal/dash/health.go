package dash

import (
	"github.com/lmn-heal/lmn/internal/record"
)

// Level is a health level: what colour a part of the machine gets.
type Level int

// Health levels, in rising order.
const (
	LevelOK Level = iota
	LevelWarning
	LevelCritical
)

func (l Level) String() string {
	switch l {
	case LevelWarning:
		return "warning"
	case LevelCritical:
		return "critical"
	}
	return "ok"
}

// SeverityLevel maps an issue severity to a level.
func SeverityLevel(severity string) Level {
	switch severity {
	case record.SeverityCritical:
		return LevelCritical
	case record.SeverityWarning:
		return LevelWarning
	}
	return LevelOK
}

// Once any issue record has been seen, health comes from firing issues only,
// so the dashboard and lmn-detect never disagree. Before that, these fixed
// levels apply: {warning, critical}.
var (
	defaultCPU     = [2]float64{0.85, 0.95} // busy ratio
	defaultMemLow  = [2]float64{0.15, 0.05} // available ratio, lower is worse
	defaultSwap    = [2]float64{0.50, 0.90} // used ratio
	defaultPSI     = [2]float64{0.10, 0.30} // some avg10 ratio
	defaultDisk    = [2]float64{0.85, 0.95} // used ratio
	defaultTemp    = [2]float64{80, 95}     // celsius, when the sensor has no limits
	defaultLoadPer = [2]float64{1.5, 3}     // load1 per cpu
)

func above(v float64, lim [2]float64) Level {
	switch {
	case v >= lim[1]:
		return LevelCritical
	case v >= lim[0]:
		return LevelWarning
	}
	return LevelOK
}

func below(v float64, lim [2]float64) Level {
	switch {
	case v <= lim[1]:
		return LevelCritical
	case v <= lim[0]:
		return LevelWarning
	}
	return LevelOK
}

// ruleLevel is the worst firing issue of the given rules.
func (m *Model) ruleLevel(rules ...string) Level {
	lvl := LevelOK
	for _, is := range m.Issues {
		for _, r := range rules {
			if is.Rule == r {
				lvl = max(lvl, SeverityLevel(is.Severity))
			}
		}
	}
	return lvl
}

// SubjectLevel is the worst firing issue whose subject has key=value.
func (m *Model) SubjectLevel(key, value string) Level {
	lvl := LevelOK
	for _, is := range m.Issues {
		if v, ok := is.Subject[key]; ok && v == value {
			lvl = max(lvl, SeverityLevel(is.Severity))
		}
	}
	return lvl
}

// CPULevel is the health of the CPU line.
func (m *Model) CPULevel() Level {
	if m.IssueSeen {
		return m.ruleLevel("cpu_pressure")
	}
	if m.Sample == nil || m.Sample.CPU == nil {
		return LevelOK
	}
	return above(m.Sample.CPU.BusyRatio, defaultCPU)
}

// MemLevel is the health of the memory line.
func (m *Model) MemLevel() Level {
	if m.IssueSeen {
		return m.ruleLevel("mem_pressure")
	}
	if m.Sample == nil || m.Sample.Mem == nil {
		return LevelOK
	}
	return below(m.Sample.Mem.AvailableRatio, defaultMemLow)
}

// SwapLevel is the health of the swap line.
func (m *Model) SwapLevel() Level {
	if m.IssueSeen {
		return m.ruleLevel("swap_exhaustion")
	}
	if m.Sample == nil || m.Sample.Swap == nil {
		return LevelOK
	}
	return above(m.Sample.Swap.UsedRatio, defaultSwap)
}

// LoadLevel is the health of the load line.
func (m *Model) LoadLevel() Level {
	if m.IssueSeen {
		return m.ruleLevel("cpu_pressure")
	}
	if m.Sample == nil || m.Sample.Load == nil {
		return LevelOK
	}
	return above(m.Sample.Load.Load1Per, defaultLoadPer)
}

// PSILevel is the health of one pressure resource: "cpu", "memory", "io".
func (m *Model) PSILevel(resource string, some float64) Level {
	if m.IssueSeen {
		rule := map[string]string{"cpu": "cpu_pressure", "memory": "mem_pressure", "io": "io_pressure"}[resource]
		return m.ruleLevel(rule)
	}
	return above(some, defaultPSI)
}

// MountLevel is the health of one mounted filesystem.
func (m *Model) MountLevel(mt record.Mount) Level {
	if m.IssueSeen {
		return m.SubjectLevel("mount", mt.Mount)
	}
	return max(above(mt.UsedRatio, defaultDisk), above(mt.InodesUsedRatio, defaultDisk))
}

// InterfaceLevel is the health of one network interface.
func (m *Model) InterfaceLevel(in record.Interface) Level {
	if m.IssueSeen {
		return m.SubjectLevel("interface", in.Name)
	}
	if !in.Up {
		return LevelWarning
	}
	return LevelOK
}

// RouteLevel is the health of the default route.
func (m *Model) RouteLevel() Level {
	if m.IssueSeen {
		return m.ruleLevel("no_default_route")
	}
	if m.Sample != nil && m.Sample.Net != nil && !m.Sample.Net.DefaultRoute {
		return LevelWarning
	}
	return LevelOK
}

// SensorLevel is the health of one temperature sensor.
func (m *Model) SensorLevel(s record.Sensor) Level {
	if m.IssueSeen {
		return m.SubjectLevel("sensor", s.Sensor)
	}
	lim := defaultTemp
	if s.HighCelsius != nil {
		lim[0] = *s.HighCelsius
	}
	if s.CritCelsius != nil {
		lim[1] = *s.CritCelsius
	}
	return above(s.Celsius, lim)
}

// UnitLevel is the health of a failed unit: warning unless an issue says
// otherwise.
func (m *Model) UnitLevel(unit string) Level {
	if m.IssueSeen {
		return m.SubjectLevel("unit", unit)
	}
	return LevelWarning
}

// Overall is the worst firing issue, or the worst default level.
func (m *Model) Overall() Level {
	lvl := LevelOK
	for _, is := range m.Issues {
		lvl = max(lvl, SeverityLevel(is.Severity))
	}
	if m.IssueSeen || m.Sample == nil {
		return lvl
	}
	lvl = max(lvl, m.CPULevel(), m.MemLevel(), m.SwapLevel())
	if d := m.Sample.Disks; d != nil {
		for _, mt := range d.Mounts {
			lvl = max(lvl, m.MountLevel(mt))
		}
	}
	return lvl
}
