package record

//go:generate go run ./schemagen

// Sample is one collection tick of lmn-collect. A group the machine lacks
// (no /proc/pressure, no thermal zones, no systemd, no /nix) is nil and so
// absent from the line, never zero.
//
// Rates (_per_s) and CPU ratios come from the delta between two readings;
// IntervalSeconds is the length of that delta. Trigger is what woke the
// collector: "tick", or an event source ("unit", "psi", "link", "route",
// "oom"); absent in streams from before events.
//
// This struct and the types it holds are the stream's schema, said once:
// the encoder, the decoder, the field enumeration and the table of metric
// paths the rules read are generated from them (go generate, see
// docs/stream.md). Besides the json tags, an lmn tag says what the rules
// make of a field:
//
//	lmn:"nometric"               no metric path for this field (or group)
//	lmn:"subject=K"              a list of subjects, each named by its field K,
//	                             the subject key of the issues about them
//	lmn:"subject=K,name=N"       the same, named by its field N
//	lmn:"subject=K,scope=S"      the same, and its field S (a unit's
//	                             scope) is the subject's key S too
//	lmn:"count=NAME"             a list whose length is the metric NAME
//	lmn:"range=LO:HI"            the values a float64 can physically have
//	                             (a side left empty is unbounded); without
//	                             it the unit in the name says: _ratio 0:1,
//	                             _seconds and _per_s 0:, _celsius -273.15:.
//	                             CheckSample rejects a sample outside them.
type Sample struct {
	Header          `lmn:"nometric"`
	Seq             uint64  `json:"seq" lmn:"nometric"`
	IntervalSeconds float64 `json:"interval_seconds"`
	Trigger         string  `json:"trigger,omitempty"`
	CPU             *CPU    `json:"cpu,omitempty"`
	Mem             *Mem    `json:"mem,omitempty"`
	Swap            *Swap   `json:"swap,omitempty"`
	Load            *Load   `json:"load,omitempty"`
	PSI             *PSI    `json:"psi,omitempty"`
	Disks           *Disks  `json:"disks,omitempty"`
	Net             *Net    `json:"net,omitempty"`
	Units           *Units  `json:"units,omitempty"`
	Temps           *Temps  `json:"temps,omitempty"`
	Nix             *Nix    `json:"nix,omitempty"`
	// Probes are the latest finished result of each probe (lmn-collect
	// --probes), in the order of the configuration; absent without probes
	// or before the first check ended.
	Probes []ProbeResult `json:"probes,omitempty" lmn:"subject=probe,name=name"`
}

// CPU is the share of CPU time spent in each state over the interval,
// summed over all CPUs and divided by their count.
type CPU struct {
	Count       int     `json:"count"`
	BusyRatio   float64 `json:"busy_ratio"`
	UserRatio   float64 `json:"user_ratio"`
	SystemRatio float64 `json:"system_ratio"`
	IOWaitRatio float64 `json:"iowait_ratio"`
	StealRatio  float64 `json:"steal_ratio"`
}

// Mem is from /proc/meminfo. AvailableBytes is MemAvailable, the kernel's
// estimate of memory available without swapping; it counts reclaimable cache.
type Mem struct {
	TotalBytes     uint64  `json:"total_bytes"`
	AvailableBytes uint64  `json:"available_bytes"`
	FreeBytes      uint64  `json:"free_bytes"`
	CachedBytes    uint64  `json:"cached_bytes"`
	AvailableRatio float64 `json:"available_ratio"`
	// TopUnits are the services using the most memory, largest first, from
	// their cgroups; absent where the cgroup tree cannot be read.
	TopUnits []UnitMemory `json:"top_units,omitempty" lmn:"subject=unit"`
	// Units are the watched units' own cgroups, read every sample: the
	// units of TopUnits and every unit a probe speaks for. Absent where
	// none can be read.
	Units []UnitResources `json:"units,omitempty" lmn:"subject=unit,scope=scope"`
}

// UnitMemory is one unit's memory use as its cgroup counts it (anonymous
// memory and page cache charged to it).
type UnitMemory struct {
	Unit        string `json:"unit"`
	Scope       string `json:"scope"` // "system" or "user"
	MemoryBytes uint64 `json:"memory_bytes"`
}

// UnitResources is one unit's memory as its own cgroup reports it. A value
// the host's cgroup layout cannot give is absent (docs/probes.md).
type UnitResources struct {
	Unit  string `json:"unit"`
	Scope string `json:"scope"` // "system" or "user"
	// MemoryBytes is memory.current (v2) or memory.usage_in_bytes (v1).
	MemoryBytes *uint64 `json:"memory_bytes,omitempty"`
	// MaxBytes is the cgroup's limit (MemoryMax=); absent when unlimited.
	MaxBytes *uint64 `json:"max_bytes,omitempty"`
	// MaxUsedRatio is MemoryBytes / MaxBytes, present with both.
	MaxUsedRatio *float64 `json:"max_used_ratio,omitempty" lmn:"range=0:"` // memory.current may pass memory.max for a moment
	// OOMKills counts the unit's processes the kernel's OOM killer killed
	// in this cgroup (memory.events or memory.oom_control oom_kill).
	OOMKills *uint64 `json:"oom_kills,omitempty"`
	// Pressure is the cgroup's memory.pressure.
	Pressure *Pressure `json:"pressure,omitempty"`
}

// ProbeResult is the latest finished check of one probe.
type ProbeResult struct {
	Name string `json:"name"`
	// Unit and Scope are what the probe speaks for; absent for a probe
	// without a unit.
	Unit           string  `json:"unit,omitempty"`
	Scope          string  `json:"scope,omitempty"`
	Kind           string  `json:"kind"` // tcp, http, dns or exec
	OK             bool    `json:"ok"`
	LatencySeconds float64 `json:"latency_seconds"`
	// CheckedAt is when the check ended.
	CheckedAt Time `json:"checked_at"`
	// Error says briefly why the check failed; absent when OK.
	Error string `json:"error,omitempty"`
	// Streak counts the consecutive results with the same OK, this one
	// included: 3 after the third failure in a row.
	Streak int `json:"streak"`
}

// Swap is from /proc/meminfo. UsedRatio is 0 when there is no swap.
type Swap struct {
	TotalBytes uint64  `json:"total_bytes"`
	FreeBytes  uint64  `json:"free_bytes"`
	UsedRatio  float64 `json:"used_ratio"`
	InPerS     float64 `json:"in_pages_per_s"`
	OutPerS    float64 `json:"out_pages_per_s"`
}

// Load is from /proc/loadavg.
type Load struct {
	Load1     float64 `json:"load1" lmn:"range=0:"`
	Load5     float64 `json:"load5" lmn:"range=0:"`
	Load15    float64 `json:"load15" lmn:"range=0:"`
	Load1Per  float64 `json:"load1_per_cpu" lmn:"range=0:"`
	Runnable  int     `json:"runnable"`
	Processes int     `json:"processes"`
}

// PSI is pressure stall information from /proc/pressure. A resource the
// kernel does not report is nil.
type PSI struct {
	CPU    *Pressure `json:"cpu,omitempty"`
	Memory *Pressure `json:"memory,omitempty"`
	IO     *Pressure `json:"io,omitempty"`
}

// Pressure is one /proc/pressure file. Full is nil where the kernel has no
// "full" line (cpu before Linux 5.13).
type Pressure struct {
	Some *PressureLine `json:"some,omitempty"`
	Full *PressureLine `json:"full,omitempty"`
}

// PressureLine is one line of a pressure file: the share of wall time in
// which some (or all) tasks stalled, averaged over 10, 60 and 300 seconds,
// and the total stall time since boot.
type PressureLine struct {
	Avg10Ratio   float64 `json:"avg10_ratio"`
	Avg60Ratio   float64 `json:"avg60_ratio"`
	Avg300Ratio  float64 `json:"avg300_ratio"`
	TotalSeconds float64 `json:"total_seconds"`
}

// Disks holds real mounted filesystems and block devices.
type Disks struct {
	Mounts  []Mount       `json:"mounts,omitempty" lmn:"subject=mount"`
	Devices []BlockDevice `json:"devices,omitempty" lmn:"subject=device"`
}

// Mount is one real mounted filesystem, from statfs(2).
type Mount struct {
	Mount           string  `json:"mount"`
	Device          string  `json:"device"`
	FSType          string  `json:"fstype"`
	SizeBytes       uint64  `json:"size_bytes"`
	AvailBytes      uint64  `json:"avail_bytes"`
	UsedRatio       float64 `json:"used_ratio"`
	Inodes          uint64  `json:"inodes"`
	InodesFree      uint64  `json:"inodes_free"`
	InodesUsedRatio float64 `json:"inodes_used_ratio"`
	ReadOnly        bool    `json:"read_only,omitempty"`
	HoldsNixStore   bool    `json:"holds_nix_store,omitempty"`
	HoldsVarLog     bool    `json:"holds_var_log,omitempty"`
}

// BlockDevice is one whole block device's IO over the interval, from
// /proc/diskstats.
type BlockDevice struct {
	Device         string  `json:"device"`
	ReadBytesPerS  float64 `json:"read_bytes_per_s"`
	WriteBytesPerS float64 `json:"write_bytes_per_s"`
	ReadsPerS      float64 `json:"reads_per_s"`
	WritesPerS     float64 `json:"writes_per_s"`
	BusyRatio      float64 `json:"busy_ratio"`
}

// Net holds network interfaces and whether a default route exists.
type Net struct {
	DefaultRoute bool        `json:"default_route"`
	Interfaces   []Interface `json:"interfaces,omitempty" lmn:"subject=interface,name=name"`
}

// Interface is one network interface, from /sys/class/net and /proc/net/dev.
type Interface struct {
	Name      string `json:"name"`
	Up        bool   `json:"up"`
	OperState string `json:"operstate"`
	// Carrier is the physical link (<sys-root>/class/net/NAME/carrier,
	// IFF_LOWER_UP): false when the interface is down, by its
	// administrator or a lost carrier (a pulled cable, a peer gone) while
	// Up stays true; absent when the kernel does not say.
	Carrier       *bool   `json:"carrier,omitempty"`
	RxBytesPerS   float64 `json:"rx_bytes_per_s"`
	TxBytesPerS   float64 `json:"tx_bytes_per_s"`
	RxPacketsPerS float64 `json:"rx_packets_per_s"`
	TxPacketsPerS float64 `json:"tx_packets_per_s"`
	RxErrorsPerS  float64 `json:"rx_errors_per_s"`
	TxErrorsPerS  float64 `json:"tx_errors_per_s"`
	RxDropsPerS   float64 `json:"rx_drops_per_s"`
	TxDropsPerS   float64 `json:"tx_drops_per_s"`
}

// Units are the failed systemd units of one scope.
type Units struct {
	Scope  string `json:"scope"` // "system" or "user"
	Failed []Unit `json:"failed" lmn:"count=failed_count"`
}

// Unit is one failed unit as systemctl lists it.
type Unit struct {
	Unit        string `json:"unit"`
	Load        string `json:"load,omitempty"`
	Active      string `json:"active,omitempty"`
	Sub         string `json:"sub,omitempty"`
	Description string `json:"description,omitempty"`
}

// Temps holds temperature sensors.
type Temps struct {
	Sensors []Sensor `json:"sensors" lmn:"subject=sensor"`
}

// Sensor is one thermal zone or hwmon input. Sensor is a stable name such
// as "thermal_zone0" or "hwmon1/temp2".
type Sensor struct {
	Sensor      string   `json:"sensor"`
	Label       string   `json:"label,omitempty"`
	Celsius     float64  `json:"celsius"`
	HighCelsius *float64 `json:"high_celsius,omitempty"`
	CritCelsius *float64 `json:"crit_celsius,omitempty"`
}

// Nix describes the NixOS system profile, when the machine has /nix.
// SystemGeneration and System are what the profile points to (what boots
// next), CurrentSystem what runs (/run/current-system), BootedSystem what
// booted (/run/booted-system). A `nixos-rebuild switch` moves the profile
// and CurrentSystem together (CurrentGeneration == SystemGeneration); a
// `test` moves CurrentSystem alone (CurrentGeneration is 0 for a system
// not in the profile, or another generation's number).
type Nix struct {
	SystemGeneration int    `json:"system_generation,omitempty"`
	Generations      int    `json:"generations"`
	System           string `json:"system,omitempty" lmn:"nometric"`
	CurrentSystem    string `json:"current_system,omitempty" lmn:"nometric"`
	// CurrentGeneration is the newest generation of the profile whose
	// store path is CurrentSystem; absent when there is none.
	CurrentGeneration int    `json:"current_generation,omitempty"`
	BootedSystem      string `json:"booted_system,omitempty" lmn:"nometric"`
	// RebootPending: the booted system's kernel is not the running
	// system's (their kernel links differ), so the switch takes full
	// effect only at the next boot.
	RebootPending bool `json:"reboot_pending,omitempty"`
	// KnownGood and Rejected are lmn-privd's record of generations
	// (internal/generations): the last generation lmn judged healthy, and
	// the systems it rolled back from, which it never switches to by
	// itself. Absent where lmn-privd keeps no record.
	KnownGood *NixSystem  `json:"known_good,omitempty" lmn:"nometric"`
	Rejected  []NixSystem `json:"rejected,omitempty" lmn:"nometric,count=rejected_count"`
}

// NixSystem is one system of the record of generations: its store path
// and, when it was one, its generation number then.
type NixSystem struct {
	Generation int    `json:"generation,omitempty"`
	StorePath  string `json:"store_path"`
}
