package heal

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/config"
)

func TestFind(t *testing.T) {
	p := DefaultPolicy()
	for _, tc := range []struct {
		rule string
		vars map[string]string
		want string
	}{
		{"unit_failed", map[string]string{"unit": "a.service"}, "unit_failed"},
		{"unit_failed", map[string]string{}, ""}, // no unit: no match
		{"disk_usage", map[string]string{"mount": "/", "holds_nix_store": "true", "holds_var_log": "true"}, "nix_store_full"},
		{"disk_fill_trend", map[string]string{"mount": "/var", "holds_nix_store": "false", "holds_var_log": "true"}, "var_log_full"},
		{"inode_usage", map[string]string{"mount": "/home"}, "disk_full"},
		{"temperature", map[string]string{"sensor": "x"}, "temperature"},
		{"interface_down", map[string]string{"interface": "eth0"}, "network"},
		{"made_up", nil, ""},
	} {
		got := ""
		if l := p.Find(tc.rule, tc.vars); l != nil {
			got = l.Name
		}
		if got != tc.want {
			t.Errorf("%s %v: ladder %q, want %q", tc.rule, tc.vars, got, tc.want)
		}
	}
}

func TestParsePolicyReplaceAndExtend(t *testing.T) {
	p, err := ParsePolicy("policy.json", []byte(`{"ladders": [{"name": "x", "rules": ["cpu_*"], "advice": "a"}]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Ladders) != 1 || p.Concurrency != 1 || p.Breaker.MaxAttempts != 3 {
		t.Errorf("replace: %+v", p)
	}
	if l := p.Find("cpu_pressure", nil); l == nil || l.Name != "x" {
		t.Error("glob rule did not match")
	}
	p, err = ParsePolicy("policy.json", []byte(`{"extend": true, "breaker": {"max_attempts": 5},
		"ladders": [{"name": "temperature", "enabled": false, "rules": ["temperature"], "advice": "a"}]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Breaker.MaxAttempts != 5 || p.Breaker.Window.D() != 30*time.Minute {
		t.Errorf("extend settings: %+v", p.Breaker)
	}
	if len(p.Ladders) != len(DefaultPolicy().Ladders) || p.Find("temperature", map[string]string{"sensor": "x"}) != nil {
		t.Error("extend: disabled ladder still answers, or ladders lost")
	}
	for _, bad := range []string{
		`{"concurrency": 0}`, `{"budget": {"max_actions": 0}}`, `{"breaker": {"backoff": "1h"}}`,
		`{"ladders": [{"name": "a", "rules": ["x"], "advice": "a"}, {"name": "a", "rules": ["y"], "advice": "b"}]}`,
		`{"ladders": [{"name": "a", "rules": ["x"], "match": {"m": "["}, "advice": "a"}]}`,
		`{"ladders": [{"name": "a", "rules": ["x"], "advice": "a", "steps": [{"actions": [{"action": "noop"}]}]}]}`,
		`{} {}`,
	} {
		_, err := ParsePolicy("policy.json", []byte(bad), nil)
		var ce *config.Error
		if err == nil {
			t.Errorf("%s accepted", bad)
		} else if !errors.As(err, &ce) || ce.Field == "" && !strings.Contains(err.Error(), "line ") {
			t.Errorf("%s: error %q does not say where", bad, err)
		}
	}
}

func TestBackoff(t *testing.T) {
	cfg := Breaker{Backoff: config.Duration(30 * time.Second), MaxBackoff: config.Duration(100 * time.Second)}
	for n, want := range map[int]time.Duration{1: 30 * time.Second, 2: 60 * time.Second, 3: 100 * time.Second, 9: 100 * time.Second} {
		if got := backoff(cfg, n); got != want {
			t.Errorf("backoff after %d attempts = %v, want %v", n, got, want)
		}
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"unit": "a.service", "empty": ""}
	for _, tc := range []struct{ in, out, missing string }{
		{"{{unit}}", "a.service", ""},
		{"x {{ unit }} y", "x a.service y", ""},
		{"{{nope}}", "", "nope"},
		{"{{empty}}", "", "empty"},
		{"plain", "plain", ""},
	} {
		out, missing, ok := expand(tc.in, vars)
		if out != tc.out || missing != tc.missing || ok != (tc.missing == "") {
			t.Errorf("expand(%q) = %q, %q, %v", tc.in, out, missing, ok)
		}
	}
}

// TestDisableByNameAlone: docs/policy.md says `"enabled": false` is
// enough; it used to ask for rules, then advice.
func TestDisableByNameAlone(t *testing.T) {
	p, err := ParsePolicy("policy.json", []byte(`{"extend": true, "ladders": [{"name": "nix_store_full", "enabled": false}]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if l := p.Find("disk_usage", map[string]string{"mount": "/", "holds_nix_store": "true", "holds_var_log": "true"}); l == nil || l.Name != "var_log_full" {
		t.Errorf("disk_usage on the Nix store's mount goes to %v, want var_log_full", l)
	}
	if _, err := ParsePolicy("policy.json", []byte(`{"ladders": [{"name": "mine", "enabled": false}]}`), nil); err != nil {
		t.Errorf("a disabled ladder of a replacing file: %v", err)
	}
	if _, err := ParsePolicy("policy.json", []byte(`{"ladders": [{"name": "mine", "enabled": true}]}`), nil); err == nil {
		t.Error("an enabled ladder without rules parsed")
	}
}
