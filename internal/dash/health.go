package dash

import (
	"github.com/lmn-heal/lmn/internal/detect"
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

// Once lmn-detect is known to judge the stream (its start record or any
// issue record came), health comes from firing issues only, so the
// dashboard never disagrees with lmn-detect: not beside "issues 0", not
// with a rules file of other levels. Without lmn-detect upstream, a line is
// coloured by its value in the latest sample against the levels of
// lmn-detect's built-in rule about it (detect.Rules.Severity).
var builtin = detect.Defaults()

// Judged reports whether health comes from lmn-detect's issues.
func (m *Model) Judged() bool {
	return m.IssueSeen || m.Sources["lmn-detect"] != nil
}

// builtinLevel is the level of the latest sample against rule's levels,
// for subject (a mount, a sensor) or machine-wide.
func (m *Model) builtinLevel(rule, subject string) Level {
	if m.Sample == nil {
		return LevelOK
	}
	return SeverityLevel(builtin.Severity(rule, m.Sample, subject))
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
	if m.Judged() {
		return m.ruleLevel(detect.RuleCPUPressure)
	}
	return m.builtinLevel(detect.RuleCPUPressure, "")
}

// MemLevel is the health of the memory line.
func (m *Model) MemLevel() Level {
	if m.Judged() {
		return m.ruleLevel(detect.RuleMemPressure)
	}
	return m.builtinLevel(detect.RuleMemPressure, "")
}

// SwapLevel is the health of the swap line.
func (m *Model) SwapLevel() Level {
	if m.Judged() {
		return m.ruleLevel(detect.RuleSwapExhaustion)
	}
	return m.builtinLevel(detect.RuleSwapExhaustion, "")
}

// LoadLevel is the health of the load line: the CPU's, as lmn-detect
// judges load by CPU pressure.
func (m *Model) LoadLevel() Level { return m.CPULevel() }

// psiRules are the rules about each pressure resource.
var psiRules = map[string]string{"cpu": detect.RuleCPUPressure, "memory": detect.RuleMemPressure, "io": detect.RuleIOPressure}

// PSILevel is the health of one pressure resource: "cpu", "memory", "io".
func (m *Model) PSILevel(resource string) Level {
	if m.Judged() {
		return m.ruleLevel(psiRules[resource])
	}
	return m.builtinLevel(psiRules[resource], "")
}

// MountLevel is the health of one mounted filesystem.
func (m *Model) MountLevel(mt record.Mount) Level {
	if m.Judged() {
		return m.SubjectLevel("mount", mt.Mount)
	}
	return max(m.builtinLevel(detect.RuleDiskUsage, mt.Mount), m.builtinLevel(detect.RuleInodeUsage, mt.Mount),
		m.builtinLevel(detect.RuleNixStoreUsage, mt.Mount))
}

// InterfaceLevel is the health of one network interface.
func (m *Model) InterfaceLevel(in record.Interface) Level {
	if m.Judged() {
		return m.SubjectLevel("interface", in.Name)
	}
	return m.builtinLevel(detect.RuleInterfaceDown, in.Name)
}

// RouteLevel is the health of the default route.
func (m *Model) RouteLevel() Level {
	if m.Judged() {
		return m.ruleLevel(detect.RuleNoDefaultRoute)
	}
	return m.builtinLevel(detect.RuleNoDefaultRoute, "")
}

// SensorLevel is the health of one temperature sensor.
func (m *Model) SensorLevel(s record.Sensor) Level {
	if m.Judged() {
		return m.SubjectLevel("sensor", s.Sensor)
	}
	return m.builtinLevel(detect.RuleTemperature, s.Sensor)
}

// UnitLevel is the health of a failed unit: warning unless an issue says
// otherwise.
func (m *Model) UnitLevel(unit string) Level {
	if m.Judged() {
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
	if m.Judged() || m.Sample == nil {
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
