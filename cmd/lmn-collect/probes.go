package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/lmn-heal/lmn/internal/probe"
	"github.com/lmn-heal/lmn/internal/sysfs"
)

// loadProbes reads --probes, if given; probes without an interval get the
// collection interval.
func loadProbes(cfg config) ([]probe.Probe, error) {
	if cfg.probesFile == "" {
		return nil, nil
	}
	return probe.Load(cfg.probesFile, cfg.interval)
}

// printProbes writes the probes as lmn-collect runs them.
func printProbes(probes []probe.Probe, stdout, stderr io.Writer) int {
	b, err := json.MarshalIndent(probe.File{Probes: append([]probe.Probe{}, probes...)}, "", "  ")
	if err == nil {
		_, err = stdout.Write(append(b, '\n'))
	}
	if err != nil {
		fmt.Fprintf(stderr, "lmn-collect: --print-probes: %v\n", err)
		return 1
	}
	return 0
}

// runProbes runs s's probes beside the samples until stop is called,
// which waits for the checks running then to end.
func runProbes(ctx context.Context, s *probe.Scheduler) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		s.Run(ctx)
		close(done)
	}()
	return func() { cancel(); <-done }
}

// parseManager reads --manager-cgroup SCOPE=CGROUP.
func parseManager(v string) (sysfs.Manager, error) {
	scope, cg, ok := strings.Cut(v, "=")
	switch {
	case !ok:
		return sysfs.Manager{}, fmt.Errorf("%q: want SCOPE=CGROUP, such as user=/lmn-sdtest-1-2", v)
	case scope != probe.ScopeSystem && scope != probe.ScopeUser:
		return sysfs.Manager{}, fmt.Errorf("%q: scope %q: want system or user", v, scope)
	case !strings.HasPrefix(cg, "/") || cg == "/" || strings.Contains(cg, ".."):
		return sysfs.Manager{}, fmt.Errorf("%q: cgroup %q: want an absolute path below the root, as /proc/PID/cgroup names it", v, cg)
	}
	return sysfs.Manager{Scope: scope, Cgroup: cg}, nil
}

func managerNames(ms []sysfs.Manager) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Scope+"="+m.Cgroup)
	}
	return out
}

// probeUnits are the units the probes speak for, whose cgroups the
// collector reads as closely as the largest services'.
func probeUnits(probes []probe.Probe) []sysfs.UnitID {
	var ids []sysfs.UnitID
	for _, p := range probes {
		if p.Unit != "" {
			ids = append(ids, sysfs.UnitID{Unit: p.Unit, Scope: p.Scope})
		}
	}
	return ids
}
