package detect

import "fmt"

// A field is one leaf of record.Sample that rules can read. The rules
// loaded say which fields they need (see Rules.Decoder); the sample decoder
// parses those and only checks the syntax and type of the others, which is
// most of a sample for the default rules.
type field uint8

// The fields, each named by its metric path (see fieldPaths). The header
// (kind, v, ts, host, src, seq, interval_seconds, trigger) is always decoded.
const (
	fInterval field = iota // a header field, there for its metric
	fCPUCount
	fCPUBusy
	fCPUUser
	fCPUSystem
	fCPUIOWait
	fCPUSteal
	fMemTotal
	fMemAvailable
	fMemFree
	fMemCached
	fMemAvailableRatio
	fSwapTotal
	fSwapFree
	fSwapUsedRatio
	fSwapIn
	fSwapOut
	fLoad1
	fLoad5
	fLoad15
	fLoad1Per
	fLoadRunnable
	fLoadProcesses
	fNetDefaultRoute
	fNixSystemGeneration
	fNixGenerations
	fUnits // the whole units group: scope and every failed unit
	fMountName
	fMountSize
	fMountAvail
	fMountUsedRatio
	fMountInodes
	fMountInodesFree
	fMountInodesUsedRatio
	fMountReadOnly
	fMountHoldsNixStore
	fMountHoldsVarLog
	fDeviceName
	fDeviceReadBytes
	fDeviceWriteBytes
	fDeviceReads
	fDeviceWrites
	fDeviceBusy
	fIfaceName
	fIfaceUp
	fIfaceRxBytes
	fIfaceTxBytes
	fIfaceRxPackets
	fIfaceTxPackets
	fIfaceRxErrors
	fIfaceTxErrors
	fIfaceRxDrops
	fIfaceTxDrops
	fSensorName
	fSensorCelsius
	fSensorHigh
	fSensorCrit
	fTopUnitName
	fTopUnitMemory
	// fPSI is the first of 24 PSI fields: resource (cpu, memory, io) × 8 +
	// line (some, full) × 4 + avg10, avg60, avg300, total.
	fPSI
	fieldCount = fPSI + 24
)

// fieldSet is a set of fields.
type fieldSet [(fieldCount + 63) / 64]uint64

func (s *fieldSet) add(f field)      { s[f/64] |= 1 << (f % 64) }
func (s *fieldSet) has(f field) bool { return s[f/64]&(1<<(f%64)) != 0 }

// allFields is every field: a full decode, as json.Unmarshal gives.
var allFields = func() fieldSet {
	var s fieldSet
	for f := range fieldCount {
		s.add(f)
	}
	return s
}()

var psiResources = [...]string{"cpu", "memory", "io"}
var psiLines = [...]string{"some", "full"}
var psiFields = [...]string{"avg10_ratio", "avg60_ratio", "avg300_ratio", "total_seconds"}

// fieldPaths names each field by the metric path that reads it (a list's
// name field by its list path and key).
var fieldPaths = func() [fieldCount]string {
	p := [fieldCount]string{
		fInterval: "interval_seconds", fCPUCount: "cpu.count", fCPUBusy: "cpu.busy_ratio", fCPUUser: "cpu.user_ratio",
		fCPUSystem: "cpu.system_ratio", fCPUIOWait: "cpu.iowait_ratio", fCPUSteal: "cpu.steal_ratio",
		fMemTotal: "mem.total_bytes", fMemAvailable: "mem.available_bytes", fMemFree: "mem.free_bytes",
		fMemCached: "mem.cached_bytes", fMemAvailableRatio: "mem.available_ratio",
		fSwapTotal: "swap.total_bytes", fSwapFree: "swap.free_bytes", fSwapUsedRatio: "swap.used_ratio",
		fSwapIn: "swap.in_pages_per_s", fSwapOut: "swap.out_pages_per_s",
		fLoad1: "load.load1", fLoad5: "load.load5", fLoad15: "load.load15",
		fLoad1Per: "load.load1_per_cpu", fLoadRunnable: "load.runnable", fLoadProcesses: "load.processes",
		fNetDefaultRoute: "net.default_route", fNixSystemGeneration: "nix.system_generation",
		fNixGenerations: "nix.generations", fUnits: "units.failed_count",
		fMountName: "disks.mounts[].mount", fMountSize: "disks.mounts[].size_bytes",
		fMountAvail: "disks.mounts[].avail_bytes", fMountUsedRatio: "disks.mounts[].used_ratio",
		fMountInodes: "disks.mounts[].inodes", fMountInodesFree: "disks.mounts[].inodes_free",
		fMountInodesUsedRatio: "disks.mounts[].inodes_used_ratio", fMountReadOnly: "disks.mounts[].read_only",
		fMountHoldsNixStore: "disks.mounts[].holds_nix_store", fMountHoldsVarLog: "disks.mounts[].holds_var_log",
		fDeviceName: "disks.devices[].device", fDeviceReadBytes: "disks.devices[].read_bytes_per_s",
		fDeviceWriteBytes: "disks.devices[].write_bytes_per_s", fDeviceReads: "disks.devices[].reads_per_s",
		fDeviceWrites: "disks.devices[].writes_per_s", fDeviceBusy: "disks.devices[].busy_ratio",
		fIfaceName: "net.interfaces[].name", fIfaceUp: "net.interfaces[].up",
		fIfaceRxBytes: "net.interfaces[].rx_bytes_per_s", fIfaceTxBytes: "net.interfaces[].tx_bytes_per_s",
		fIfaceRxPackets: "net.interfaces[].rx_packets_per_s", fIfaceTxPackets: "net.interfaces[].tx_packets_per_s",
		fIfaceRxErrors: "net.interfaces[].rx_errors_per_s", fIfaceTxErrors: "net.interfaces[].tx_errors_per_s",
		fIfaceRxDrops: "net.interfaces[].rx_drops_per_s", fIfaceTxDrops: "net.interfaces[].tx_drops_per_s",
		fSensorName: "temps.sensors[].sensor", fSensorCelsius: "temps.sensors[].celsius",
		fSensorHigh: "temps.sensors[].high_celsius", fSensorCrit: "temps.sensors[].crit_celsius",
		fTopUnitName: "mem.top_units[].unit", fTopUnitMemory: "mem.top_units[].memory_bytes",
	}
	for r, res := range psiResources {
		for l, line := range psiLines {
			for k, name := range psiFields {
				p[fPSI+field(r*8+l*4+k)] = "psi." + res + "." + line + "." + name
			}
		}
	}
	return p
}()

// fieldOf maps a metric path (or a list's name path) to its field.
var fieldOf = func() map[string]field {
	m := make(map[string]field, fieldCount)
	for f, p := range fieldPaths {
		if p == "" {
			panic(fmt.Sprintf("detect: field %d has no path", f))
		}
		m[p] = field(f)
	}
	return m
}()

// mustField returns the field of a metric path; every path a metric is
// built for has one (buildMetrics panics otherwise, at start-up).
func mustField(path string) field {
	f, ok := fieldOf[path]
	if !ok {
		panic(fmt.Sprintf("detect: metric %q has no sample field", path))
	}
	return f
}

// needs adds what rule r reads of a sample to s: its metrics, their
// lists' names, and the units group for unit_failed. A rule kind reading
// a sample otherwise than through metrics must add its fields here
// (TestSampleDecoderGivesWhatRulesRead checks the metrics' part).
func (r *rule) needs(s *fieldSet) {
	if r.Kind == KindUnitFailed {
		s.add(fUnits)
	}
	for _, m := range []*metric{r.metric, r.warnFrom, r.critFrom} {
		m.needs(s)
	}
	for _, c := range r.and {
		c.m.needs(s)
	}
	for _, c := range r.escalate {
		c.m.needs(s)
	}
}

func (m *metric) needs(s *fieldSet) {
	if m == nil {
		return
	}
	s.add(m.field)
	if m.list != nil {
		s.add(m.list.nameField)
	}
}

// and returns the fields in both s and o.
func (s fieldSet) and(o fieldSet) fieldSet {
	for i := range s {
		s[i] &= o[i]
	}
	return s
}
