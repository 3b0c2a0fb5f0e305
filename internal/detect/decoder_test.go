package detect

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/detect/detecttest"
	"github.com/lmn-heal/lmn/internal/record"
)

// sampleLines returns real and synthetic sample lines: the recorded stream
// of lmn-detect's replay tests and a walk from the template.
func sampleLines(t testing.TB) [][]byte {
	var lines [][]byte
	rec, err := os.ReadFile(filepath.Join("..", "..", "cmd", "lmn-detect", "testdata", "replay", "recorded.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range bytes.Split(rec, []byte("\n")) {
		if bytes.Contains(l, []byte(`"kind":"sample"`)) {
			lines = append(lines, l)
		}
	}
	for s := range detecttest.Walk(detecttest.Template(), 20, time.Second, 3, 0.01) {
		lines = append(lines, bytes.TrimSuffix(detecttest.Line(&s), []byte("\n")))
	}
	for i, s := range detecttest.Trouble() {
		if i%10 == 0 || len(s.Units.Failed) > 0 {
			lines = append(lines, bytes.TrimSuffix(detecttest.Line(&s), []byte("\n")))
		}
	}
	for _, s := range serviceScenario() {
		lines = append(lines, bytes.TrimSuffix(detecttest.Line(&s), []byte("\n")))
	}
	return lines
}

// readByRules returns every value the rules read of s: the header the
// engine reads, each metric of each subject, and the failed units.
func readByRules(r *Rules, s *record.Sample) []any {
	out := []any{s.Kind, s.TS.Time, s.Host, s.IntervalSeconds}
	if s.Units != nil {
		out = append(out, s.Units.Scope, len(s.Units.Failed))
		for _, u := range s.Units.Failed {
			out = append(out, u.Unit)
		}
	}
	for _, p := range s.Probes {
		out = append(out, p.Name, p.Unit, p.Scope, p.Kind, p.OK, p.Error, p.Streak)
	}
	for _, c := range r.compiled {
		ms := []*metric{c.metric, c.warnFrom, c.critFrom}
		for _, k := range append(c.and, c.escalate...) {
			ms = append(ms, k.m)
		}
		for _, m := range ms {
			if m == nil {
				continue
			}
			if m.List == nil {
				v, ok := m.value(s, 0)
				out = append(out, v, ok)
				continue
			}
			for j := range m.List.Len(s) {
				v, ok := m.value(s, j)
				out = append(out, m.List.Name(s, j), m.List.Scope(s, j), v, ok)
			}
		}
	}
	return out
}

// TestDefaultsDecoderSkips checks that the default rules' decoder leaves
// out what they do not read (the point of it) and gives all they read,
// the failed units unit_failed reads among them, as a full decode does.
func TestDefaultsDecoderSkips(t *testing.T) {
	rules := Defaults()
	sd := rules.Decoder()
	skipped, units, probes := 0, 0, 0
	for i, l := range sampleLines(t) {
		var full, got record.Sample
		if err := record.DecodeSample(l, &full); err != nil {
			t.Fatal(err)
		}
		if err := sd.Decode(l, &got); err != nil {
			t.Fatal(err)
		}
		if full.CPU != nil && full.CPU.BusyRatio != 0 {
			if got.CPU != nil && got.CPU.BusyRatio != 0 {
				t.Fatalf("line %d: cpu.busy_ratio decoded, but no default rule reads it", i)
			}
			skipped++
		}
		if g, w := readByRules(rules, &got), readByRules(rules, &full); !reflect.DeepEqual(g, w) {
			t.Fatalf("line %d: the rules read\n%v\nwant\n%v", i, g, w)
		}
		if full.Units != nil && len(full.Units.Failed) > 0 {
			units++
		}
		if len(full.Probes) > 0 {
			probes++
		}
	}
	if skipped == 0 || units == 0 || probes == 0 {
		t.Fatalf("lines with cpu %d, with failed units %d, with probes %d: want some of each", skipped, units, probes)
	}
}

// FuzzSampleDecoder checks the default rules' decoder against a full
// decode: it fails exactly when json.Unmarshal does, gives every value the
// rules read as the full decode does, and nothing of the line it decoded
// before leaks into the next.
func FuzzSampleDecoder(f *testing.F) {
	for _, l := range sampleLines(f)[:5] {
		f.Add(l)
	}
	f.Add([]byte(`{"disks":{"mounts":[{"mount":"/","used_ratio":0.5e-3}],"devices":[{"busy_ratio":1e999}]}}`))
	f.Add([]byte(`{"cpu":{"count":2,"busy_ratio":"x"},"psi":{"io":{"full":{"avg60_ratio":0.3}},"io":null,"io":{}}}`))
	f.Add([]byte(`{"load":{"runnable":99999999999999999999},"net":{"interfaces":[{"up":1}]}}`))
	rules := Defaults()
	prev := sampleLines(f)[0]
	f.Fuzz(func(t *testing.T, b []byte) {
		sd := rules.Decoder()
		var got, full record.Sample
		if err := sd.Decode(prev, &got); err != nil {
			t.Fatal(err)
		}
		werr := json.Unmarshal(b, &full)
		gerr := sd.Decode(b, &got)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("errors differ: json %v, Decode %v", werr, gerr)
		}
		if werr != nil {
			return
		}
		if g, w := readByRules(rules, &got), readByRules(rules, &full); !reflect.DeepEqual(g, w) {
			t.Fatalf("the rules read\n%v\nwant\n%v", g, w)
		}
	})
}

// BenchmarkSampleDecoder decodes real-looking sample lines three ways: as
// lmn-detect does with the default rules, in full, and with json.Unmarshal.
func BenchmarkSampleDecoder(b *testing.B) {
	lines := sampleLines(b)
	var size int64
	for _, l := range lines {
		size += int64(len(l))
	}
	run := func(b *testing.B, decode func([]byte, *record.Sample) error) {
		b.SetBytes(size)
		var s record.Sample
		for b.Loop() {
			for _, l := range lines {
				if err := decode(l, &s); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("defaults", func(b *testing.B) { run(b, Defaults().Decoder().Decode) })
	b.Run("full", func(b *testing.B) { run(b, record.DecodeSample) })
	b.Run("json", func(b *testing.B) {
		run(b, func(l []byte, s *record.Sample) error { *s = record.Sample{}; return json.Unmarshal(l, s) })
	})
}
