package record

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestScanObject(t *testing.T) {
	cases := []struct {
		in, kind string
		ok       bool
	}{
		{`{"kind":"sample","v":1}`, "sample", true},
		{` {"v":1, "kind" : "issue" } `, "issue", true},
		{`{"a":{"kind":"inner"},"kind":"heal"}`, "heal", true},
		{`{"a":{"kind":"inner"}}`, "", true},
		{`{"kind":"s\u0061mple"}`, "sample", true},
		{"{\"kind\":\"\x87\"}", "\uFFFD", true},
		{`{"KIND":"x"}`, "x", true},
		{`{"kind":"a","Kind":"b"}`, "b", true},
		{`{"\u006bind":"x"}`, "x", true},
		{"{\"\u212aind\":\"x\"}", "x", true},
		{`{"kind":"a","KIND":7}`, "", true},
		{`{"kinds":"a","kin":"b"}`, "", true},
		{`{"kind":7}`, "", true},
		{`{"kind":"a","kind":7}`, "", true},
		{`{"x":[1,-0.5e+3,true,false,null,"\n",{}],"y":[]}`, "", true},
		{`{}`, "", true},
		{`{"a":01}`, "", false},
		{`{"a":1.}`, "", false},
		{`{"a":-}`, "", false},
		{`{"a":"\x"}`, "", false},
		{"{\"a\":\"\x01\"}", "", false},
		{`{"a":1,}`, "", false},
		{`{"a" 1}`, "", false},
		{`{"a":tru}`, "", false},
		{`{"a":1}{}`, "", false},
		{`[1]`, "", false},
		{`{"a":[1,2}`, "", false},
		{`{"a":"\u12g4"}`, "", false},
		{strings.Repeat(`{"a":`, maxDepth+1) + "1" + strings.Repeat("}", maxDepth+1), "", false},
	}
	for _, c := range cases {
		kind, _, err := scanObject([]byte(c.in))
		if (err == nil) != c.ok || kind != c.kind {
			t.Errorf("scanObject(%q) = %q, %v; want kind %q ok %v", c.in, kind, err, c.kind, c.ok)
		}
		// The table agrees with encoding/json, but for arrays (valid JSON,
		// not an object) and nesting past maxDepth (encoding/json allows
		// 10000 levels).
		if deep := strings.HasPrefix(c.in, `{"a":{"a"`); !deep && !strings.HasPrefix(c.in, "[") && c.ok != json.Valid([]byte(c.in)) {
			t.Errorf("case %q disagrees with json.Valid", c.in)
		}
	}
}

// FuzzScanMatchesValid holds the scanner to encoding/json: it accepts a
// line exactly when json.Valid does and the line is an object, and finds
// the same top-level kind as json.Unmarshal, and the same ts
// (Line.TS fails exactly when json.Unmarshal into a Header does).
func FuzzScanMatchesValid(f *testing.F) {
	for _, s := range []string{`{"kind":"sample","v":1,"a":[1,2.5e-3,{"b":null}]}`, `{"kind":"\u0041"}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}", `{"kind":1}`, `{} `, `[]`} {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"kind":"sample","ts":"2026-11-26T18:00:00.5+01:00"}`))
	f.Add([]byte(`{"ts":"2026-11-26T18:00:00Z","TS":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, ts, err := scanObject(b)
		if err != nil && strings.Contains(err.Error(), "nested too deep") {
			return // past maxDepth; encoding/json allows 10000 levels
		}
		trimmed := strings.TrimLeft(string(b), " \t\r\n")
		want := json.Valid(b) && strings.HasPrefix(trimmed, "{")
		if (err == nil) != want {
			t.Fatalf("scanObject(%q) error %v, json.Valid object %v", b, err, want)
		}
		if err != nil {
			return
		}
		var k struct {
			Kind json.RawMessage `json:"kind"`
		}
		if json.Unmarshal(b, &k) != nil {
			return // nested deeper than encoding/json allows: only the depth differs
		}
		var wantKind string
		if len(k.Kind) > 0 && k.Kind[0] == '"' {
			json.Unmarshal(k.Kind, &wantKind)
		}
		if kind != wantKind {
			t.Fatalf("scanObject(%q) kind %q, json.Unmarshal %q", b, kind, wantKind)
		}
		checkTS(t, Line{Raw: b, ts: ts})
	})
}

// checkTS holds Line.TS to json.Unmarshal of the line's ts into a Time.
func checkTS(t *testing.T, l Line) {
	t.Helper()
	var h struct {
		TS Time `json:"ts"`
	}
	werr := json.Unmarshal(l.Raw, &h)
	got, err := l.TS()
	if (err == nil) != (werr == nil) || err == nil && !got.Equal(h.TS.Time) {
		t.Fatalf("%q: TS() = %v, %v; json.Unmarshal %v, %v", l.Raw, got, err, h.TS.Time, werr)
	}
}

func TestLineTS(t *testing.T) {
	for _, s := range []string{
		`{"kind":"x","ts":"2026-11-26T18:00:00.123456789Z"}`, `{"ts":"2026-11-26T19:00:00+01:00"}`,
		`{}`, `{"ts":null}`, `{"ts":5}`, `{"ts":"yesterday"}`, `{"TS":"2026-11-26T18:00:00Z"}`,
		`{"ts":"2026-11-26T18:00:00Z","ts":"2026-11-27T18:00:00Z"}`, `{"ts":"2026-11-26T18:00:00Z","Ts":null}`,
		`{"ts":"2026-11-26T18:00:00\u005a"}`, `{"a":{"ts":"2026-11-26T18:00:00Z"}}`, `{"ts":"2026-11-26T18:00:00Z","ts":7}`,
	} {
		_, ts, err := scanObject([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		checkTS(t, Line{Raw: []byte(s), ts: ts})
		checkTS(t, Line{Raw: []byte(s)}) // made by hand: no span
	}
}

func BenchmarkValidate(b *testing.B) {
	line := []byte(`{"kind":"sample","v":1,"ts":"2026-11-26T19:16:31.405982022Z","host":"vm","src":"lmn-collect","seq":2,"interval_seconds":0.214233215,"cpu":{"count":2,"busy_ratio":1,"user_ratio":0.6744186046511628,"system_ratio":0.32558139534883723,"iowait_ratio":0,"steal_ratio":0},"mem":{"total_bytes":25276063744,"available_bytes":24672059392,"free_bytes":23124774912,"cached_bytes":1623437312,"available_ratio":0.976103701979966},"load":{"load1":8.87,"load5":10.73,"load15":9.95,"load1_per_cpu":4.435,"runnable":13,"processes":203}}` + "\n")
	b.Run("scan", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		for range b.N {
			if _, _, err := validate(line); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		for range b.N {
			var k struct {
				Kind json.RawMessage `json:"kind"`
			}
			if err := json.Unmarshal(line, &k); err != nil {
				b.Fatal(err)
			}
		}
	})
}
