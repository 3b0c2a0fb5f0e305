package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// realisticStream is n samples shaped like lmn-collect's on a small
// machine (three mounts, three interfaces, psi, two sensors, failed units),
// one second apart, with an issue firing and resolving every 100 samples.
func realisticStream(n int) []byte {
	t0 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	p := func(v float64) *record.PressureLine {
		return &record.PressureLine{Avg10Ratio: v, Avg60Ratio: v, Avg300Ratio: v, TotalSeconds: 12.5}
	}
	hi := 90.0
	var b bytes.Buffer
	for i := range n {
		ts := t0.Add(time.Duration(i) * time.Second)
		s := record.Sample{
			Header: record.NewHeader(record.KindSample, "lmn-collect", "box", ts), Seq: uint64(i), IntervalSeconds: 1,
			CPU:  &record.CPU{Count: 2, BusyRatio: 0.31, UserRatio: 0.2, SystemRatio: 0.1, IOWaitRatio: 0.01},
			Mem:  &record.Mem{TotalBytes: 8 << 30, AvailableBytes: 3 << 30, FreeBytes: 1 << 30, CachedBytes: 2 << 30, AvailableRatio: 0.375},
			Swap: &record.Swap{TotalBytes: 2 << 30, FreeBytes: 2 << 30},
			Load: &record.Load{Load1: 0.5, Load5: 0.4, Load15: 0.3, Load1Per: 0.25, Runnable: 1, Processes: 300},
			PSI: &record.PSI{CPU: &record.Pressure{Some: p(0.01)}, Memory: &record.Pressure{Some: p(0), Full: p(0)},
				IO: &record.Pressure{Some: p(0.02), Full: p(0.01)}},
			Disks: &record.Disks{Mounts: []record.Mount{
				{Mount: "/", Device: "/dev/vda1", FSType: "ext4", SizeBytes: 100 << 30, AvailBytes: 40 << 30, UsedRatio: 0.6, Inodes: 6 << 20, InodesFree: 5 << 20, InodesUsedRatio: 0.16, HoldsNixStore: true, HoldsVarLog: true},
				{Mount: "/boot", Device: "/dev/vda2", FSType: "vfat", SizeBytes: 512 << 20, AvailBytes: 300 << 20, UsedRatio: 0.41},
				{Mount: "/home", Device: "/dev/vdb1", FSType: "ext4", SizeBytes: 500 << 30, AvailBytes: 200 << 30, UsedRatio: 0.6},
			}, Devices: []record.BlockDevice{{Device: "vda", ReadBytesPerS: 1000, WriteBytesPerS: 20000, BusyRatio: 0.01}}},
			Net: &record.Net{DefaultRoute: true, Interfaces: []record.Interface{{Name: "lo", Up: true, OperState: "unknown"},
				{Name: "eth0", Up: true, OperState: "up", RxBytesPerS: 1200, TxBytesPerS: 800}, {Name: "wlan0", OperState: "down"}}},
			Units: &record.Units{Scope: "system", Failed: []record.Unit{}},
			Temps: &record.Temps{Sensors: []record.Sensor{{Sensor: "thermal_zone0", Celsius: 48, HighCelsius: &hi}, {Sensor: "hwmon1/temp1", Celsius: 45}}},
		}
		line, _ := json.Marshal(s)
		b.Write(line)
		b.WriteByte('\n')
		if i%100 == 50 || i%100 == 80 {
			state := record.StateFiring
			if i%100 == 80 {
				state = record.StateResolved
			}
			is := record.Issue{Header: record.NewHeader(record.KindIssue, "lmn-detect", "box", ts), ID: fmt.Sprintf("u%d", i/100),
				Rule: "unit_failed", Subject: map[string]string{"unit": fmt.Sprintf("u%d.service", i/100), "scope": "system"},
				State: state, Severity: record.SeverityWarning, Since: record.Time{Time: ts}}
			line, _ = json.Marshal(is)
			b.Write(line)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// BenchmarkHeal runs the whole filter (read, pass on, decide, write) in
// --dry-run over a realistic stream, and in the same loop the floor to
// compare with: splitting the same stream into lines and decoding each
// into record.Sample. Alternating the two in one run keeps the ratio
// meaningful on a noisy shared machine. ratio > 1: lmn-heal passes the
// stream on faster than a bare decode of it.
func BenchmarkHeal(b *testing.B) {
	in := realisticStream(10000)
	lines := bytes.Count(in, []byte("\n"))
	cfg, _ := parseFlags([]string{"--dry-run"}, io.Discard, io.Discard)
	cfg.inline = true
	var heal, bare time.Duration
	for range b.N {
		t0 := time.Now()
		if code := run(context.Background(), cfg, bytes.NewReader(in), io.Discard, io.Discard); code != 0 {
			b.Fatal(code)
		}
		t1 := time.Now()
		bareDecode(b, in)
		heal += t1.Sub(t0)
		bare += time.Since(t1)
	}
	n := float64(lines * b.N)
	b.ReportMetric(n/heal.Seconds(), "heal-records/s")
	b.ReportMetric(n/bare.Seconds(), "decode-records/s")
	b.ReportMetric(bare.Seconds()/heal.Seconds(), "ratio")
}

func bareDecode(b *testing.B, in []byte) {
	sc := bufio.NewScanner(bytes.NewReader(in))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s record.Sample
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			b.Fatal(err)
		}
	}
}
