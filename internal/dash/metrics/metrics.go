package metrics

import (
	"strconv"
	"time"

	"github.com/lmn-heal/lmn/internal/dash"
	"github.com/lmn-heal/lmn/internal/record"
)

// Append writes the exposition of m to dst. now is the wall clock, used
// only for lmn_stream_age_seconds.
func Append(dst []byte, m *dash.Model, now time.Time, version string) []byte {
	e := newExpo(dst)
	e.family("lmn_dash_build_info", "gauge", "lmn-dash's version; always 1.")
	e.sample("", 1, "version", version)
	stream(e, m, now)
	if s := m.Sample; s != nil {
		e.gauge("lmn_sample_timestamp_seconds", "Time of the latest sample (Unix seconds).", unix(s.TS.Time))
		cpuMem(e, s)
		pressure(e, s.PSI)
		disks(e, s.Disks)
		network(e, s.Net)
		units(e, s.Units)
		temps(e, s.Temps)
		if n := s.Nix; n != nil {
			e.gauge("lmn_nix_system_generation", "Number of the current NixOS system generation.", float64(n.SystemGeneration))
			e.gauge("lmn_nix_generations", "System generations kept.", float64(n.Generations))
			nix(e, n)
		}
	}
	issues(e, m, now)
	heal(e, m)
	return e.b
}

// nix writes what runs against what boots, and lmn-privd's record of
// rejected generations: lmn never switches to one of them by itself.
func nix(e *expo, n *record.Nix) {
	e.gauge("lmn_nix_current_generation", "Generation of the running system (/run/current-system); 0 when it is none of the profile's.", float64(n.CurrentGeneration))
	e.gauge("lmn_nix_reboot_pending", "1 while the booted kernel is not the running system's.", b2f(n.RebootPending))
	e.gauge("lmn_nix_rejected_generations", "Systems lmn rolled back from and never switches to by itself (lmn-privd's record).", float64(len(n.Rejected)))
	if len(n.Rejected) > 0 {
		e.family("lmn_nix_rejected_generation", "gauge", "Each system lmn rejected; always 1.")
		for _, r := range n.Rejected {
			e.sample("", 1, "generation", strconv.Itoa(r.Generation), "store_path", r.StorePath)
		}
	}
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func stream(e *expo, m *dash.Model, now time.Time) {
	e.family("lmn_stream_records_total", "counter", "Records read, by kind.")
	for _, k := range []string{record.KindStart, record.KindSample, record.KindIssue, record.KindHeal} {
		e.sample("", float64(m.Records[k]), "kind", k)
	}
	e.gauge("lmn_pipe_up", "1 while the pipe is alive: a record came within the larger of a minute and three sample intervals.", b2f(m.PipeUp(now)))
	e.family("lmn_stream_rejected_lines_total", "counter", "Input lines rejected: not a JSON object, or too long.")
	e.sample("", float64(m.Rejected))
	e.family("lmn_stream_invalid_records_total", "counter", "Records that did not decode as their kind.")
	e.sample("", float64(m.Invalid))
	if m.LastTS.IsZero() {
		return
	}
	e.gauge("lmn_stream_last_record_timestamp_seconds", "Time of the latest record (Unix seconds).", unix(m.LastTS))
	e.gauge("lmn_stream_age_seconds", "Seconds since the latest record's time, by the wall clock.", now.Sub(m.LastTS).Seconds())
	e.family("lmn_stream_source_last_record_timestamp_seconds", "gauge", "Time of the latest record of each binary upstream (Unix seconds).")
	for _, name := range sortedSources(m) {
		s := m.Sources[name]
		e.sample("", unix(s.Last), "src", s.Name, "version", s.Version)
	}
}

func cpuMem(e *expo, s *record.Sample) {
	if c := s.CPU; c != nil {
		e.gauge("lmn_cpus", "Number of CPUs.", float64(c.Count))
		e.gauge("lmn_cpu_busy_ratio", "Share of CPU time not idle over the last interval.", c.BusyRatio)
		e.family("lmn_cpu_mode_ratio", "gauge", "Share of CPU time in each mode over the last interval.")
		e.sample("", c.UserRatio, "mode", "user")
		e.sample("", c.SystemRatio, "mode", "system")
		e.sample("", c.IOWaitRatio, "mode", "iowait")
		e.sample("", c.StealRatio, "mode", "steal")
	}
	if l := s.Load; l != nil {
		e.gauge("lmn_load1", "1-minute load average.", l.Load1)
		e.gauge("lmn_load5", "5-minute load average.", l.Load5)
		e.gauge("lmn_load15", "15-minute load average.", l.Load15)
		e.gauge("lmn_load1_per_cpu", "1-minute load average divided by the number of CPUs.", l.Load1Per)
		e.gauge("lmn_processes_runnable", "Runnable scheduling entities.", float64(l.Runnable))
		e.gauge("lmn_processes", "Scheduling entities that exist.", float64(l.Processes))
	}
	if mm := s.Mem; mm != nil {
		e.gauge("lmn_memory_total_bytes", "MemTotal.", float64(mm.TotalBytes))
		e.gauge("lmn_memory_available_bytes", "MemAvailable: memory available without swapping.", float64(mm.AvailableBytes))
		e.gauge("lmn_memory_free_bytes", "MemFree.", float64(mm.FreeBytes))
		e.gauge("lmn_memory_cached_bytes", "Cached.", float64(mm.CachedBytes))
		e.gauge("lmn_memory_available_ratio", "MemAvailable divided by MemTotal.", mm.AvailableRatio)
	}
	if sw := s.Swap; sw != nil {
		e.gauge("lmn_swap_total_bytes", "SwapTotal.", float64(sw.TotalBytes))
		e.gauge("lmn_swap_free_bytes", "SwapFree.", float64(sw.FreeBytes))
		e.gauge("lmn_swap_used_ratio", "Share of swap in use.", sw.UsedRatio)
		e.gauge("lmn_swap_in_pages_per_second", "Pages swapped in per second over the last interval.", sw.InPerS)
		e.gauge("lmn_swap_out_pages_per_second", "Pages swapped out per second over the last interval.", sw.OutPerS)
	}
}

func pressure(e *expo, p *record.PSI) {
	if p == nil {
		return
	}
	res := []struct {
		name string
		p    *record.Pressure
	}{{"cpu", p.CPU}, {"memory", p.Memory}, {"io", p.IO}}
	type line struct {
		res, level string
		l          *record.PressureLine
	}
	var lines []line
	for _, r := range res {
		if r.p == nil {
			continue
		}
		if r.p.Some != nil {
			lines = append(lines, line{r.name, "some", r.p.Some})
		}
		if r.p.Full != nil {
			lines = append(lines, line{r.name, "full", r.p.Full})
		}
	}
	e.family("lmn_pressure_ratio", "gauge", "Share of wall time some or all tasks stalled on a resource, averaged over a window.")
	for _, l := range lines {
		e.sample("", l.l.Avg10Ratio, "resource", l.res, "level", l.level, "window", "10s")
		e.sample("", l.l.Avg60Ratio, "resource", l.res, "level", l.level, "window", "60s")
		e.sample("", l.l.Avg300Ratio, "resource", l.res, "level", l.level, "window", "300s")
	}
	e.family("lmn_pressure_stalled_seconds_total", "counter", "Total stall time since boot.")
	for _, l := range lines {
		e.sample("", l.l.TotalSeconds, "resource", l.res, "level", l.level)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func sortedSources(m *dash.Model) []string {
	out := make([]string, 0, len(m.Sources))
	for k := range m.Sources {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}
