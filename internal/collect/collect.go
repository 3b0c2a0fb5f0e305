// Package collect turns readings of /proc, /sys, /nix and systemd into
// record.Sample values: it keeps the previous counters to compute rates and
// CPU ratios from deltas, filters mounts and devices down to real ones,
// asks the service manager for failed units (over D-Bus, or with systemctl
// when D-Bus cannot be used), reads the watched units' own cgroups
// (mem.units) and carries the probes' latest results (package probe runs
// them beside the samples).
//
// A group whose source is missing or unreadable is left out of the sample
// (nil), never zeroed, and the reason is logged once until it recovers.
package collect

import (
	"context"
	"log/slog"
	"time"

	"github.com/lmn-heal/lmn/internal/probe"
	"github.com/lmn-heal/lmn/internal/proc"
	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/sysfs"
	"github.com/lmn-heal/lmn/internal/systemd/dbus"
	"golang.org/x/sys/unix"
)

// Src is the name lmn-collect writes in every record's "src".
const Src = "lmn-collect"

// Config says where to read from. The zero value of each seam means the real
// thing.
type Config struct {
	ProcRoot, SysRoot, NixRoot string
	// RunRoot holds current-system and booted-system ("/run"); "" leaves
	// what runs out of the nix group. GenerationsRecord is lmn-privd's
	// record of generations (internal/generations), world-readable; ""
	// reads none.
	RunRoot, GenerationsRecord string
	// Units is "system", "user" or "none".
	Units string
	// Systemctl is the command prefix for listing failed units when D-Bus
	// cannot be used; nil means {"systemctl"}. Tests point it at a fixture
	// script.
	Systemctl []string
	// UnitBus are the D-Bus sockets tried, in order, for failed units
	// before Systemctl. nil means the scope's service manager
	// (dbus.SystemManager, dbus.UserManager); an empty, non-nil list means
	// systemctl only, as tests with a stand-in Systemctl need.
	UnitBus []dbus.Addr
	// Booted reports whether the machine runs systemd as PID 1 (whether
	// /run/systemd/system exists); nil means the real check.
	Booted func() bool
	// Statfs stats a mount point; nil means statfs(2). Tests over fixture
	// trees, whose mount points do not exist here, set it.
	Statfs func(path string, st *unix.Statfs_t) error
	// WatchUnits are units whose own cgroup is read every sample besides
	// the largest (mem.top_units): the units probes speak for.
	WatchUnits []sysfs.UnitID
	// Managers are service managers whose units live in cgroups other
	// than the usual places (system.slice, user@UID.service): a sandboxed
	// manager's, a container's.
	Managers []sysfs.Manager
	// Probes appends the latest finished result of each probe to dst
	// (probe.Scheduler.Latest); nil means no probes group.
	Probes func(dst []probe.Result) []probe.Result
	// Now is the clock; nil means time.Now.
	Now  func() time.Time
	Host string
	Log  *slog.Logger
}

// Collector takes samples. It is not safe for concurrent use.
type Collector struct {
	cfg   Config
	proc  *proc.FS
	sys   *sysfs.FS
	units *unitSource
	nix   nixReader
	warn  warner

	prev, cur *counters
	seq       uint64
	lastScan  time.Time
	mounts    []proc.Mount
	mountsOK  bool // mounts is the whole table as last read
	// statfsPending holds the statfs calls on network mounts that timed
	// out and have not returned yet.
	statfsPending map[string]chan struct{}
	// haveSwap is whether the last meminfo showed swap; without swap the
	// swap counters in vmstat stay zero and are not read (it is one of the
	// costliest files).
	haveSwap bool
	// lastCgroupScan is when the services' cgroups were last listed.
	lastCgroupScan time.Time
	// caveatSaid is whether the cgroup layout's limits were logged.
	caveatSaid bool
	// scheduler runs the probes (SetProbes), nil without any.
	scheduler *probe.Scheduler
	// watch, when set (StartEvents), is given the watched units' cgroups
	// at each rescan.
	watch func(cgroups []sysfs.UnitCgroup)

	// The sample and its groups are reused between calls.
	s record.Sample
	g groups
}

type groups struct {
	cpu   record.CPU
	mem   record.Mem
	swap  record.Swap
	load  record.Load
	psi   record.PSI
	press [3]record.Pressure
	lines [6]record.PressureLine
	disks record.Disks
	net   record.Net
	// carrier holds net.interfaces[].carrier, one per interface read.
	carrier []bool
	temps   record.Temps
	nix     record.Nix
	temp    []sysfs.Temp
	// unitMem is every service's reading, top the largest of them.
	unitMem []sysfs.UnitMem
	top     []record.UnitMemory
	// watchIDs are the units read closely, unitRes their readings, units
	// and unitVals mem.units.
	watchIDs []sysfs.UnitID
	// watchCgs are the watched units' cgroups, for the event sources.
	watchCgs []sysfs.UnitCgroup
	unitRes  []sysfs.UnitResources
	units    []record.UnitResources
	unitVals []unitValues
	// results are the probes' latest, probes the probes group.
	results []probe.Result
	probes  []record.ProbeResult
}

// New returns a Collector reading the roots in cfg.
func New(cfg Config) *Collector {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Statfs == nil {
		cfg.Statfs = unix.Statfs
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	c := &Collector{
		cfg:      cfg,
		proc:     proc.NewFS(cfg.ProcRoot),
		sys:      sysfs.NewFS(cfg.SysRoot).WithProc(cfg.ProcRoot).WithManagers(cfg.Managers),
		nix:      nixReader{root: cfg.NixRoot, run: cfg.RunRoot, record: cfg.GenerationsRecord},
		warn:     warner{log: cfg.Log, active: map[string]bool{}},
		prev:     new(counters),
		cur:      new(counters),
		haveSwap: true,

		statfsPending: map[string]chan struct{}{},
	}
	c.units = newUnitSource(cfg, &c.warn)
	return c
}

// SetProbes makes samples carry the latest results of s's probes (see
// Config.Probes), and lets the probe event source (StartEvents) wake a
// sample on a result that needs one. Call it before StartEvents and the
// first Sample, and before s runs.
func (c *Collector) SetProbes(s *probe.Scheduler) {
	c.cfg.Probes = s.Latest
	c.scheduler = s
}

// Close releases the kept-open files.
func (c *Collector) Close() error {
	c.units.close()
	c.sys.Close()
	return c.proc.Close()
}

// Files lists the kernel files the Collector keeps open, for benchmarks of
// the read-only floor. Call it after a Sample so discovered files (links,
// sensors) are included; File.Reads tells which ones a sample read.
func (c *Collector) Files() []*proc.File {
	return append(c.proc.Files(), c.sys.Files()...)
}

// Prime takes the first reading of the counters, so the next Sample has a
// delta to compute rates from.
func (c *Collector) Prime() {
	c.readCounters(c.prev)
}

// Sample reads everything once and returns the sample. Rates cover the time
// since the previous Sample or Prime. The returned value and everything it
// points to are reused by the next call.
func (c *Collector) Sample(ctx context.Context) *record.Sample {
	c.readCounters(c.cur)
	s := &c.s
	c.seq++
	*s = record.Sample{
		Header: record.NewHeader(record.KindSample, Src, c.cfg.Host, c.cur.at),
		Seq:    c.seq,
	}
	dt := c.cur.at.Sub(c.prev.at).Seconds()
	s.IntervalSeconds = dt
	s.CPU = c.cpu(dt)
	s.Mem, s.Swap = c.mem(dt)
	s.Load = c.load()
	s.PSI = c.pressure()
	s.Disks = c.disks(dt)
	s.Net = c.network(dt)
	s.Temps = c.temps()
	s.Nix = c.nixGroup()
	s.Units = c.units.failed(ctx)
	s.Probes = c.probeResults()
	c.prev, c.cur = c.cur, c.prev
	return s
}

// warner logs a problem with a source once, and again only after it has
// recovered, so a missing file does not log every tick.
type warner struct {
	log    *slog.Logger
	active map[string]bool
}

func (w *warner) problem(key string, err error) {
	if w.active[key] {
		return
	}
	w.active[key] = true
	w.log.Warn("left out of samples until it can be read again", "part", key, "err", err)
}

func (w *warner) fine(key string) {
	if w.active[key] {
		delete(w.active, key)
		w.log.Info("back in samples", "part", key)
	}
}

// check records err for key and reports whether the group can be used.
func (w *warner) check(key string, err error) bool {
	if err != nil {
		w.problem(key, err)
		return false
	}
	w.fine(key)
	return true
}
