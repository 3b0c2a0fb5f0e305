package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/lmn-heal/lmn/internal/record"
)

// sameFor says how got (decoded for m's fields) differs from full, as m
// and its list read them, and in the header every rule reads; "" if not.
func sameFor(m *metric, full, got *record.Sample) string {
	if full.Kind != got.Kind || !full.TS.Equal(got.TS.Time) || full.Host != got.Host ||
		full.IntervalSeconds != got.IntervalSeconds || full.Seq != got.Seq || full.V != got.V || full.Src != got.Src {
		return fmt.Sprintf("header: got %+v, want %+v", got, full)
	}
	if m.list == nil {
		gv, gok := m.scalar(got)
		wv, wok := m.scalar(full)
		if gv != wv && !(gv != gv && wv != wv) || gok != wok {
			return fmt.Sprintf("%s = %v, %v; want %v, %v", m.path, gv, gok, wv, wok)
		}
		return ""
	}
	if g, w := m.list.n(got), m.list.n(full); g != w {
		return fmt.Sprintf("%s: %d elements, want %d", m.list.path, g, w)
	}
	for j := range m.list.n(full) {
		if g, w := m.list.name(got, j), m.list.name(full, j); g != w {
			return fmt.Sprintf("%s[%d] named %q, want %q", m.list.path, j, g, w)
		}
		gv, gok := m.elem(got, j)
		wv, wok := m.elem(full, j)
		if gv != wv && !(gv != gv && wv != wv) || gok != wok {
			return fmt.Sprintf("%s[%d] = %v, %v; want %v, %v", m.path, j, gv, gok, wv, wok)
		}
	}
	return ""
}

// TestSampleDecoderGivesWhatRulesRead decodes every sample line for a rule
// set reading one metric, for each metric in turn, with one decoder (so
// its reused storage is exercised too), and compares with a full decode.
func TestSampleDecoderGivesWhatRulesRead(t *testing.T) {
	lines := sampleLines(t)
	for path, m := range metrics {
		sd := &SampleDecoder{strs: map[string]string{}}
		m.needs(&sd.want)
		for i, l := range lines {
			var full, got record.Sample
			if err := DecodeSample(l, &full); err != nil {
				t.Fatal(err)
			}
			if err := sd.Decode(l, &got); err != nil {
				t.Fatalf("%s: line %d: %v", path, i, err)
			}
			if diff := sameFor(m, &full, &got); diff != "" {
				t.Fatalf("%s: line %d: %s", path, i, diff)
			}
		}
	}
}

// TestDefaultsDecoderSkips checks that the default rules' decoder leaves
// out what they do not read (the point of it) and keeps the units group
// unit_failed reads whole.
func TestDefaultsDecoderSkips(t *testing.T) {
	sd := Defaults().Decoder()
	skipped, units := 0, 0
	for i, l := range sampleLines(t) {
		var full, got record.Sample
		if err := DecodeSample(l, &full); err != nil {
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
		if !reflect.DeepEqual(full.Units, got.Units) {
			t.Fatalf("line %d: units %+v, want %+v", i, got.Units, full.Units)
		}
		if full.Units != nil && len(full.Units.Failed) > 0 {
			units++
		}
	}
	if skipped == 0 || units == 0 {
		t.Fatalf("lines with cpu %d, with failed units %d: want some of each", skipped, units)
	}
}

// FuzzSampleDecoder checks the default rules' decoder against a full
// decode: it fails exactly when json.Unmarshal does, gives every metric
// the rules read as the full decode does, and nothing of the line it
// decoded before leaks into the next.
func FuzzSampleDecoder(f *testing.F) {
	for _, l := range sampleLines(f)[:5] {
		f.Add(l)
	}
	f.Add([]byte(`{"disks":{"mounts":[{"mount":"/","used_ratio":0.5e-3}],"devices":[{"busy_ratio":1e999}]}}`))
	f.Add([]byte(`{"cpu":{"count":2,"busy_ratio":"x"},"psi":{"io":{"full":{"avg60_ratio":0.3}},"io":null,"io":{}}}`))
	f.Add([]byte(`{"load":{"runnable":99999999999999999999},"net":{"interfaces":[{"up":1}]}}`))
	rules := Defaults()
	prev := sampleLines(f)[0]
	// The metrics the rules read, in a fixed order: ranging over the map
	// would vary the coverage the fuzzer sees from run to run.
	var read []*metric
	for _, p := range slices.Sorted(maps.Keys(metrics)) {
		var need fieldSet
		metrics[p].needs(&need)
		if need == need.and(rules.fields) {
			read = append(read, metrics[p])
		}
	}
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
		for _, m := range read {
			if diff := sameFor(m, &full, &got); diff != "" {
				t.Fatal(diff)
			}
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
	b.Run("full", func(b *testing.B) { run(b, DecodeSample) })
	b.Run("json", func(b *testing.B) {
		run(b, func(l []byte, s *record.Sample) error { *s = record.Sample{}; return json.Unmarshal(l, s) })
	})
}

// TestPlainRun checks the eight-at-a-time scan against the byte table for
// every byte value at every position of a word, after a plain prefix.
func TestPlainRun(t *testing.T) {
	for n := range 20 {
		for pos := range n {
			for c := range 256 {
				b := bytes.Repeat([]byte("a"), n)
				b[pos] = byte(c)
				want := 0
				for want < len(b) && plain[b[want]] {
					want++
				}
				if got := plainRun(b, 0); got != want {
					t.Fatalf("plainRun(%q) = %d, want %d", b, got, want)
				}
			}
		}
	}
}
