package detect

import (
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// probed returns a sample at t0+d carrying the given probe results.
func probed(d time.Duration, results ...record.ProbeResult) *record.Sample {
	s := at(d)
	s.Probes = results
	return s
}

func redisResult(ok bool, streak int) record.ProbeResult {
	r := record.ProbeResult{Name: "redis", Unit: "redis.service", Scope: "system", Kind: "tcp", OK: ok, Streak: streak}
	if !ok {
		r.Error = "timeout after 2s"
	}
	return r
}

func TestProbeRule(t *testing.T) {
	resolver := func(ok bool, streak int) record.ProbeResult {
		return record.ProbeResult{Name: "resolver", Kind: "dns", OK: ok, Streak: streak, Error: map[bool]string{false: "no such host"}[ok]}
	}
	tests := []struct {
		name    string
		samples []*record.Sample
		want    []string
	}{
		{"counts results, not samples: a result repeated by samples is one check", []*record.Sample{
			probed(0, redisResult(false, 1)), probed(time.Second, redisResult(false, 1)), probed(2*time.Second, redisResult(false, 2)),
			probed(3*time.Second, redisResult(false, 2)), probed(4*time.Second, redisResult(false, 3)),
			probed(5*time.Second, redisResult(true, 1)), probed(6*time.Second, redisResult(false, 1)),
			probed(7*time.Second, redisResult(true, 1)), probed(8*time.Second, redisResult(true, 1)),
			probed(9*time.Second, redisResult(true, 2)),
		}, []string{
			"12:00:04 probe_failed redis,system,redis.service firing warning",
			"12:00:09 probe_failed redis,system,redis.service resolved warning",
		}},
		{"a streak seen late fires at once; dns probes are dns_failure's", []*record.Sample{
			probed(0, redisResult(false, 7), resolver(false, 4)),
			probed(5*time.Second, redisResult(true, 2), resolver(true, 2)),
		}, []string{
			"12:00:00 probe_failed redis,system,redis.service firing warning",
			"12:00:00 dns_failure resolver firing warning",
			"12:00:05 probe_failed redis,system,redis.service resolved warning",
			"12:00:05 dns_failure resolver resolved warning",
		}},
		{"a sample without probes changes nothing; a probe gone from them resolves", []*record.Sample{
			probed(0, redisResult(false, 3), resolver(true, 1)), at(5 * time.Second),
			probed(10*time.Second, resolver(true, 2)),
		}, []string{
			"12:00:00 probe_failed redis,system,redis.service firing warning",
			"12:00:10 probe_failed redis,system,redis.service resolved warning",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			equalTrace(t, feed(NewEngine(Defaults()), tt.samples...), tt.want)
		})
	}
}

// The issue says which probe, for which unit, why, and since when.
func TestProbeIssue(t *testing.T) {
	e := NewEngine(Defaults())
	e.Sample(probed(0, redisResult(false, 1)))
	e.Sample(probed(5*time.Second, redisResult(false, 2)))
	user := redisResult(false, 3)
	user.Scope = "user"
	issues := e.Sample(probed(10*time.Second, redisResult(false, 3), user))
	if len(issues) != 2 {
		t.Fatalf("issues %+v", issues)
	}
	is := issues[0]
	if is.Subject["probe"] != "redis" || is.Subject["unit"] != "redis.service" || is.Subject["scope"] != "system" ||
		is.Value != 3 || is.Threshold != 3 || !is.Since.Equal(t0) || is.Severity != record.SeverityWarning {
		t.Errorf("issue %+v", is)
	}
	if want := "probe redis (redis.service) fails: timeout after 2s (3 checks in a row)"; is.Summary != want {
		t.Errorf("summary %q, want %q", is.Summary, want)
	}
	if u := issues[1]; u.ID == is.ID || u.Subject["scope"] != "user" || !strings.Contains(u.Summary, "(redis.service, user)") || !u.Since.Equal(t0.Add(10*time.Second)) {
		t.Errorf("the user unit's issue %+v", u)
	}
}

func TestProbeRuleConfig(t *testing.T) {
	r := rulesOf(t, `{"name":"p","kind":"probe","probe_kinds":["http"],"for":1,"resolve_after":1,"match":["web*"]}`)
	web := record.ProbeResult{Name: "web", Kind: "http", Error: "status 503", Streak: 1}
	other := record.ProbeResult{Name: "webdns", Kind: "dns", Streak: 1}
	equalTrace(t, feed(NewEngine(r), probed(0, web, other, redisResult(false, 9))), []string{"12:00:00 p web firing warning"})
	for _, bad := range []struct{ rule, want string }{
		{`{"name":"p","kind":"probe","for":"30s"}`, `rules[0].for: a probe rule counts results`},
		{`{"name":"p","kind":"probe","probe_kinds":["icmp"]}`, `rules[0].probe_kinds[0]: "icmp": want tcp, http, dns or exec`},
		{`{"name":"p","kind":"probe","resolve_after":-1}`, `rules[0].resolve_after: want a number`},
		{`{"name":"p","kind":"probe","metric":"probes[].ok"}`, `rules[0].metric: not used by a probe rule`},
		{`{"name":"p","kind":"threshold","metric":"load.load1","warning":1,"probe_kinds":["tcp"]}`, `rules[0].probe_kinds: not used by a threshold rule`},
	} {
		_, err := ParseRules("r.json", []byte(`{"rules":[`+bad.rule+`]}`))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want %q", bad.rule, err, bad.want)
		}
	}
}
