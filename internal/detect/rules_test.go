package detect

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/config"
)

func TestDefaults(t *testing.T) {
	r := Defaults()
	want := []string{"mem_pressure", "cpu_pressure", "io_pressure", "disk_usage", "inode_usage",
		"disk_fill_trend", "swap_exhaustion", "unit_failed", "no_default_route", "interface_down",
		"temperature", "nix_store_usage", "probe_failed", "dns_failure", "unit_memory_near_limit",
		"unit_memory_pressure", "unit_oom_killed", "generation_unhealthy", "collector_absent"}
	var got []string
	for _, rl := range r.file.Rules {
		got = append(got, rl.Name)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("default rules %v, want %v", got, want)
	}
	if r.Len() != len(want)-1 { // interface_down is off until configured
		t.Errorf("%d enabled, want %d", r.Len(), len(want)-1)
	}
	if !strings.HasPrefix(r.Digest(), "sha256:") || len(r.Digest()) != 7+64 {
		t.Errorf("digest %q", r.Digest())
	}
}

// The printed rules are a rules file that loads to the same rules.
func TestPrintedRulesRoundTrip(t *testing.T) {
	for _, src := range []string{
		string(defaultsJSON),
		`{"extend":true,"rules":[{"name":"disk_usage","warning":0.9,"clear":0.85},{"name":"my","kind":"absence","intervals":2}]}`,
	} {
		a, err := ParseRules("a", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		b, err := ParseRules("b", a.JSON())
		if err != nil {
			t.Fatalf("printed rules do not load: %v\n%s", err, a.JSON())
		}
		if a.Digest() != b.Digest() || !bytes.Equal(a.JSON(), b.JSON()) {
			t.Errorf("round trip changed the rules:\n%s\n---\n%s", a.JSON(), b.JSON())
		}
	}
}

func TestExtendPatchesDefaults(t *testing.T) {
	r, err := ParseRules("mine.json", []byte(`{"extend": true, "rules": [
		{"name": "disk_usage", "warning": 0.9, "clear": 0.85},
		{"name": "cpu_pressure", "enabled": false},
		{"name": "interface_down", "enabled": true, "match": ["eth0"]},
		{"name": "load", "kind": "threshold", "metric": "load.load1_per_cpu", "warning": 2}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*rule{}
	for _, c := range r.compiled {
		byName[c.Name] = c
	}
	d := byName["disk_usage"]
	if d == nil || *d.Warning != 0.9 || *d.Clear != 0.85 || *d.Critical != 0.95 || len(d.And) != 1 {
		t.Errorf("disk_usage not patched field by field: %+v", d)
	}
	if byName["cpu_pressure"] != nil {
		t.Error("cpu_pressure still enabled")
	}
	if i := byName["interface_down"]; i == nil || !i.matches("eth0") || i.matches("wlan0") {
		t.Error("interface_down not enabled for eth0 only")
	}
	if byName["load"] == nil || len(r.compiled) != 19 {
		t.Errorf("added rule missing; %d enabled rules", len(r.compiled))
	}
	if r.Digest() == Defaults().Digest() {
		t.Error("digest did not change")
	}
}

func TestReplaceDefaults(t *testing.T) {
	r, err := ParseRules("mine.json", []byte(`{"rules":[{"name":"only","kind":"unit_failed"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 1 || r.compiled[0].Name != "only" {
		t.Errorf("rules not replaced: %s", r.JSON())
	}
}

func TestRulesErrors(t *testing.T) {
	ok := `{"name":"d","kind":"threshold","metric":"disks.mounts[].used_ratio","warning":0.9}`
	tests := []struct {
		name, file, path, msg string
	}{
		{"not json", `{"rules": [`, "", "not closed"},
		{"syntax error", `{"rules": [}`, "", "line 1 column 12"},
		{"syntax error line", "{\n\"rules\": [\n}", "", "line 3 column 1"},
		{"top unknown", `{"rulez": []}`, "rulez", "unknown field"},
		{"missing rules", `{"extend": true}`, "rules", "missing"},
		{"rules not a list", `{"rules": {}}`, "rules", "want"},
		{"rule not object", `{"rules": [` + ok + `, 3]}`, "rules[1]", "want an object"},
		{"unknown rule field", `{"rules": [` + ok + `, {"name":"x","kind":"unit_failed","fo":1}]}`, "rules[1].fo", `unknown field (did you mean "for"?)`},
		{"bad for", `{"rules": [{"name":"x","kind":"unit_failed","for":"5 minutes"}]}`, "rules[0].for", "bad duration"},
		{"negative for", `{"rules": [{"name":"x","kind":"unit_failed","for":-1}]}`, "rules[0].for", "want a number of samples"},
		{"wrong type", `{"rules": [{"name":"x","kind":"threshold","metric":"mem.available_ratio","warning":"high"}]}`, "rules[0].warning", `want a number, got "high"`},
		{"bad name", `{"rules": [{"name":"Disk Usage","kind":"unit_failed"}]}`, "rules[0].name", "lower case"},
		{"bad kind", `{"rules": [{"name":"x","kind":"thresold"}]}`, "rules[0].kind", "want one of"},
		{"field of other kind", `{"rules": [{"name":"x","kind":"unit_failed","metric":"mem.available_ratio"}]}`, "rules[0].metric", "not used by a unit_failed rule"},
		{"unknown metric", `{"rules": [{"name":"x","kind":"threshold","metric":"mem.avail","warning":1}]}`, "rules[0].metric", "mem.available_ratio"},
		{"no levels", `{"rules": [{"name":"x","kind":"threshold","metric":"mem.available_ratio"}]}`, "rules[0].warning", "needs a warning or a critical"},
		{"clear wrong side", `{"rules": [{"name":"x","kind":"threshold","metric":"mem.available_ratio","warning":0.8,"clear":0.9}]}`, "rules[0].clear", "hysteresis"},
		{"critical before warning", `{"rules": [{"name":"x","kind":"threshold","metric":"mem.available_ratio","direction":"below","warning":0.1,"critical":0.2}]}`, "rules[0].critical", "not below"},
		{"bad direction", `{"rules": [{"name":"x","kind":"threshold","metric":"mem.available_ratio","direction":"up","warning":1}]}`, "rules[0].direction", "above"},
		{"condition both", `{"rules": [{"name":"x","kind":"threshold","metric":"mem.available_ratio","warning":1,"and":[{"metric":"swap.used_ratio","above":1,"below":2}]}]}`, "rules[0].and[0]", "exactly one"},
		{"condition unknown field", `{"rules": [{"name":"x","kind":"threshold","metric":"mem.available_ratio","warning":1,"and":[{"metric":"swap.used_ratio","over":1}]}]}`, "rules[0].and[0].over", "unknown field"},
		{"condition other list", `{"rules": [{"name":"x","kind":"threshold","metric":"disks.mounts[].used_ratio","warning":1,"and":[{"metric":"temps.sensors[].celsius","above":1}]}]}`, "rules[0].and[0].metric", "disks.mounts[]"},
		{"warning_from other list", `{"rules": [{"name":"x","kind":"threshold","metric":"mem.available_ratio","warning":1,"warning_from":"temps.sensors[].high_celsius"}]}`, "rules[0].warning_from", "machine-wide"},
		{"trend without limit", `{"rules": [{"name":"x","kind":"trend","metric":"mem.available_ratio","window":"1h","horizon":"1h"}]}`, "rules[0].limit", "needs the limit"},
		{"trend history longer than window", `{"rules": [{"name":"x","kind":"trend","metric":"mem.available_ratio","limit":1,"window":"1h","horizon":"1h","min_history":"2h"}]}`, "rules[0].min_history", "longer than the window"},
		{"absence without intervals", `{"rules": [{"name":"x","kind":"absence"}]}`, "rules[0].intervals", "at least 1"},
		{"bad placeholder", `{"rules": [{"name":"x","kind":"unit_failed","summary":"{unit} failed"}]}`, "rules[0].summary", "unknown placeholder {unit}"},
		{"bad match", `{"rules": [{"name":"x","kind":"unit_failed","match":["[a"]}]}`, "rules[0].match[0]", "bad pattern"},
		{"duplicate", `{"rules": [` + ok + `,` + ok + `]}`, "rules[1].name", "already defined by rules[0]"},
		{"patch without extend", `{"rules":[{"name":"disk_usage","warning":0.9}]}`, "rules[0]", `add "extend": true to patch a built-in rule`},
		{"extend patch breaks default", `{"extend":true,"rules":[{"name":"disk_usage","warning":0.5}]}`, "rules[0].clear", "hysteresis"},
		{"flapping window", `{"rules": [{"name":"x","kind":"unit_failed","flapping":{"transitions":3}}]}`, "rules[0].flapping.window", "want a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRules("mine.json", []byte(tt.file))
			var re *config.Error
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a *config.Error", err)
			}
			if re.File != "mine.json" || re.Field != tt.path || !strings.Contains(re.Err.Error(), tt.msg) {
				t.Errorf("got file %q path %q msg %q\nwant file mine.json path %q msg containing %q", re.File, re.Field, re.Err, tt.path, tt.msg)
			}
			if !strings.Contains(err.Error(), "mine.json") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func FuzzParseRules(f *testing.F) {
	f.Add(defaultsJSON)
	f.Add([]byte(`{"extend":true,"rules":[{"name":"disk_usage","warning":0.9,"clear":0.85}]}`))
	f.Add([]byte(`{"rules":[{"name":"t","kind":"trend","metric":"disks.mounts[].used_ratio","limit":1,"window":"1h","horizon":"6h","and":[{"metric":"disks.mounts[].read_only","below":0.5}]}]}`))
	f.Add([]byte(`{"rules":[{"name":"a","kind":"absence","intervals":3,"interval":"1m","for":2}]}`))
	f.Add([]byte(`{"rules":[{"name":"x","kind":"threshold","metric":"temps.sensors[].celsius","warning":85,"warning_from":"temps.sensors[].high_celsius","summary":"{subject} {value"}]}`))
	f.Add([]byte(`{"rules":[{"name":"p","kind":"probe","probe_kinds":["tcp"],"for":2,"resolve_after":1,"match":["web*"]}]}`))
	f.Add([]byte(`{"rules":[{"name":"o","kind":"increase","metric":"mem.units[].oom_kills","window":"1m"}]}`))
	f.Add([]byte(`0`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRules("fuzz.json", data)
		if err != nil {
			var re *config.Error
			if !errors.As(err, &re) || re.File != "fuzz.json" {
				t.Fatalf("error is not a *config.Error naming the file: %v", err)
			}
			return
		}
		again, err := ParseRules("printed", r.JSON())
		if err != nil {
			t.Fatalf("printed rules do not load: %v\n%s", err, r.JSON())
		}
		if again.Digest() != r.Digest() {
			t.Fatalf("printed rules load differently:\n%s\n%s", r.JSON(), again.JSON())
		}
		// Running them must not crash either.
		e := NewEngine(r)
		e.Sample(withMount(at(0), "/", 0.99))
		e.Sample(oom(time.Second, "user", 1))
		e.Sample(probed(2*time.Second, redisResult(false, 9)))
		e.Sample(at(1e12))
	})
}

// TestDisableByNameAlone: a rule turned off needs only its name, whether
// it patches a built-in one, is new, or is in a replacing file.
func TestDisableByNameAlone(t *testing.T) {
	for _, in := range []string{
		`{"extend": true, "rules": [{"name": "cpu_pressure", "enabled": false}]}`,
		`{"extend": true, "rules": [{"name": "mine", "enabled": false}]}`,
		`{"rules": [{"name": "cpu_pressure", "enabled": false}]}`,
	} {
		r, err := ParseRules("r.json", []byte(in))
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		for _, c := range r.compiled {
			if strings.Contains(in, `"name": "`+c.Name+`"`) {
				t.Errorf("%s: %s still enabled", in, c.Name)
			}
		}
		if _, err := ParseRules("again.json", r.JSON()); err != nil {
			t.Errorf("%s: printed rules do not parse: %v", in, err)
		}
	}
	if _, err := ParseRules("r.json", []byte(`{"rules": [{"name": "mine", "enabled": true}]}`)); err == nil {
		t.Error("an enabled rule without a kind parsed")
	}
}
