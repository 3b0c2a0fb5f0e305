// Command gen writes testdata/stream.ndjson, the recorded stream the dash
// tests replay: one minute of samples every 5 s from a made-up host, with the
// issue and heal records lmn-detect and lmn-heal would add. Run it from
// internal/dash: go run ./testdata/gen > testdata/stream.ndjson
package main

import (
	"math"
	"os"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

var w = record.NewWriter(os.Stdout)
var t0 = time.Date(2026, 11, 26, 18, 40, 0, 123456789, time.UTC)

const host = "nixos-lab"

func hdr(kind, src string, t time.Time) record.Header { return record.NewHeader(kind, src, host, t) }
func f(v float64) *float64                            { return &v }

func main() {
	// The start records as the pipe's end sees them: each stage writes
	// its own before it passes on its upstream's (dash.PipeMisordered).
	for i, s := range []string{"lmn-heal", "lmn-detect", "lmn-collect"} {
		st := record.Start{Header: hdr(record.KindStart, s, t0.Add(time.Duration(2-i)*time.Millisecond)), Version: "0.1.0"}
		w.Emit(st)
	}
	const gib = 1 << 30
	for i := 0; i < 60; i++ {
		ts := t0.Add(time.Duration(i+1) * 5 * time.Second)
		busy := 0.25 + 0.2*math.Sin(float64(i)/5) + 0.01*float64(i%3)
		if i >= 38 && i < 50 {
			busy += 0.35
		}
		avail := 0.42 - 0.004*float64(i)
		if i >= 25 && i < 35 {
			avail = 0.09
		}
		used := 0.80 + 0.0029*float64(i)
		s := record.Sample{Header: hdr(record.KindSample, "lmn-collect", ts), Seq: uint64(i + 1), IntervalSeconds: 5,
			CPU:  &record.CPU{Count: 4, BusyRatio: busy, UserRatio: busy * 0.6, SystemRatio: busy * 0.3, IOWaitRatio: busy * 0.1},
			Mem:  &record.Mem{TotalBytes: 16 * gib, AvailableBytes: uint64(avail * 16 * gib), FreeBytes: uint64(avail * 8 * gib), CachedBytes: 5 * gib, AvailableRatio: avail},
			Swap: &record.Swap{TotalBytes: 4 * gib, FreeBytes: 3 * gib, UsedRatio: 0.25, InPerS: 0, OutPerS: float64(i % 4)},
			Load: &record.Load{Load1: busy * 4 * 1.1, Load5: 1.4, Load15: 1.1, Load1Per: busy * 1.1, Runnable: 2, Processes: 412},
			PSI: &record.PSI{
				CPU:    &record.Pressure{Some: &record.PressureLine{Avg10Ratio: busy / 10, Avg60Ratio: 0.02, Avg300Ratio: 0.01, TotalSeconds: 1234.5}},
				Memory: &record.Pressure{Some: &record.PressureLine{Avg10Ratio: (0.42 - avail) / 3, Avg60Ratio: 0.01, TotalSeconds: 88.2}, Full: &record.PressureLine{Avg10Ratio: 0.001, TotalSeconds: 12.5}},
				IO:     &record.Pressure{Some: &record.PressureLine{Avg10Ratio: 0.03, Avg60Ratio: 0.02, TotalSeconds: 301.9}, Full: &record.PressureLine{Avg10Ratio: 0.01, TotalSeconds: 150.3}},
			},
			Disks: &record.Disks{
				Mounts: []record.Mount{
					{Mount: "/", Device: "/dev/nvme0n1p2", FSType: "ext4", SizeBytes: 200 * gib, AvailBytes: uint64((1 - used) * 200 * gib), UsedRatio: used, Inodes: 13107200, InodesFree: 9000000, InodesUsedRatio: 0.313, HoldsNixStore: true, HoldsVarLog: true},
					{Mount: "/boot", Device: "/dev/nvme0n1p1", FSType: "vfat", SizeBytes: gib / 2, AvailBytes: gib / 4, UsedRatio: 0.5},
				},
				Devices: []record.BlockDevice{{Device: "nvme0n1", ReadBytesPerS: 1.5e6, WriteBytesPerS: 3.2e5 * float64(1+i%5), ReadsPerS: 40, WritesPerS: 22, BusyRatio: 0.04}},
			},
			Net: &record.Net{DefaultRoute: true, Interfaces: []record.Interface{
				{Name: "enp3s0", Up: true, OperState: "up", RxBytesPerS: 120000, TxBytesPerS: 15000, RxPacketsPerS: 110, TxPacketsPerS: 80},
				{Name: "wlp4s0", Up: false, OperState: "down"},
			}},
			Temps: &record.Temps{Sensors: []record.Sensor{
				{Sensor: "thermal_zone0", Label: "x86_pkg_temp", Celsius: 48 + 20*busy, HighCelsius: f(86), CritCelsius: f(100)},
				{Sensor: "hwmon1/temp1", Label: "Composite", Celsius: 41},
			}},
			Nix: &record.Nix{SystemGeneration: 142, Generations: 37},
		}
		if i >= 15 && i < 40 {
			s.Units = &record.Units{Scope: "system", Failed: []record.Unit{{Unit: "nginx.service", Load: "loaded", Active: "failed", Sub: "failed", Description: "Nginx Web Server"}}}
		} else {
			s.Units = &record.Units{Scope: "system", Failed: []record.Unit{}}
		}
		w.Emit(s)
		if i == 30 {
			w.WriteLine([]byte("garbage from a broken pipe\n"))
		}
		events(i, ts)
	}
	w.Flush()
}

func issue(ts time.Time, id, rule string, subj map[string]string, state, sev string, val, thr float64, since time.Time, sum string) {
	is := record.Issue{Header: hdr(record.KindIssue, "lmn-detect", ts.Add(2*time.Millisecond)), ID: id, Rule: rule, Subject: subj,
		State: state, Severity: sev, Value: val, Threshold: thr, Since: record.Time{since}, Summary: sum}
	if rule == "disk_fill_trend" {
		is.ETASeconds = f(3 * 3600)
	}
	w.Emit(is)
}

func heal(ts time.Time, d time.Duration, h record.Heal) {
	h.Header = hdr(record.KindHeal, "lmn-heal", ts.Add(d))
	w.Emit(h)
}

func events(i int, ts time.Time) {
	nginx := map[string]string{"unit": "nginx.service", "scope": "system"}
	root := map[string]string{"mount": "/"}
	switch i {
	case 17:
		issue(ts, "u-7c1e", "unit_failed", nginx, "firing", "critical", 1, 1, ts.Add(-10*time.Second), "nginx.service failed")
		heal(ts, 5*time.Millisecond, record.Heal{Issue: "u-7c1e", Rule: "unit_failed", Subject: nginx, Action: "restart_unit", Params: map[string]string{"unit": "nginx.service"}, Step: 1, Phase: "planned"})
		heal(ts, 6*time.Millisecond, record.Heal{Issue: "u-7c1e", Rule: "unit_failed", Subject: nginx, Action: "restart_unit", Step: 1, Phase: "started", Tier: "privd", Denied: map[string]string{"unprivileged": "needs root"}, Attempt: 1})
		heal(ts, 900*time.Millisecond, record.Heal{Issue: "u-7c1e", Rule: "unit_failed", Subject: nginx, Action: "restart_unit", Step: 1, Phase: "failed", Tier: "privd", Attempt: 1, DurationMS: f(894.2), Error: "job failed: start request repeated too quickly"})
	case 20:
		heal(ts, 10*time.Millisecond, record.Heal{Issue: "u-7c1e", Rule: "unit_failed", Subject: nginx, Action: "reset_failed_unit", Step: 2, Phase: "started", Tier: "privd", Attempt: 1})
		heal(ts, 40*time.Millisecond, record.Heal{Issue: "u-7c1e", Rule: "unit_failed", Subject: nginx, Action: "reset_failed_unit", Step: 2, Phase: "succeeded", Tier: "privd", Attempt: 1, DurationMS: f(28.5)})
		heal(ts, 50*time.Millisecond, record.Heal{Issue: "u-7c1e", Rule: "unit_failed", Subject: nginx, Action: "restart_unit", Step: 3, Phase: "started", Tier: "privd", Attempt: 2})
		heal(ts, 1400*time.Millisecond, record.Heal{Issue: "u-7c1e", Rule: "unit_failed", Subject: nginx, Action: "restart_unit", Step: 3, Phase: "failed", Tier: "privd", Attempt: 2, DurationMS: f(1342), Error: "unit exited with status 1"})
		heal(ts, 1410*time.Millisecond, record.Heal{Issue: "u-7c1e", Rule: "unit_failed", Subject: nginx, Action: "restart_unit", Step: 3, Phase: "gave_up", Tier: "privd", Attempt: 2, Error: "2 failures in 15m", RetryAt: &record.Time{ts.Add(10 * time.Minute)}})
	case 26:
		issue(ts, "m-0001", "mem_pressure", map[string]string{}, "firing", "warning", 0.09, 0.10, ts.Add(-30*time.Second), "memory available 9.0% < 10%")
		heal(ts, 5*time.Millisecond, record.Heal{Issue: "m-0001", Rule: "mem_pressure", Action: "drop_caches", Step: 1, Phase: "advised", Tier: "advise", Advice: "close memory-hungry programs; see top -o %MEM"})
	case 35:
		issue(ts, "m-0001", "mem_pressure", map[string]string{}, "resolved", "warning", 0.28, 0.10, ts.Add(-50*time.Second), "memory available 28.0%")
	case 40:
		issue(ts, "u-7c1e", "unit_failed", nginx, "resolved", "critical", 0, 1, ts.Add(-120*time.Second), "nginx.service active again")
	case 42:
		issue(ts, "c-0002", "cpu_pressure", map[string]string{}, "firing", "warning", 0.12, 0.10, ts.Add(-20*time.Second), "cpu some avg10 12% > 10%")
	case 50:
		issue(ts, "c-0002", "cpu_pressure", map[string]string{}, "resolved", "warning", 0.03, 0.10, ts.Add(-60*time.Second), "cpu pressure back to 3%")
	case 36:
		issue(ts, "d-9a2f", "disk_usage", root, "firing", "warning", 0.905, 0.90, ts.Add(-15*time.Second), "/ is 90.5% full (> 90%)")
		heal(ts, 5*time.Millisecond, record.Heal{Issue: "d-9a2f", Rule: "disk_usage", Subject: root, Action: "journal_vacuum", Step: 1, Phase: "started", Tier: "privd", Attempt: 1})
		heal(ts, 2200*time.Millisecond, record.Heal{Issue: "d-9a2f", Rule: "disk_usage", Subject: root, Action: "journal_vacuum", Step: 1, Phase: "succeeded", Tier: "privd", Attempt: 1, DurationMS: f(2188)})
		heal(ts, 2300*time.Millisecond, record.Heal{Issue: "d-9a2f", Rule: "disk_usage", Subject: root, Action: "nix_gc", Step: 2, Phase: "started", Tier: "unprivileged", Attempt: 1})
		heal(ts, 4300*time.Millisecond, record.Heal{Issue: "d-9a2f", Rule: "disk_usage", Subject: root, Action: "nix_gc", Step: 2, Phase: "succeeded", Tier: "unprivileged", Attempt: 1, DurationMS: f(1990)})
	case 38:
		heal(ts, 5*time.Millisecond, record.Heal{Issue: "d-9a2f", Rule: "disk_usage", Subject: root, Action: "nix_gc", Step: 2, Phase: "verified", Tier: "unprivileged", Outcome: "not_recovered"})
	case 52:
		issue(ts, "d-9a2f", "disk_usage", root, "firing", "critical", 0.951, 0.95, ts.Add(-95*time.Second), "/ is 95.1% full (> 95%)")
	case 54:
		heal(ts, 5*time.Millisecond, record.Heal{Issue: "d-9a2f", Rule: "disk_usage", Subject: root, Action: "journal_vacuum", Step: 3, Phase: "started", Tier: "privd", Attempt: 2})
		heal(ts, 700*time.Millisecond, record.Heal{Issue: "d-9a2f", Rule: "disk_usage", Subject: root, Action: "journal_vacuum", Step: 3, Phase: "failed", Tier: "privd", Attempt: 2, DurationMS: f(655.5), Error: "privd: rate limit reached for journal_vacuum"})
		heal(ts, 710*time.Millisecond, record.Heal{Issue: "d-9a2f", Rule: "disk_usage", Subject: root, Action: "journal_vacuum", Step: 3, Phase: "gave_up", Tier: "privd", Attempt: 2, Error: "breaker open after 2 attempts", RetryAt: &record.Time{ts.Add(15 * time.Minute)}})
	case 56:
		issue(ts, "t-44b0", "disk_fill_trend", root, "firing", "warning", 0.96, 1, ts.Add(-60*time.Second), "/ full in about 3h")
	}
}
