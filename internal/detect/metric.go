package detect

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lmn-heal/lmn/internal/record"
)

// A metric is a numeric (or boolean, as 0 or 1) field of a sample,
// addressed by a path such as "mem.available_ratio" or, inside a list of
// subjects, "disks.mounts[].used_ratio". Paths are resolved once, when rules
// are loaded, into accessor funcs; evaluating a sample calls them directly.
type metric struct {
	path   string
	unit   string   // how values are written in summaries: see formatValue
	field  field    // the sample field the accessor reads
	list   *listDef // nil for a machine-wide (scalar) metric
	scalar func(*record.Sample) (float64, bool)
	elem   func(*record.Sample, int) (float64, bool)
}

// listDef is a list of subjects in a sample: each element is one subject,
// named by key ("mount", "interface", ...).
type listDef struct {
	path      string
	key       string
	nameField field // the field naming each element
	n         func(*record.Sample) int
	name      func(*record.Sample, int) string
}

// value returns the metric for element i (ignored for scalars).
func (m *metric) value(s *record.Sample, i int) (float64, bool) {
	if m.list == nil {
		return m.scalar(s)
	}
	return m.elem(s, i)
}

func group[G any](get func(*record.Sample) *G, f func(*G) float64) func(*record.Sample) (float64, bool) {
	return func(s *record.Sample) (float64, bool) {
		g := get(s)
		if g == nil {
			return 0, false
		}
		return f(g), true
	}
}

func elemOf[E any](items func(*record.Sample) []E, f func(*E) (float64, bool)) func(*record.Sample, int) (float64, bool) {
	return func(s *record.Sample, i int) (float64, bool) {
		es := items(s)
		if i < 0 || i >= len(es) {
			return 0, false
		}
		return f(&es[i])
	}
}

func listOf[E any](path, key, nameKey string, items func(*record.Sample) []E, name func(*E) string) *listDef {
	return &listDef{
		path: path, key: key, nameField: mustField(path + "." + nameKey),
		n: func(s *record.Sample) int { return len(items(s)) },
		name: func(s *record.Sample, i int) string {
			return name(&items(s)[i])
		},
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func mounts(s *record.Sample) []record.Mount {
	if s.Disks == nil {
		return nil
	}
	return s.Disks.Mounts
}

func devices(s *record.Sample) []record.BlockDevice {
	if s.Disks == nil {
		return nil
	}
	return s.Disks.Devices
}

func interfaces(s *record.Sample) []record.Interface {
	if s.Net == nil {
		return nil
	}
	return s.Net.Interfaces
}

func sensors(s *record.Sample) []record.Sensor {
	if s.Temps == nil {
		return nil
	}
	return s.Temps.Sensors
}

func topUnits(s *record.Sample) []record.UnitMemory {
	if s.Mem == nil {
		return nil
	}
	return s.Mem.TopUnits
}

var (
	topUnitList   = listOf("mem.top_units[]", "unit", "unit", topUnits, func(u *record.UnitMemory) string { return u.Unit })
	mountList     = listOf("disks.mounts[]", "mount", "mount", mounts, func(m *record.Mount) string { return m.Mount })
	deviceList    = listOf("disks.devices[]", "device", "device", devices, func(d *record.BlockDevice) string { return d.Device })
	interfaceList = listOf("net.interfaces[]", "interface", "name", interfaces, func(n *record.Interface) string { return n.Name })
	sensorList    = listOf("temps.sensors[]", "sensor", "sensor", sensors, func(t *record.Sensor) string { return t.Sensor })
)

// metrics maps every addressable path to its accessor.
var metrics = buildMetrics()

func buildMetrics() map[string]*metric {
	m := map[string]*metric{}
	scalar := func(path string, f func(*record.Sample) (float64, bool)) {
		m[path] = &metric{path: path, unit: unitOf(path), field: mustField(path), scalar: f}
	}
	scalar("interval_seconds", func(s *record.Sample) (float64, bool) { return s.IntervalSeconds, true })
	cpu := func(s *record.Sample) *record.CPU { return s.CPU }
	scalar("cpu.count", group(cpu, func(g *record.CPU) float64 { return float64(g.Count) }))
	scalar("cpu.busy_ratio", group(cpu, func(g *record.CPU) float64 { return g.BusyRatio }))
	scalar("cpu.user_ratio", group(cpu, func(g *record.CPU) float64 { return g.UserRatio }))
	scalar("cpu.system_ratio", group(cpu, func(g *record.CPU) float64 { return g.SystemRatio }))
	scalar("cpu.iowait_ratio", group(cpu, func(g *record.CPU) float64 { return g.IOWaitRatio }))
	scalar("cpu.steal_ratio", group(cpu, func(g *record.CPU) float64 { return g.StealRatio }))
	mem := func(s *record.Sample) *record.Mem { return s.Mem }
	scalar("mem.total_bytes", group(mem, func(g *record.Mem) float64 { return float64(g.TotalBytes) }))
	scalar("mem.available_bytes", group(mem, func(g *record.Mem) float64 { return float64(g.AvailableBytes) }))
	scalar("mem.free_bytes", group(mem, func(g *record.Mem) float64 { return float64(g.FreeBytes) }))
	scalar("mem.cached_bytes", group(mem, func(g *record.Mem) float64 { return float64(g.CachedBytes) }))
	scalar("mem.available_ratio", group(mem, func(g *record.Mem) float64 { return g.AvailableRatio }))
	swap := func(s *record.Sample) *record.Swap { return s.Swap }
	scalar("swap.total_bytes", group(swap, func(g *record.Swap) float64 { return float64(g.TotalBytes) }))
	scalar("swap.free_bytes", group(swap, func(g *record.Swap) float64 { return float64(g.FreeBytes) }))
	scalar("swap.used_ratio", group(swap, func(g *record.Swap) float64 { return g.UsedRatio }))
	scalar("swap.in_pages_per_s", group(swap, func(g *record.Swap) float64 { return g.InPerS }))
	scalar("swap.out_pages_per_s", group(swap, func(g *record.Swap) float64 { return g.OutPerS }))
	load := func(s *record.Sample) *record.Load { return s.Load }
	scalar("load.load1", group(load, func(g *record.Load) float64 { return g.Load1 }))
	scalar("load.load5", group(load, func(g *record.Load) float64 { return g.Load5 }))
	scalar("load.load15", group(load, func(g *record.Load) float64 { return g.Load15 }))
	scalar("load.load1_per_cpu", group(load, func(g *record.Load) float64 { return g.Load1Per }))
	scalar("load.runnable", group(load, func(g *record.Load) float64 { return float64(g.Runnable) }))
	scalar("load.processes", group(load, func(g *record.Load) float64 { return float64(g.Processes) }))
	addPSI(scalar)
	network := func(s *record.Sample) *record.Net { return s.Net }
	scalar("net.default_route", group(network, func(g *record.Net) float64 { return b2f(g.DefaultRoute) }))
	nix := func(s *record.Sample) *record.Nix { return s.Nix }
	scalar("nix.system_generation", group(nix, func(g *record.Nix) float64 { return float64(g.SystemGeneration) }))
	scalar("nix.generations", group(nix, func(g *record.Nix) float64 { return float64(g.Generations) }))
	units := func(s *record.Sample) *record.Units { return s.Units }
	scalar("units.failed_count", group(units, func(g *record.Units) float64 { return float64(len(g.Failed)) }))
	addLists(m)
	return m
}

func addPSI(scalar func(string, func(*record.Sample) (float64, bool))) {
	resources := []struct {
		name string
		get  func(*record.PSI) *record.Pressure
	}{
		{"cpu", func(p *record.PSI) *record.Pressure { return p.CPU }},
		{"memory", func(p *record.PSI) *record.Pressure { return p.Memory }},
		{"io", func(p *record.PSI) *record.Pressure { return p.IO }},
	}
	lines := []struct {
		name string
		get  func(*record.Pressure) *record.PressureLine
	}{
		{"some", func(p *record.Pressure) *record.PressureLine { return p.Some }},
		{"full", func(p *record.Pressure) *record.PressureLine { return p.Full }},
	}
	fields := []struct {
		name string
		get  func(*record.PressureLine) float64
	}{
		{"avg10_ratio", func(l *record.PressureLine) float64 { return l.Avg10Ratio }},
		{"avg60_ratio", func(l *record.PressureLine) float64 { return l.Avg60Ratio }},
		{"avg300_ratio", func(l *record.PressureLine) float64 { return l.Avg300Ratio }},
		{"total_seconds", func(l *record.PressureLine) float64 { return l.TotalSeconds }},
	}
	for _, r := range resources {
		for _, l := range lines {
			for _, f := range fields {
				scalar("psi."+r.name+"."+l.name+"."+f.name, func(s *record.Sample) (float64, bool) {
					if s.PSI == nil {
						return 0, false
					}
					p := r.get(s.PSI)
					if p == nil {
						return 0, false
					}
					pl := l.get(p)
					if pl == nil {
						return 0, false
					}
					return f.get(pl), true
				})
			}
		}
	}
}

func addLists(m map[string]*metric) {
	add := func(l *listDef, field string, f func(*record.Sample, int) (float64, bool)) {
		path := l.path + "." + field
		m[path] = &metric{path: path, unit: unitOf(path), field: mustField(path), list: l, elem: f}
	}
	mt := func(f func(*record.Mount) float64) func(*record.Sample, int) (float64, bool) {
		return elemOf(mounts, func(e *record.Mount) (float64, bool) { return f(e), true })
	}
	add(mountList, "size_bytes", mt(func(e *record.Mount) float64 { return float64(e.SizeBytes) }))
	add(mountList, "avail_bytes", mt(func(e *record.Mount) float64 { return float64(e.AvailBytes) }))
	add(mountList, "used_ratio", mt(func(e *record.Mount) float64 { return e.UsedRatio }))
	add(mountList, "inodes", mt(func(e *record.Mount) float64 { return float64(e.Inodes) }))
	add(mountList, "inodes_free", mt(func(e *record.Mount) float64 { return float64(e.InodesFree) }))
	add(mountList, "inodes_used_ratio", mt(func(e *record.Mount) float64 { return e.InodesUsedRatio }))
	add(mountList, "read_only", mt(func(e *record.Mount) float64 { return b2f(e.ReadOnly) }))
	add(mountList, "holds_nix_store", mt(func(e *record.Mount) float64 { return b2f(e.HoldsNixStore) }))
	add(mountList, "holds_var_log", mt(func(e *record.Mount) float64 { return b2f(e.HoldsVarLog) }))
	dv := func(f func(*record.BlockDevice) float64) func(*record.Sample, int) (float64, bool) {
		return elemOf(devices, func(e *record.BlockDevice) (float64, bool) { return f(e), true })
	}
	add(deviceList, "read_bytes_per_s", dv(func(e *record.BlockDevice) float64 { return e.ReadBytesPerS }))
	add(deviceList, "write_bytes_per_s", dv(func(e *record.BlockDevice) float64 { return e.WriteBytesPerS }))
	add(deviceList, "reads_per_s", dv(func(e *record.BlockDevice) float64 { return e.ReadsPerS }))
	add(deviceList, "writes_per_s", dv(func(e *record.BlockDevice) float64 { return e.WritesPerS }))
	add(deviceList, "busy_ratio", dv(func(e *record.BlockDevice) float64 { return e.BusyRatio }))
	nf := func(f func(*record.Interface) float64) func(*record.Sample, int) (float64, bool) {
		return elemOf(interfaces, func(e *record.Interface) (float64, bool) { return f(e), true })
	}
	add(interfaceList, "up", nf(func(e *record.Interface) float64 { return b2f(e.Up) }))
	add(interfaceList, "rx_bytes_per_s", nf(func(e *record.Interface) float64 { return e.RxBytesPerS }))
	add(interfaceList, "tx_bytes_per_s", nf(func(e *record.Interface) float64 { return e.TxBytesPerS }))
	add(interfaceList, "rx_packets_per_s", nf(func(e *record.Interface) float64 { return e.RxPacketsPerS }))
	add(interfaceList, "tx_packets_per_s", nf(func(e *record.Interface) float64 { return e.TxPacketsPerS }))
	add(interfaceList, "rx_errors_per_s", nf(func(e *record.Interface) float64 { return e.RxErrorsPerS }))
	add(interfaceList, "tx_errors_per_s", nf(func(e *record.Interface) float64 { return e.TxErrorsPerS }))
	add(interfaceList, "rx_drops_per_s", nf(func(e *record.Interface) float64 { return e.RxDropsPerS }))
	add(interfaceList, "tx_drops_per_s", nf(func(e *record.Interface) float64 { return e.TxDropsPerS }))
	add(topUnitList, "memory_bytes", elemOf(topUnits, func(e *record.UnitMemory) (float64, bool) { return float64(e.MemoryBytes), true }))
	add(sensorList, "celsius", elemOf(sensors, func(e *record.Sensor) (float64, bool) { return e.Celsius, true }))
	add(sensorList, "high_celsius", elemOf(sensors, func(e *record.Sensor) (float64, bool) { return optional(e.HighCelsius) }))
	add(sensorList, "crit_celsius", elemOf(sensors, func(e *record.Sensor) (float64, bool) { return optional(e.CritCelsius) }))
}

func optional(p *float64) (float64, bool) {
	if p == nil {
		return 0, false
	}
	return *p, true
}

// unitOf derives how a metric's values read from its name.
func unitOf(path string) string {
	switch {
	case strings.HasSuffix(path, "_ratio"):
		return "ratio"
	case strings.HasSuffix(path, "_bytes"):
		return "bytes"
	case strings.HasSuffix(path, "_per_s"):
		return "per_s"
	case strings.HasSuffix(path, "_seconds"):
		return "seconds"
	case strings.HasSuffix(path, "celsius"):
		return "celsius"
	case strings.HasSuffix(path, ".up"), strings.HasSuffix(path, "default_route"),
		strings.HasSuffix(path, "read_only"), strings.HasSuffix(path, "holds_nix_store"),
		strings.HasSuffix(path, "holds_var_log"):
		return "bool"
	}
	return ""
}

// lookupMetric resolves a path, or says which paths exist.
func lookupMetric(path string) (*metric, error) {
	if m, ok := metrics[path]; ok {
		return m, nil
	}
	return nil, fmt.Errorf("unknown metric %q (known: %s)", path, nearPaths(path))
}

// nearPaths lists the known paths sharing path's first segment, or all
// group names when none do.
func nearPaths(path string) string {
	first, _, _ := strings.Cut(path, ".")
	var near, groups []string
	seen := map[string]bool{}
	for p := range metrics {
		g, _, _ := strings.Cut(p, ".")
		if g == first {
			near = append(near, p)
		}
		if !seen[g] {
			seen[g] = true
			groups = append(groups, g+".…")
		}
	}
	if len(near) == 0 {
		near = groups
	}
	sort.Strings(near)
	return strings.Join(near, ", ")
}
