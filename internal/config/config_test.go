package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testFile is shaped like the configurations lmn reads: lists of named
// objects, nested kinds, durations, maps and an embedded struct.
type testFile struct {
	Extend bool        `json:"extend"`
	Probes []testProbe `json:"probes"`
	Limits map[string]Duration
}

type testProbe struct {
	testCommon
	Interval Duration `json:"interval"`
	TCP      *struct {
		Address string `json:"address"`
		Send    string `json:"send,omitempty"`
	} `json:"tcp,omitempty"`
	HTTP *struct {
		Status []int `json:"status"`
	} `json:"http,omitempty"`
	Count  uint    `json:"count"`
	Ratio  float64 `json:"ratio"`
	hidden int
}

type testCommon struct {
	Name string `json:"name"`
	Unit string `json:"unit,omitempty"`
}

func TestDecodeNamesTheField(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"probes":[{"name":"a"},{"name":"b","tcp":{"adress":"x"}}]}`,
			`probes[1].tcp.adress: unknown field (did you mean "address"?)`},
		{`{"probes":[{"name":"a","intervall":"5s"}]}`,
			`probes[0].intervall: unknown field (did you mean "interval"?)`},
		{`{"probes":[{"zzz":1}]}`,
			`probes[0].zzz: unknown field (known: name, unit, interval, tcp, http, count, ratio)`},
		{`{"probes":[{"interval":5}]}`,
			`probes[0].interval: want a duration string such as "90s", "5m" or "1h30m", got 5`},
		{`{"probes":[{"interval":"5 minutes"}]}`,
			`probes[0].interval: bad duration "5 minutes": want a form such as "90s", "5m" or "1h30m"`},
		{`{"probes":[{"interval":"-5s"}]}`, `probes[0].interval: negative duration -5s`},
		{`{"probes":[{"http":{"status":[200,"ok"]}}]}`, `probes[0].http.status[1]: want a whole number, got "ok"`},
		{`{"probes":[{"count":-1}]}`, `probes[0].count: want a whole number, 0 or more, got -1`},
		{`{"probes":[{"ratio":"x"}]}`, `probes[0].ratio: want a number, got "x"`},
		{`{"probes":{"name":"a"}}`, `probes: want a list, got {"name":"a"}`},
		{`{"probes":[{"name":7}]}`, `probes[0].name: want a string, got 7`},
		{`{"extend":"yes"}`, `extend: want true or false, got "yes"`},
		{`{"Limits":{"a.b":"1x"}}`, `Limits["a.b"]: bad duration "1x": want a form such as "90s", "5m" or "1h30m"`},
		{`{"probes":[{"hidden":1}]}`, `probes[0].hidden: unknown field (known: name, unit, interval, tcp, http, count, ratio)`},
		{"{\n  \"probes\": [\n    {\"name\": \"a\",}\n  ]\n}", `line 3 column 18: invalid character '}' looking for beginning of object key string`},
		{`{"extend":true} {}`, `line 1 column 17: data after the JSON value`},
		{`{"probes":[`, `unexpected end of the file: a bracket or quote is not closed`},
		{``, `empty: want a JSON object`},
		{`[]`, `want an object, got []`},
	} {
		var f testFile
		err := Decode([]byte(tc.in), &f)
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("Decode(%s) = %v, want an *Error", tc.in, err)
			continue
		}
		if got := err.Error(); got != tc.want {
			t.Errorf("Decode(%s):\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

func TestDecodeKeepsDefaults(t *testing.T) {
	f := testFile{Extend: true, Limits: map[string]Duration{"old": Duration(time.Second)}}
	in := `{"probes":[{"name":"web","Unit":"nginx.service","interval":"1m30s","tcp":{"address":"127.0.0.1:80"}}],"Limits":{"new":"2h"}}`
	if err := Decode([]byte(in), &f); err != nil {
		t.Fatal(err)
	}
	p := f.Probes[0]
	if !f.Extend || p.Name != "web" || p.Unit != "nginx.service" || p.Interval.D() != 90*time.Second || p.TCP.Address != "127.0.0.1:80" {
		t.Errorf("decoded %+v", f)
	}
	if len(f.Limits) != 2 || f.Limits["new"].D() != 2*time.Hour {
		t.Errorf("limits %v", f.Limits)
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "probes.json")
	if err := os.WriteFile(path, []byte(`{"probes":[{"nmae":"a"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var f testFile
	err := Load(path, &f)
	want := path + `: probes[0].nmae: unknown field (did you mean "name"?)`
	if err == nil || err.Error() != want {
		t.Errorf("Load = %v, want %s", err, want)
	}
	err = Load(filepath.Join(dir, "missing.json"), &f)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
}

func TestFieldJoinsPaths(t *testing.T) {
	inner := Errorf("tcp.address", "want host:port, got %q", "x")
	err := In("p.json", Field("probes[2]", inner))
	if want := `p.json: probes[2].tcp.address: want host:port, got "x"`; err.Error() != want {
		t.Errorf("got %s, want %s", err, want)
	}
	if got := Field("steps[0]", Errorf("[1].action", "x")).Error(); got != "steps[0][1].action: x" {
		t.Errorf("got %s", got)
	}
	if got := In("f", errors.New("boom")).Error(); got != "f: boom" {
		t.Errorf("got %s", got)
	}
}

func TestDurationString(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 500 * time.Millisecond: "500ms", 90 * time.Second: "1m30s", 5 * time.Minute: "5m",
		time.Hour: "1h", 90 * time.Minute: "1h30m", time.Hour + 5*time.Second: "1h0m5s", 14 * 24 * time.Hour: "336h",
	} {
		if got := Duration(d).String(); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
		b, _ := json.Marshal(Duration(d))
		var back Duration
		if err := json.Unmarshal(b, &back); err != nil || back.D() != d {
			t.Errorf("round trip of %v through %s: %v, %v", d, b, back, err)
		}
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"unit_failed", "disk_usage", "mem_pressure", "hold"}
	for name, want := range map[string]string{
		"unit_faild": `did you mean "unit_failed"?`, "disk_usag": `did you mean "disk_usage"?`,
		"hodl": `did you mean "hold"?`, "x": "", "memory_pressure": `did you mean "mem_pressure"?`,
		"something_else": "",
	} {
		if got := Suggest(name, known); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", name, got, want)
		}
	}
}

// FuzzDecode holds Decode to encoding/json's strict decoding: it accepts
// exactly what json accepts (one value, no unknown fields), and every
// refusal is an *Error.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"probes":[{"name":"a","interval":"5s","tcp":{"address":"x"}}]}`,
		`{"probes":[{"http":{"status":[200]}}],"Limits":{"a":"1h"}}`,
		`{"extend":true}`, `{"probes":null}`, `{"PROBES":[]}`, `{"probes":[{"nmae":1}]}`, `[1]`, `{} x`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var a, b testFile
		err := Decode(data, &a)
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		jerr := dec.Decode(&b)
		if jerr == nil {
			if _, terr := dec.Token(); terr != io.EOF {
				jerr = errors.New("data after the value")
			}
		}
		if (err == nil) != (jerr == nil) {
			t.Fatalf("Decode(%q) = %v, encoding/json = %v", data, err, jerr)
		}
		var ce *Error
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("Decode(%q) = %T %v, want *Error", data, err, err)
		}
	})
}
