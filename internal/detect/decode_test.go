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
	return lines
}

func TestDecodeSampleMatchesJSON(t *testing.T) {
	lines := sampleLines(t)
	if len(lines) < 30 {
		t.Fatalf("only %d lines", len(lines))
	}
	for i, l := range lines {
		var want, got record.Sample
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
		"{\"host\":\"\xff\"}", `{"ſeq":5}`, `{"seq":2,"trigger":"unit"}`, `{"trigger":null}`, `{"trigger":1}`,
	} {
		var want, got record.Sample
		werr := json.Unmarshal([]byte(in), &want)
		gerr := DecodeSample([]byte(in), &got)
		if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v, %v\nwant %+v, %v", in, got, gerr, want, werr)
		}
	}
}

// FuzzDecodeSample checks DecodeSample against json.Unmarshal.
func FuzzDecodeSample(f *testing.F) {
	for _, l := range sampleLines(f)[:5] {
		f.Add(l)
	}
	f.Add([]byte(`{"disks":{"mounts":[{"mount":"/","used_ratio":0.5e-3}]},"temps":{"sensors":[{"crit_celsius":null}]}}`))
	f.Add([]byte(`{"cpu":{"count":2},"cpu":null,"x":[{"y":true}]}`))
	f.Add([]byte(`{"seq":3,"interval_seconds":0.02,"trigger":"psi","cpu":{"count":2}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var want, got record.Sample
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
