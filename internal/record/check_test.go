package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckSampleImpossible sets one impossible value at a time, in the
// sample's own fields, its groups, its optional numbers and its lists,
// and wants the error to name that field's path with the element's index.
func TestCheckSampleImpossible(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	line := func(a float64) *PressureLine { return &PressureLine{Avg10Ratio: a} }
	base := func() Sample {
		return Sample{
			IntervalSeconds: 30,
			CPU:             &CPU{BusyRatio: 1},
			Mem: &Mem{AvailableRatio: 0, Units: []UnitResources{{Unit: "a"}, {Unit: "b", MaxUsedRatio: f(1.3), // past memory.max for a moment
				Pressure: &Pressure{Some: line(0), Full: line(1)}}}},
			Load:   &Load{Load1: 30},
			Disks:  &Disks{Devices: []BlockDevice{{Device: "a"}, {Device: "b", ReadBytesPerS: 1e12}}},
			Temps:  &Temps{Sensors: []Sensor{{Sensor: "x", Celsius: -40, CritCelsius: f(105)}}},
			Probes: []ProbeResult{{Name: "p", LatencySeconds: 0}},
		}
	}
	ok := base()
	if err := CheckSample(&ok); err != nil {
		t.Fatalf("possible values refused: %v", err)
	}
	for _, tc := range []struct {
		set  func(s *Sample)
		want string
	}{
		{func(s *Sample) { s.IntervalSeconds = -1 }, "interval_seconds: -1 is impossible (want at least 0)"},
		{func(s *Sample) { s.CPU.BusyRatio = -5 }, "cpu.busy_ratio: -5 is impossible (want 0 to 1)"},
		{func(s *Sample) { s.CPU.BusyRatio = 7.5 }, "cpu.busy_ratio: 7.5 is impossible (want 0 to 1)"},
		{func(s *Sample) { s.CPU.BusyRatio = 1e308 }, "cpu.busy_ratio: 1e+308 is impossible"},
		{func(s *Sample) { s.CPU.BusyRatio = math.NaN() }, "cpu.busy_ratio: NaN is impossible"},
		{func(s *Sample) { s.Mem.Units[1].MaxUsedRatio = f(-0.1) }, "mem.units[1].max_used_ratio: -0.1 is impossible (want at least 0)"},
		{func(s *Sample) { s.Mem.Units[1].Pressure.Full.Avg10Ratio = 1.01 }, "mem.units[1].pressure.full.avg10_ratio: 1.01 is impossible"},
		{func(s *Sample) { s.Load.Load1 = -1 }, "load.load1: -1 is impossible"},
		{func(s *Sample) { s.Disks.Devices[1].ReadBytesPerS = -1 }, "disks.devices[1].read_bytes_per_s: -1 is impossible"},
		{func(s *Sample) { s.Temps.Sensors[0].CritCelsius = f(-300) }, "temps.sensors[0].crit_celsius: -300 is impossible (want at least -273.15)"},
		{func(s *Sample) { s.Probes[0].LatencySeconds = -0.5 }, "probes[0].latency_seconds: -0.5 is impossible"},
	} {
		s := base()
		tc.set(&s)
		err := CheckSample(&s)
		var re *RangeError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckSample = %v, want a *RangeError with %q", err, tc.want)
		}
	}
}

// TestRecordedSamplesArePossible: every sample of the recorded streams of
// the tests is in range, so the check drops no real record.
func TestRecordedSamplesArePossible(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "cmd", "*", "testdata", "*", "*.ndjson"))
	more, _ := filepath.Glob(filepath.Join("..", "..", "cmd", "*", "testdata", "*.ndjson"))
	files = append(files, more...)
	n := 0
	for _, name := range files {
		if strings.Contains(name, "malformed") || strings.Contains(name, "garbage") {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range bytes.Split(data, []byte("\n")) {
			if !bytes.Contains(l, []byte(`"kind":"sample"`)) {
				continue
			}
			var s Sample
			if DecodeSample(l, &s) != nil {
				continue
			}
			n++
			if err := CheckSample(&s); err != nil {
				t.Errorf("%s line %d: %v", name, i+1, err)
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d recorded samples in %q", n, files)
	}
}

// FuzzCheckSample: whatever decodes is checked without a panic, and an
// error names a field and an element, and a value outside its range.
func FuzzCheckSample(f *testing.F) {
	for _, l := range sampleLines(f)[:5] {
		f.Add(l)
	}
	f.Add([]byte(`{"mem":{"units":[{},{"pressure":{"some":{"avg10_ratio":2}}}]}}`))
	f.Add([]byte(`{"temps":{"sensors":[{"celsius":-274}]},"cpu":{"busy_ratio":-0}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Sample
		if json.Unmarshal(b, &s) != nil {
			return
		}
		err := CheckSample(&s)
		if err == nil {
			return
		}
		var re *RangeError
		if !errors.As(err, &re) {
			t.Fatalf("%v is no *RangeError", err)
		}
		if p := re.Path(); strings.Contains(p, "[]") || p == "" {
			t.Fatalf("path %q lacks an index", p)
		}
		if re.Value >= re.Lo && re.Value <= re.Hi {
			t.Fatalf("%v refused, but in range", err)
		}
	})
}

// BenchmarkCheckSample measures CheckSample on a real sample of the
// recorded stream beside the decode lmn-detect makes of it anyway:
// "check" is the check alone, "decode" a full DecodeSample of the line.
func BenchmarkCheckSample(b *testing.B) {
	line := sampleLines(b)[0]
	var s Sample
	if err := DecodeSample(line, &s); err != nil {
		b.Fatal(err)
	}
	b.Run("check", func(b *testing.B) {
		for b.Loop() {
			if err := CheckSample(&s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		var d Sample
		for b.Loop() {
			DecodeSample(line, &d)
		}
	})
}
