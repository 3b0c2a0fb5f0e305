package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

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

// startProbes runs the probes beside the samples until stop is called,
// which waits for the checks running then to end.
func startProbes(ctx context.Context, probes []probe.Probe) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		probe.NewScheduler(probes, 0).Run(ctx)
		close(done)
	}()
	return func() { cancel(); <-done }
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
