// Command lmn-collect samples the machine and writes one sample record per
// tick, and one as soon as an event says something changed, to stdout as
// newline-delimited JSON (see docs/stream.md).
//
// It reads /proc (or --proc-root), /sys (or --sys-root; the services'
// memory from its cgroup tree, fs/cgroup), the NixOS system
// profile under /nix (or --nix-root), what runs and booted (/run or
// --run-root) and lmn-privd's record of generations, and, unless --units none, the failed
// units of the system or user service manager, which it asks over a kept
// D-Bus connection (the manager's private socket, else the system or session
// bus), running `systemctl [--user] list-units --failed` only when no socket
// answers. With --probes FILE it also checks services (TCP, HTTP, DNS,
// commands; docs/probes.md), each on its own interval beside the samples,
// writes their latest results in each sample and reads the cgroups of the
// units they name (--manager-cgroup names a manager whose units are
// elsewhere in the cgroup tree). Unless --events none, it follows events
// between ticks: the manager's unit signals on that connection, the
// kernel's pressure triggers, its routing messages (links, default routes)
// and OOM kills in the cgroups of the units it watches. It reads no input;
// its stdout is the head of the pipe
// `lmn-collect | lmn-detect | lmn-heal | lmn-dash`. Diagnostics go to stderr.
//
// Exit status: 0 after --count samples, on SIGINT/SIGTERM (after finishing
// the current sample) or when the downstream closes the pipe; 1 on a write
// failure; 2 on a bad flag or probes file.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/cli"
	"github.com/lmn-heal/lmn/internal/collect"
	"github.com/lmn-heal/lmn/internal/generations"
	"github.com/lmn-heal/lmn/internal/pipe"
	"github.com/lmn-heal/lmn/internal/probe"
	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/sysfs"
	"github.com/lmn-heal/lmn/internal/systemd/dbus"
	"golang.org/x/sys/unix"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// config is lmn-collect's effective configuration.
type config struct {
	interval time.Duration
	count    int
	procRoot string
	sysRoot  string
	nixRoot  string
	runRoot  string
	genRec   string
	units    string

	// --probes and --print-probes
	probesFile  string
	printProbes bool
	events      []string
	// --manager-cgroup SCOPE=CGROUP, repeatable
	managers []sysfs.Manager

	// Seams for tests; zero means the real thing.
	host      string
	systemctl []string
	unitBus   []dbus.Addr
	booted    func() bool
	statfs    func(string, *unix.Statfs_t) error
}

// settings is the start record's view of config.
type settings struct {
	IntervalSeconds float64  `json:"interval_seconds"`
	Count           int      `json:"count"`
	ProcRoot        string   `json:"proc_root"`
	SysRoot         string   `json:"sys_root"`
	NixRoot         string   `json:"nix_root"`
	RunRoot         string   `json:"run_root"`
	GenRecord       string   `json:"generations_record"`
	Units           string   `json:"units"`
	FirstDeltaSecs  float64  `json:"first_delta_seconds"`
	Probes          string   `json:"probes,omitempty"`
	ProbeCount      int      `json:"probe_count,omitempty"`
	ManagerCgroups  []string `json:"manager_cgroups,omitempty"`
	// Events are the event sources asked for; EventsActive those that
	// work (the others are left to the tick).
	Events       []string `json:"events"`
	EventsActive []string `json:"events_active"`
}

func parseFlags(args []string, stdout, stderr io.Writer) (config, error) {
	var cfg config
	fs := cli.New("lmn-collect", version, "[flags] > samples.ndjson", stdout, stderr)
	fs.DurationVar(&cfg.interval, "interval", 30*time.Second, "time between samples when no event comes")
	fs.IntVar(&cfg.count, "count", 0, "stop after `N` samples (0: until stopped)")
	fs.StringVar(&cfg.procRoot, "proc-root", "/proc", "procfs mount point (a fixture tree in tests)")
	fs.StringVar(&cfg.sysRoot, "sys-root", "/sys", "sysfs mount point (a fixture tree in tests)")
	fs.StringVar(&cfg.nixRoot, "nix-root", "/nix", "Nix root holding var/nix/profiles/system (empty: no nix group)")
	fs.StringVar(&cfg.runRoot, "run-root", "/run", "directory holding current-system and booted-system (empty: not read)")
	fs.StringVar(&cfg.genRec, "generations-record", generations.DefaultRecord, "lmn-privd's record of generations, `FILE` (empty: not read)")
	fs.StringVar(&cfg.units, "units", collect.UnitsSystem, "failed units to report: system, user or none")
	fs.StringVar(&cfg.probesFile, "probes", "", "checks of services, JSON (`FILE`, see docs/probes.md)")
	fs.BoolVar(&cfg.printProbes, "print-probes", false, "print the effective probes (defaults filled in) as JSON and exit")
	events := fs.String("events", "all", "event sources to follow: all, none or a `LIST` of "+strings.Join(collect.Sources, ","))
	fs.Func("manager-cgroup", "a service manager's cgroup outside system.slice and user@UID.service: `SCOPE=CGROUP` (user=/sandbox), repeatable",
		func(v string) error {
			m, err := parseManager(v)
			cfg.managers = append(cfg.managers, m)
			return err
		})
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	var evErr error
	cfg.events, evErr = collect.ParseEvents(*events)
	bad := func(format string, a ...any) (config, error) { return cfg, fs.Usagef(format, a...) }
	switch {
	case cfg.interval < time.Millisecond:
		return bad("--interval %v: must be at least 1ms", cfg.interval)
	case cfg.count < 0:
		return bad("--count %d: must be 0 (until stopped) or more", cfg.count)
	case cfg.units != collect.UnitsSystem && cfg.units != collect.UnitsUser && cfg.units != collect.UnitsNone:
		return bad("--units %q: want system, user or none", cfg.units)
	case cfg.procRoot == "" || cfg.sysRoot == "":
		return bad("--proc-root and --sys-root must not be empty")
	case evErr != nil:
		return bad("--events %q: %v", *events, evErr)
	}
	// A root that is not there would give empty samples for ever: say so
	// now, as every binary says a bad flag.
	if _, err := os.Stat(filepath.Join(cfg.procRoot, "stat")); err != nil {
		return bad("--proc-root %s: not a procfs (no stat in it): %v", cfg.procRoot, errors.Unwrap(err))
	}
	if fi, err := os.Stat(cfg.sysRoot); err != nil || !fi.IsDir() {
		return bad("--sys-root %s: not a directory", cfg.sysRoot)
	}
	return cfg, nil
}

func main() {
	version = cli.Version(version) // -ldflags, else what the go command recorded
	cfg, err := parseFlags(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		os.Exit(cli.Code(err))
	}
	if os.Getenv("GOMAXPROCS") == "" {
		// A sample is sequential work. With one P the runtime does not
		// spin a second thread looking for work after every tick, which
		// cost a sixth of a sample's CPU (bench/collect.sh).
		runtime.GOMAXPROCS(1)
	}
	ctx, stop := record.NotifyContext(context.Background())
	ctx, stderr, end := pipe.Stage(ctx, os.Stdout, os.Stderr)
	code := run(ctx, cfg, os.Stdout, stderr)
	end()
	stop()
	os.Exit(code)
}

// run writes the start record, then samples until cfg.count is reached or
// ctx is done.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer) int {
	probes, err := loadProbes(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "lmn-collect: --probes %v\n", err)
		return 2
	}
	if cfg.printProbes {
		return printProbes(probes, stdout, stderr)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("src", collect.Src)
	if cfg.host == "" {
		cfg.host = record.Hostname()
	}
	c := collect.New(collect.Config{
		ProcRoot: cfg.procRoot, SysRoot: cfg.sysRoot, NixRoot: cfg.nixRoot, Units: cfg.units,
		RunRoot: cfg.runRoot, GenerationsRecord: cfg.genRec,
		Systemctl: cfg.systemctl, UnitBus: cfg.unitBus, Booted: cfg.booted, Statfs: cfg.statfs,
		Host: cfg.host, Log: log, WatchUnits: probeUnits(probes), Managers: cfg.managers,
	})
	defer c.Close()
	var sched *probe.Scheduler
	if len(probes) > 0 {
		sched = probe.NewScheduler(probes, 0)
		c.SetProbes(sched)
	}
	wake := collect.NewWake()
	ev := collect.StartEvents(ctx, c, cfg.events, wake)
	defer ev.Close()
	if sched != nil {
		stop := runProbes(ctx, sched)
		defer stop()
	}
	w := record.NewWriter(stdout)
	start := record.NewStart(collect.Src, version, time.Now(), settings{
		IntervalSeconds: cfg.interval.Seconds(), Count: cfg.count,
		ProcRoot: cfg.procRoot, SysRoot: cfg.sysRoot, NixRoot: cfg.nixRoot, Units: cfg.units,
		RunRoot: cfg.runRoot, GenRecord: cfg.genRec,
		FirstDeltaSecs: min(cfg.interval, collect.FirstDelta).Seconds(),
		Events:         cfg.events,
		EventsActive:   ev.Active(),
		Probes:         cfg.probesFile, ProbeCount: len(probes), ManagerCgroups: managerNames(cfg.managers),
	})
	start.Host = cfg.host
	err = w.Emit(start)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		var line []byte
		err = collect.Run(ctx, c, cfg.interval, cfg.count, wake, func(s *record.Sample) error {
			var err error
			line, err = record.AppendSample(line[:0], s)
			if err != nil { // a bug, not the machine: say so, keep sampling
				log.Error("sample left out", "seq", s.Seq, "err", err)
				return nil
			}
			if err := w.WriteLine(line); err != nil {
				return err
			}
			return w.Flush()
		})
	}
	switch {
	case err == nil, record.IsBrokenPipe(err):
		return 0
	default:
		log.Error("write samples", "err", err)
		return 1
	}
}
