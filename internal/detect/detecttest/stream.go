// Package detecttest makes synthetic but realistic sample streams for the
// tests and benchmarks of lmn-detect: a template sample shaped like one
// lmn-collect writes on a small NixOS machine, and a generator that walks
// its values through time deterministically.
package detecttest

import (
	"encoding/json"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

func f(v float64) *float64 { return &v }

// Template returns a sample shaped like one from a small NixOS machine:
// every group present, a few mounts, devices, interfaces and sensors.
func Template() record.Sample {
	ts := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	line := func(a, b, c, t float64) *record.PressureLine {
		return &record.PressureLine{Avg10Ratio: a, Avg60Ratio: b, Avg300Ratio: c, TotalSeconds: t}
	}
	return record.Sample{
		Header:          record.NewHeader(record.KindSample, "lmn-collect", "testhost", ts),
		IntervalSeconds: 1,
		CPU:             &record.CPU{Count: 2, BusyRatio: 0.12, UserRatio: 0.08, SystemRatio: 0.03, IOWaitRatio: 0.01},
		Mem: &record.Mem{TotalBytes: 4 << 30, AvailableBytes: 2 << 30, FreeBytes: 1 << 30,
			CachedBytes: 1 << 30, AvailableRatio: 0.5},
		Swap: &record.Swap{TotalBytes: 2 << 30, FreeBytes: 2 << 30},
		Load: &record.Load{Load1: 0.3, Load5: 0.25, Load15: 0.2, Load1Per: 0.15, Runnable: 1, Processes: 180},
		PSI: &record.PSI{
			CPU:    &record.Pressure{Some: line(0.01, 0.01, 0.01, 12.5), Full: line(0, 0, 0, 0)},
			Memory: &record.Pressure{Some: line(0, 0, 0, 0.2), Full: line(0, 0, 0, 0.1)},
			IO:     &record.Pressure{Some: line(0.02, 0.01, 0.01, 30), Full: line(0.01, 0, 0, 20)},
		},
		Disks: &record.Disks{
			Mounts: []record.Mount{
				{Mount: "/", Device: "/dev/vda2", FSType: "ext4", SizeBytes: 40 << 30, AvailBytes: 16 << 30, UsedRatio: 0.6, Inodes: 2621440, InodesFree: 2200000, InodesUsedRatio: 0.16, HoldsNixStore: true, HoldsVarLog: true},
				{Mount: "/boot", Device: "/dev/vda1", FSType: "vfat", SizeBytes: 512 << 20, AvailBytes: 400 << 20, UsedRatio: 0.22},
				{Mount: "/home", Device: "/dev/vdb1", FSType: "ext4", SizeBytes: 100 << 30, AvailBytes: 70 << 30, UsedRatio: 0.3, Inodes: 6553600, InodesFree: 6400000, InodesUsedRatio: 0.02},
				{Mount: "/nix/store", Device: "/dev/vda2", FSType: "ext4", SizeBytes: 40 << 30, AvailBytes: 16 << 30, UsedRatio: 0.6, Inodes: 2621440, InodesFree: 2200000, InodesUsedRatio: 0.16, ReadOnly: true, HoldsNixStore: true},
			},
			Devices: []record.BlockDevice{
				{Device: "vda", ReadBytesPerS: 4096, WriteBytesPerS: 65536, ReadsPerS: 1, WritesPerS: 8, BusyRatio: 0.01},
				{Device: "vdb", ReadBytesPerS: 0, WriteBytesPerS: 8192, WritesPerS: 1, BusyRatio: 0.001},
			},
		},
		Net: &record.Net{DefaultRoute: true, Interfaces: []record.Interface{
			{Name: "lo", Up: true, OperState: "unknown", RxBytesPerS: 1200, TxBytesPerS: 1200, RxPacketsPerS: 10, TxPacketsPerS: 10},
			{Name: "eth0", Up: true, OperState: "up", RxBytesPerS: 25000, TxBytesPerS: 4000, RxPacketsPerS: 40, TxPacketsPerS: 30},
			{Name: "wlan0", Up: false, OperState: "down"},
		}},
		Units: &record.Units{Scope: "system", Failed: []record.Unit{}},
		Temps: &record.Temps{Sensors: []record.Sensor{
			{Sensor: "thermal_zone0", Label: "acpitz", Celsius: 45, CritCelsius: f(105)},
			{Sensor: "hwmon1/temp1", Label: "Package id 0", Celsius: 52, HighCelsius: f(80), CritCelsius: f(100)},
			{Sensor: "hwmon1/temp2", Label: "Core 0", Celsius: 50, HighCelsius: f(80), CritCelsius: f(100)},
			{Sensor: "hwmon2/temp1", Label: "Composite", Celsius: 38, HighCelsius: f(82.85), CritCelsius: f(84.85)},
		}},
		Nix: &record.Nix{SystemGeneration: 42, Generations: 12},
	}
}

// Walk yields n samples starting from tmpl, step apart, with values that
// wander like a real machine's (seeded, so the same seed gives the same
// stream) and the root filesystem filling by fill (ratio) per hour.
func Walk(tmpl record.Sample, n int, step time.Duration, seed uint64, fill float64) iter.Seq[record.Sample] {
	return func(yield func(record.Sample) bool) {
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		s := tmpl
		start := tmpl.TS.Time
		for i := range n {
			s = Clone(s)
			s.Seq = uint64(i + 1)
			s.TS = record.Time{Time: start.Add(time.Duration(i) * step)}
			s.IntervalSeconds = step.Seconds()
			wander(rng, &s, fill*step.Hours())
			if !yield(Clone(s)) {
				return
			}
		}
	}
}

// Line encodes a sample as one stream line.
func Line(s *record.Sample) []byte {
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("detecttest: encode sample: %v", err))
	}
	return append(b, '\n')
}

// Clone returns a deep copy of s, so a test may change one sample of a
// stream without touching the others.
func Clone(s record.Sample) record.Sample {
	c := s
	c.CPU = ptrCopy(s.CPU)
	c.Mem = ptrCopy(s.Mem)
	c.Swap = ptrCopy(s.Swap)
	c.Load = ptrCopy(s.Load)
	c.Nix = ptrCopy(s.Nix)
	if s.PSI != nil {
		psi := *s.PSI
		psi.CPU, psi.Memory, psi.IO = pressureCopy(s.PSI.CPU), pressureCopy(s.PSI.Memory), pressureCopy(s.PSI.IO)
		c.PSI = &psi
	}
	if s.Disks != nil {
		d := *s.Disks
		d.Mounts = append([]record.Mount(nil), s.Disks.Mounts...)
		d.Devices = append([]record.BlockDevice(nil), s.Disks.Devices...)
		c.Disks = &d
	}
	if s.Net != nil {
		n := *s.Net
		n.Interfaces = append([]record.Interface(nil), s.Net.Interfaces...)
		c.Net = &n
	}
	if s.Units != nil {
		u := *s.Units
		u.Failed = append([]record.Unit{}, s.Units.Failed...)
		c.Units = &u
	}
	if s.Temps != nil {
		t := *s.Temps
		t.Sensors = append([]record.Sensor(nil), s.Temps.Sensors...)
		c.Temps = &t
	}
	return c
}

func ptrCopy[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

func pressureCopy(p *record.Pressure) *record.Pressure {
	if p == nil {
		return nil
	}
	return &record.Pressure{Some: ptrCopy(p.Some), Full: ptrCopy(p.Full)}
}

func walk(rng *rand.Rand, v, lo, hi, sd float64) float64 {
	v += rng.NormFloat64() * sd
	return math.Round(math.Max(lo, math.Min(hi, v))*10000) / 10000
}

// wander moves the values a real machine's samples move; groups the
// template lacks are left out.
func wander(rng *rand.Rand, s *record.Sample, fill float64) {
	if s.CPU != nil {
		s.CPU.BusyRatio = walk(rng, s.CPU.BusyRatio, 0, 1, 0.03)
		s.CPU.UserRatio = math.Round(s.CPU.BusyRatio*0.7*10000) / 10000
	}
	if s.Mem != nil {
		s.Mem.AvailableRatio = walk(rng, s.Mem.AvailableRatio, 0.2, 0.8, 0.005)
		s.Mem.AvailableBytes = uint64(s.Mem.AvailableRatio * float64(s.Mem.TotalBytes))
	}
	if s.Load != nil {
		s.Load.Load1 = walk(rng, s.Load.Load1, 0, 4, 0.05)
	}
	if s.PSI != nil && s.PSI.CPU != nil && s.PSI.CPU.Some != nil {
		s.PSI.CPU.Some.Avg10Ratio = walk(rng, s.PSI.CPU.Some.Avg10Ratio, 0, 0.3, 0.01)
	}
	if s.PSI != nil && s.PSI.IO != nil && s.PSI.IO.Some != nil {
		s.PSI.IO.Some.Avg10Ratio = walk(rng, s.PSI.IO.Some.Avg10Ratio, 0, 0.3, 0.01)
	}
	if s.Disks != nil {
		for i := range s.Disks.Mounts {
			m := &s.Disks.Mounts[i]
			if m.Mount == "/" {
				m.UsedRatio = math.Min(1, m.UsedRatio+fill)
				m.AvailBytes = uint64((1 - m.UsedRatio) * float64(m.SizeBytes))
			}
		}
	}
	if s.Net != nil {
		for i := range s.Net.Interfaces {
			if s.Net.Interfaces[i].Up {
				s.Net.Interfaces[i].RxBytesPerS = walk(rng, s.Net.Interfaces[i].RxBytesPerS, 0, 1e7, 2000)
			}
		}
	}
	if s.Temps != nil {
		for i := range s.Temps.Sensors {
			s.Temps.Sensors[i].Celsius = walk(rng, s.Temps.Sensors[i].Celsius, 30, 70, 0.5)
		}
	}
}

// Trouble is three hours at 30 s of a machine with trouble: / filling
// towards full, a unit failing twice, a memory pressure episode, /home
// wobbling across its levels (flapping) and the collector missing for 3
// minutes.
func Trouble() []record.Sample {
	var out []record.Sample
	i := 0
	for s := range Walk(Template(), 360, 30*time.Second, 7, 0.06) {
		s.Disks.Mounts[0].UsedRatio += 0.2 // starts at 0.8, +6%/h
		if i%4 < 2 && i > 100 && i < 200 {
			s.Disks.Mounts[2].UsedRatio = 0.97
		}
		if (i > 40 && i < 60) || (i > 250 && i < 252) {
			s.Units.Failed = []record.Unit{{Unit: "backup.service", Active: "failed"}}
		}
		if i > 150 && i < 170 {
			s.Mem.AvailableRatio = 0.04
			s.PSI.Memory.Some.Avg60Ratio = 0.3
		}
		i++
		if i > 300 && i <= 306 {
			continue // the collector is away
		}
		out = append(out, s)
	}
	return out
}
