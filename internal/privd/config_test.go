package privd

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestConfigDefaultsRoundTrip(t *testing.T) {
	b, err := json.Marshal(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig("defaults", b)
	if err != nil {
		t.Fatal(err)
	}
	if c.RateLimits.Overall.Max != 10 || time.Duration(c.RateLimits.Overall.Window) != 5*time.Minute {
		t.Errorf("overall limit %+v, want 10 per 5m", c.RateLimits.Overall)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	for in, field := range map[string]string{
		`{"rate_limits":{"overall":{"max":"ten"}}}`:          "rate_limits.overall.max",
		`{"rate_limits":{"overall":{"max":-1}}}`:             "rate_limits.overall",
		`{"rate_limits":{"actions":{"rm":{"max":1}}}}`:       "rate_limits.actions.rm",
		`{"clients":{"uids":[],"gids":[]}}`:                  "clients",
		`{"socket":{"path":"relative.sock"}}`:                "socket.path",
		`{"units":{"deny":["["]}}`:                           "units",
		`{"max_connections":0}`:                              "max_connections",
		`{"max_connections_per_uid":65}`:                     "max_connections_per_uid",
		`{"units":{"types":["servce"]}}`:                     "units",
		`{"premise":{"memory":{"top":-1}}}`:                  "premise",
		`{"premise":{"restart_active":["["]}}`:               "premise",
		`{"premise":{"memory":{"available_below_ratio":2}}}`: "premise",
		`{"read_timeout":"forever"}`:                         "read_timeout",
		`{"env":{"systemctl":[]}}`:                           "env.systemctl",
		`{"audit_logg":"/x"}`:                                "audit_logg",
		`{"audit_log":""}`:                                   "audit_log",
		`{"clients":{"uids":[1000]}} {}`:                     "",
		`{`:                                                  "",
	} {
		_, err := ParseConfig("test.json", []byte(in))
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != field || ce.File != "test.json" {
			t.Errorf("%s: %v, want field %s", in, err, field)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	b, _ := json.Marshal(DefaultConfig())
	f.Add(b)
	f.Add([]byte(`{"clients":{"uids":[1000]},"rate_limits":{"overall":{"max":3,"window":"1m"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig("fuzz", b)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted a config that does not validate: %v", err)
		}
	})
}
