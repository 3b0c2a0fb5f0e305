package probe

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/config"
)

// issueExample is the probes file of the issue that asked for probes,
// byte for byte: configuration written for it must keep working.
const issueExample = `{"probes": [
  {"name": "redis", "unit": "redis.service", "scope": "system", "interval": "5s", "timeout": "2s",
   "tcp": {"address": "127.0.0.1:6379", "send": "PING\r\n", "expect": "+PONG"}},
  {"name": "web", "unit": "nginx.service",
   "http": {"url": "http://127.0.0.1:8080/health", "status": [200], "contains": "ok"}},
  {"name": "resolver", "dns": {"name": "example.org", "server": "127.0.0.53:53"}},
  {"name": "queue", "unit": "worker.service", "scope": "user",
   "exec": {"argv": ["/usr/local/bin/check-queue", "--quick"]}}
]}`

func TestParseIssueExample(t *testing.T) {
	ps, err := Parse([]byte(issueExample), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 4 {
		t.Fatalf("%d probes", len(ps))
	}
	for i, want := range []struct {
		name, unit, scope, kind string
		interval, timeout       time.Duration
	}{
		{"redis", "redis.service", "system", "tcp", 5 * time.Second, 2 * time.Second},
		{"web", "nginx.service", "system", "http", 10 * time.Second, 2 * time.Second},
		{"resolver", "", "system", "dns", 10 * time.Second, 2 * time.Second},
		{"queue", "worker.service", "user", "exec", 10 * time.Second, 2 * time.Second},
	} {
		p := ps[i]
		if p.Name != want.name || p.Unit != want.unit || p.Scope != want.scope || p.Kind() != want.kind ||
			p.Interval.D() != want.interval || p.Timeout.D() != want.timeout {
			t.Errorf("probe %s = %+v, want %+v", want.name, p, want)
		}
	}
	if ps[0].TCP.Send != "PING\r\n" || ps[0].TCP.Expect != "+PONG" {
		t.Errorf("tcp = %+v", ps[0].TCP)
	}
	if h := ps[1].HTTP; h.URL != "http://127.0.0.1:8080/health" || len(h.Status) != 1 || h.Status[0] != 200 || h.Contains != "ok" {
		t.Errorf("http = %+v", h)
	}
	if ps[2].DNS.Server != "127.0.0.53:53" || ps[3].Exec.Argv[1] != "--quick" {
		t.Errorf("dns %+v exec %+v", ps[2].DNS, ps[3].Exec)
	}
}

func TestParseDefaults(t *testing.T) {
	ps, err := Parse([]byte(`{"probes":[
		{"name":"fast","dns":{"name":"example.org","server":"::1"}},
		{"name":"slow","interval":"1m","dns":{"name":"example.org.","server":"10.0.0.1"}}]}`), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// The timeout is at most the interval: with a 1 s collection interval
	// the default 2 s cannot be.
	if ps[0].Timeout.D() != time.Second || ps[0].Interval.D() != time.Second {
		t.Errorf("fast: interval %v timeout %v", ps[0].Interval, ps[0].Timeout)
	}
	if ps[1].Timeout.D() != DefaultTimeout || ps[1].Interval.D() != time.Minute {
		t.Errorf("slow: interval %v timeout %v", ps[1].Interval, ps[1].Timeout)
	}
	if ps[0].DNS.Server != "[::1]:53" || ps[1].DNS.Server != "10.0.0.1:53" {
		t.Errorf("servers %q %q: want port 53 added", ps[0].DNS.Server, ps[1].DNS.Server)
	}
}

func TestParseErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"probes":[{"name":"a","tcp":{"adress":"x"}}]}`, `probes[0].tcp.adress: unknown field (did you mean "address"?)`},
		{`{"probes":[{"name":"a","tcp":{"address":"127.0.0.1:1"}},{"name":"a","dns":{"name":"x"}}]}`,
			`probes[1].name: "a" is also the name of probes[0]: names must be unique`},
		{`{"probes":[{"tcp":{"address":"127.0.0.1:1"}}]}`, `probes[0].name: missing: every probe has a name`},
		{`{"probes":[{"name":"a b","tcp":{"address":"127.0.0.1:1"}}]}`, `probes[0].name: "a b": want letters, digits, '.', '_' and '-' only`},
		{`{"probes":[{"name":"a"}]}`, `probes[0]: no check: want one of tcp, http, dns or exec`},
		{`{"probes":[{"name":"a","tcp":{"address":"h:1"},"dns":{"name":"x"}}]}`, `probes[0]: tcp and dns are all set: a probe has one kind of check`},
		{`{"probes":[{"name":"a","unit":"redis","tcp":{"address":"h:1"}}]}`, `probes[0].unit: "redis": want a unit name with its type, such as "redis.service"`},
		{`{"probes":[{"name":"a","unit":"a b.service","tcp":{"address":"h:1"}}]}`, `probes[0].unit: "a b.service": ' ' is not allowed in a unit name`},
		{`{"probes":[{"name":"a","scope":"session","tcp":{"address":"h:1"}}]}`, `probes[0].scope: "session": want "system" or "user"`},
		{`{"probes":[{"name":"a","interval":"10ms","tcp":{"address":"h:1"}}]}`, `probes[0].interval: 10ms: want at least 100ms`},
		{`{"probes":[{"name":"a","interval":"5","tcp":{"address":"h:1"}}]}`, `probes[0].interval: bad duration "5": want a form such as "90s", "5m" or "1h30m"`},
		{`{"probes":[{"name":"a","timeout":"10s","tcp":{"address":"h:1"}}]}`,
			`probes[0].timeout: 10s is longer than the interval 5s (the collection interval when interval is not set): a check must end before its next turn`},
		{`{"probes":[{"name":"a","tcp":{"address":"localhost"}}]}`, `probes[0].tcp.address: "localhost": want host:port, such as "127.0.0.1:6379"`},
		{`{"probes":[{"name":"a","tcp":{"address":"h:http"}}]}`, `probes[0].tcp.address: "h:http": port "http": want a number, 1 to 65535`},
		{`{"probes":[{"name":"a","tcp":{"address":":80"}}]}`, `probes[0].tcp.address: ":80": no host`},
		{`{"probes":[{"name":"a","http":{}}]}`, `probes[0].http.url: missing: want a URL such as "http://127.0.0.1:8080/health"`},
		{`{"probes":[{"name":"a","http":{"url":"ftp://h/x"}}]}`, `probes[0].http.url: "ftp://h/x": want an http:// or https:// URL`},
		{`{"probes":[{"name":"a","http":{"url":"http:///x"}}]}`, `probes[0].http.url: "http:///x": no host`},
		{`{"probes":[{"name":"a","http":{"url":"http://h/","status":[200,99]}}]}`, `probes[0].http.status[1]: 99: want an HTTP status, 100 to 599`},
		{`{"probes":[{"name":"a","http":{"url":"http://h/","status":"200"}}]}`, `probes[0].http.status: want a list, got "200"`},
		{`{"probes":[{"name":"a","dns":{"name":""}}]}`, `probes[0].dns.name: missing: want a host name, such as "example.org"`},
		{`{"probes":[{"name":"a","dns":{"name":"a..b"}}]}`, `probes[0].dns.name: "a..b": each dot-separated label has 1 to 63 characters`},
		{`{"probes":[{"name":"a","dns":{"name":"x","server":"dns.example:53"}}]}`,
			`probes[0].dns.server: "dns.example:53": want an IP address (looking up the DNS server's own name would need DNS)`},
		{`{"probes":[{"name":"a","exec":{"argv":[]}}]}`, `probes[0].exec.argv: empty: want the program and its arguments, such as ["/usr/bin/check", "--quick"]`},
		{`{"probes":[{"name":"a","exec":{"argv":["check-queue"]}}]}`,
			`probes[0].exec.argv[0]: "check-queue": want an absolute path (argv is run directly, not looked up or given to a shell)`},
		{`{"probes":[{"name":"a","exec":{"argv":"/bin/true"}}]}`, `probes[0].exec.argv: want a list, got "/bin/true"`},
		{`{"probe":[]}`, `probe: unknown field (did you mean "probes"?)`},
	} {
		_, err := Parse([]byte(tc.in), 5*time.Second)
		var ce *config.Error
		if !errors.As(err, &ce) {
			t.Errorf("Parse(%s) = %v, want a *config.Error", tc.in, err)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("Parse(%s):\n got %s\nwant %s", tc.in, err, tc.want)
		}
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "probes.json")
	if err := os.WriteFile(path, []byte(`{"probes":[{"name":"x","tcp":{"address":"127.0.0.1:0"}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, 5*time.Second)
	if want := path + `: probes[0].tcp.address: "127.0.0.1:0": port "0": want a number, 1 to 65535`; err == nil || err.Error() != want {
		t.Errorf("Load = %v, want %s", err, want)
	}
	if err := os.WriteFile(path, []byte(issueExample), 0o600); err != nil {
		t.Fatal(err)
	}
	if ps, err := Load(path, 5*time.Second); err != nil || len(ps) != 4 {
		t.Errorf("Load(issue example) = %d probes, %v", len(ps), err)
	}
}

// FuzzParse holds the probes parser to its promises: it never panics,
// every refusal is a *config.Error with a field path or position, and
// every accepted probe has one kind, a name, a scope and a timeout within
// its interval.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		issueExample, `{"probes":[]}`, `{}`, `{"probes":[{"name":"a"}]}`,
		`{"probes":[{"name":"a","interval":"1s","timeout":"2s","dns":{"name":"x"}}]}`,
		`{"probes":[{"name":"a","http":{"url":"http://[::1]:80/","status":[600]}}]}`,
		`{"probes":[{"name":"a","dns":{"name":"x","server":"[::1]"}}]}`,
		`{"probes":[{"name":"a","exec":{"argv":["/bin/x\u0000"]}}]}`, `{"probes":[{"name":"é","tcp":{}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := Parse(data, 5*time.Second)
		if err != nil {
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Error() == "" {
				t.Fatalf("Parse(%q) = %T %v, want a *config.Error", data, err, err)
			}
			return
		}
		names := map[string]bool{}
		for _, p := range ps {
			if p.Kind() == "" || p.Name == "" || names[p.Name] || (p.Scope != ScopeSystem && p.Scope != ScopeUser) ||
				p.Timeout <= 0 || p.Timeout > p.Interval || p.Interval.D() < MinInterval || strings.ContainsAny(p.Name, " \n\"") {
				t.Fatalf("Parse(%q) accepted %+v", data, p)
			}
			names[p.Name] = true
			if p.checker() == nil {
				t.Fatalf("no checker for %+v", p)
			}
		}
	})
}
