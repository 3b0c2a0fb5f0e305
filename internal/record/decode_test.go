package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// sampleLines returns real and synthetic sample lines: the recorded stream
// of lmn-detect's replay tests and samples with every field set at random
// (plain strings, so that the fast path takes them).
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
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 40 {
		var s Sample
		fill(reflect.ValueOf(&s).Elem(), r, i%4 == 0)
		plainStrings(reflect.ValueOf(&s).Elem())
		lines = append(lines, bytes.TrimSuffix(jsonLine(t, &s), []byte("\n")))
	}
	return lines
}

func TestDecodeSampleMatchesJSON(t *testing.T) {
	lines := sampleLines(t)
	if len(lines) < 30 {
		t.Fatalf("only %d lines", len(lines))
	}
	for i, l := range lines {
		var want, got Sample
		if err := json.Unmarshal(l, &want); err != nil {
			t.Fatal(err)
		}
		// The fast path itself must take these lines, or the decoder
		// is only json.Unmarshal with extra steps.
		d := sampleDecoder{b: l, want: &allFields}
		if err := d.sample(&got); err != nil || !d.end() {
			t.Fatalf("line %d left the fast path at byte %d: %v\n%s", i, d.i, err, l)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("line %d decodes differently:\n got %+v\nwant %+v", i, got, want)
		}
	}
}

// TestDecodeSampleEveryField decodes samples with every field set, in
// every shape, as encoding/json writes them: a field the generated decoder
// does not know shows up as a difference, never as a silent zero.
func TestDecodeSampleEveryField(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 2000 {
		var s, got Sample
		fill(reflect.ValueOf(&s).Elem(), r, i%10 == 0)
		line := jsonLine(t, &s)
		var want Sample
		if err := json.Unmarshal(line, &want); err != nil {
			t.Fatal(err)
		}
		if err := DecodeSample(line, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodes differently:\n got %+v\nwant %+v\n%s", got, want, line)
		}
	}
}

func TestDecodeSampleEdges(t *testing.T) {
	for _, in := range []string{
		`{"kind":"sample","ts":"2026-11-26T18:40:47.123456789+02:00","mem":null,"cpu":{"count":2},"cpu":{"busy_ratio":0.5}}`,
		`{"kind":"sample","KIND":"other"}`,
		`{"kind":"sample","host":"caf\u00e9","src":"naïve"}`,
		`{"disks":{"mounts":[{"mount":"/"},null,{"mount":"/home","read_only":true}],"mounts":[{"mount":"/x"}]}}`,
		`{"temps":{"sensors":[{"sensor":"a","high_celsius":null,"crit_celsius":105.5}]}}`,
		`{"mem":{"available_ratio":0.5,"top_units":[{"unit":"a.service","scope":"system","memory_bytes":123},null,{"unit":"b"}]}}`,
		`{"mem":{"top_units":[{"memory_bytes":-1}]}}`, `{"mem":{"top_units":[],"top_units":[{"unit":"x"}]}}`,
		`{"seq":-1}`, `{"seq":1.5}`, `{"v":1e2}`, `{"interval_seconds":1e400}`, `{"interval_seconds":01}`,
		`{"interval_seconds":-0}`, `{"interval_seconds":.5}`, `{"interval_seconds":"5"}`,
		`{"net":{"default_route":1}}`, `{"units":{"scope":"user","failed":[]}}`,
		`{"units":{"scope":"system","failed":[{"unit":"a.service","load":"loaded","active":"failed","sub":"failed","description":"A","x":1},null]}}`,
		`{"temps":{"x":1,"sensors":null}}`, `{"disks":{"devices":[{"device":"sda","busy_ratio":0.5,"q":[]}]}}`, `{"future":{"a":[1,{"b":"\""}]}}`,
		`{"ts":"yesterday"}`, `{"ts":null}`, `{} x`, `{"kind":"sample"`, `[]`, `null`, "{\"host\":\"a\x01\"}",
		"{\"host\":\"\xff\"}", `{"ſeq":5}`,
	} {
		var want, got Sample
		werr := json.Unmarshal([]byte(in), &want)
		gerr := DecodeSample([]byte(in), &got)
		if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v, %v\nwant %+v, %v", in, got, gerr, want, werr)
		}
	}
}

// FuzzDecodeSample checks DecodeSample against json.Unmarshal.
// plainStrings replaces every string reachable from v that the fast path
// would leave (escapes, bytes beyond ASCII) with a plain one.
func plainStrings(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		for _, c := range []byte(v.String()) {
			if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
				v.SetString("plain")
				return
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				plainStrings(v.Field(i))
			}
		}
	case reflect.Pointer:
		if !v.IsNil() {
			plainStrings(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			plainStrings(v.Index(i))
		}
	}
}

func FuzzDecodeSample(f *testing.F) {
	for _, l := range sampleLines(f)[:5] {
		f.Add(l)
	}
	f.Add([]byte(`{"disks":{"mounts":[{"mount":"/","used_ratio":0.5e-3}]},"temps":{"sensors":[{"crit_celsius":null}]}}`))
	f.Add([]byte(`{"cpu":{"count":2},"cpu":null,"x":[{"y":true}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var want, got Sample
		werr := json.Unmarshal(b, &want)
		gerr := DecodeSample(b, &got)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("errors differ: json %v, DecodeSample %v", werr, gerr)
		}
		if werr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("values differ:\n got %+v\nwant %+v", got, want)
		}
	})
}

// sameFor says how got (decoded for m's fields) differs from full, as m
// and its list read them, and in the header every rule reads; "" if not.
func sameFor(m *Metric, full, got *Sample) string {
	if full.Kind != got.Kind || !full.TS.Equal(got.TS.Time) || full.Host != got.Host ||
		full.IntervalSeconds != got.IntervalSeconds || full.Seq != got.Seq || full.V != got.V || full.Src != got.Src {
		return fmt.Sprintf("header: got %+v, want %+v", got, full)
	}
	if m.List == nil {
		gv, gok := m.Value(got, 0)
		wv, wok := m.Value(full, 0)
		if gv != wv && !(gv != gv && wv != wv) || gok != wok {
			return fmt.Sprintf("%s = %v, %v; want %v, %v", m.Path, gv, gok, wv, wok)
		}
		return ""
	}
	if g, w := m.List.Len(got), m.List.Len(full); g != w {
		return fmt.Sprintf("%s: %d elements, want %d", m.List.Path, g, w)
	}
	for j := range m.List.Len(full) {
		if g, w := m.List.Name(got, j), m.List.Name(full, j); g != w {
			return fmt.Sprintf("%s[%d] named %q, want %q", m.List.Path, j, g, w)
		}
		gv, gok := m.Value(got, j)
		wv, wok := m.Value(full, j)
		if gv != wv && !(gv != gv && wv != wv) || gok != wok {
			return fmt.Sprintf("%s[%d] = %v, %v; want %v, %v", m.Path, j, gv, gok, wv, wok)
		}
	}
	return ""
}

// TestSampleDecoderGivesWhatMetricsRead decodes every sample line for a
// reader of one metric, for each metric in turn, with one decoder (so its
// reused storage is exercised too), and compares with a full decode.
func TestSampleDecoderGivesWhatMetricsRead(t *testing.T) {
	lines := sampleLines(t)
	for i := range metrics {
		m := &metrics[i]
		path := m.Path
		var want FieldSet
		m.Needs(&want)
		sd := NewSampleDecoder(want)
		for i, l := range lines {
			var full, got Sample
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
