package collect

import (
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/proc"
	"github.com/lmn-heal/lmn/internal/record"
	"golang.org/x/sys/unix"
)

// cpuTime is this process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs f b.N times and reports CPU time per op next to wall time.
func measure(b *testing.B, f func()) {
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime(b)
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

func realCollector(b *testing.B) *Collector {
	c := New(Config{ProcRoot: "/proc", SysRoot: "/sys", NixRoot: "/nix", Units: UnitsNone, Host: "bench"})
	b.Cleanup(func() { c.Close() })
	c.Prime()
	c.Sample(b.Context())
	return c
}

// BenchmarkSample is one full sample of this machine, as lmn-collect takes
// it each tick: every read, parse, statfs and rate, and the JSON line
// written (to io.Discard). The systemctl call is measured on its own.
func BenchmarkSample(b *testing.B) {
	c := realCollector(b)
	w := record.NewWriter(io.Discard)
	var line []byte
	measure(b, func() {
		var err error
		line, err = record.AppendSample(line[:0], c.Sample(b.Context()))
		if err != nil {
			b.Fatal(err)
		}
		w.WriteLine(line)
		w.Flush()
	})
}

// BenchmarkEncodeAppend and BenchmarkEncodeJSON encode one sample of this
// machine with AppendSample and with encoding/json (record.Writer.Emit).
func BenchmarkEncodeAppend(b *testing.B) {
	s := realCollector(b).Sample(b.Context())
	var line []byte
	measure(b, func() { line, _ = record.AppendSample(line[:0], s) })
}

func BenchmarkEncodeJSON(b *testing.B) {
	s := realCollector(b).Sample(b.Context())
	w := record.NewWriter(io.Discard)
	measure(b, func() {
		w.Emit(s)
		w.Flush()
	})
}

// BenchmarkSampleNoJSON is BenchmarkSample without encoding the line.
func BenchmarkSampleNoJSON(b *testing.B) {
	c := realCollector(b)
	measure(b, func() { c.Sample(b.Context()) })
}

// floorFiles lists the files a sample reads: all files the collector keeps
// open (all), or only those one sample on this machine read (the others are
// skipped: vmstat without swap, ipv6_route when IPv4 has a default route,
// mountinfo while the kernel says it is unchanged).
func floorFiles(b *testing.B, all bool) []string {
	c := realCollector(b)
	files := c.Files()
	before := make([]uint64, len(files))
	for i, f := range files {
		before[i] = f.Reads()
	}
	c.Sample(b.Context())
	var paths []string
	for i, f := range files {
		if all || f.Reads() > before[i] {
			paths = append(paths, f.Path())
		}
	}
	return paths
}

// BenchmarkFloorOpenRead reads every file a collector keeps open with plain
// open/read/close: the floor of a collector that reopens its files.
func BenchmarkFloorOpenRead(b *testing.B) {
	files := floorFiles(b, true)
	measure(b, func() {
		for _, f := range files {
			if _, err := os.ReadFile(f); err != nil && !os.IsNotExist(err) {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(len(files)), "files")
}

// BenchmarkFloorPread re-reads the same files through descriptors kept
// open, with pread from offset 0: the floor lmn-collect is measured against.
func BenchmarkFloorPread(b *testing.B) { benchPread(b, floorFiles(b, true)) }

// BenchmarkFloorPreadTick is BenchmarkFloorPread over only the files one
// sample reads on this machine.
func BenchmarkFloorPreadTick(b *testing.B) { benchPread(b, floorFiles(b, false)) }

func benchPread(b *testing.B, paths []string) {
	var files []*proc.File
	for _, path := range paths {
		f := proc.NewFile(path)
		if _, err := f.Read(); err != nil {
			continue // a file the machine lacks (no pressure, say)
		}
		files = append(files, f)
		b.Cleanup(func() { f.Close() })
	}
	measure(b, func() {
		for _, f := range files {
			if _, err := f.Read(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(len(files)), "files")
}

// BenchmarkSystemctl is one `systemctl list-units --failed --output=json`
// call, the part of a sample left out of BenchmarkSample. Where systemd is
// not PID 1 systemctl fails at once, so the figure is then the floor of
// starting it rather than a real listing (the benchmark says so).
func BenchmarkSystemctl(b *testing.B) {
	if _, err := exec.LookPath("systemctl"); err != nil {
		b.Skip("no systemctl here")
	}
	w := &warner{log: nil, active: map[string]bool{}}
	u := newUnitSource(Config{Units: UnitsSystem}, w)
	if _, err := u.listSystemctl(b.Context()); err != nil {
		b.Logf("systemctl fails here, so this measures starting it and its failure: %v", err)
	}
	measure(b, func() { u.listSystemctl(b.Context()) })
}
