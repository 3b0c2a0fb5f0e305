package probe

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/config"
)

// File is a --probes file:
//
//	{"probes": [{"name": "redis", "unit": "redis.service", "tcp": {...}}, ...]}
type File struct {
	Probes []Probe `json:"probes"`
}

// Probe is one check and what it speaks for. Exactly one of TCP, HTTP, DNS
// and Exec is set.
type Probe struct {
	// Name names the probe in samples and issues: letters, digits, '.',
	// '_' and '-'.
	Name string `json:"name"`
	// Unit is the systemd unit the probe speaks for ("redis.service");
	// empty for a probe of something no unit runs (a remote resolver).
	Unit string `json:"unit,omitempty"`
	// Scope is the unit's service manager: "system" (the default) or
	// "user".
	Scope string `json:"scope,omitempty"`
	// Interval is the time between the starts of two checks; 0 means the
	// collection interval.
	Interval config.Duration `json:"interval,omitzero"`
	// Timeout bounds one check; 0 means DefaultTimeout.
	Timeout config.Duration `json:"timeout,omitzero"`

	TCP  *TCP  `json:"tcp,omitempty"`
	HTTP *HTTP `json:"http,omitempty"`
	DNS  *DNS  `json:"dns,omitempty"`
	Exec *Exec `json:"exec,omitempty"`
}

// TCP connects to Address; with Send it writes those bytes, and with
// Expect or Contains it reads the reply (up to MaxReply bytes) and wants
// it to start with Expect and to contain Contains.
type TCP struct {
	Address  string `json:"address"`
	Send     string `json:"send,omitempty"`
	Expect   string `json:"expect,omitempty"`
	Contains string `json:"contains,omitempty"`
}

// HTTP gets URL without following redirects and wants a status in Status
// (default: any 2xx) and, with Contains, that text in the first MaxBody
// bytes of the body.
type HTTP struct {
	URL      string `json:"url"`
	Status   []int  `json:"status,omitempty"`
	Contains string `json:"contains,omitempty"`
}

// DNS looks Name up through Server ("127.0.0.53:53"; an address without a
// port means port 53) or, without Server, the system's resolver, and wants
// at least one address.
type DNS struct {
	Name   string `json:"name"`
	Server string `json:"server,omitempty"`
}

// Exec runs Argv directly (no shell) as the collector's own user and wants
// exit status 0. Argv[0] is an absolute path.
type Exec struct {
	Argv []string `json:"argv"`
}

// Defaults and bounds of the configuration.
const (
	DefaultTimeout = 2 * time.Second
	// MinInterval is the shortest interval a probe may have.
	MinInterval = 100 * time.Millisecond
	// MaxProbes bounds the number of probes in a file.
	MaxProbes = 1000
	// maxText bounds send, expect and contains strings.
	maxText = 4096
)

// Scopes a probe's unit may have.
const (
	ScopeSystem = "system"
	ScopeUser   = "user"
)

// Load reads and validates a probes file. Probes without an interval get
// interval (the collection interval); errors are *config.Error values
// naming the file and the field path.
func Load(path string, interval time.Duration) ([]Probe, error) {
	var f File
	if err := config.Load(path, &f); err != nil {
		return nil, err
	}
	if err := f.validate(interval); err != nil {
		return nil, config.In(path, err)
	}
	return f.Probes, nil
}

// Parse decodes and validates a probes file's content as Load does.
func Parse(data []byte, interval time.Duration) ([]Probe, error) {
	var f File
	if err := config.Decode(data, &f); err != nil {
		return nil, err
	}
	if err := f.validate(interval); err != nil {
		return nil, err
	}
	return f.Probes, nil
}

// validate checks every probe and fills in the defaults.
func (f *File) validate(interval time.Duration) error {
	if len(f.Probes) > MaxProbes {
		return config.Errorf("probes", "%d probes: at most %d", len(f.Probes), MaxProbes)
	}
	seen := make(map[string]int, len(f.Probes))
	for i := range f.Probes {
		p := &f.Probes[i]
		at := fmt.Sprintf("probes[%d]", i)
		if err := p.validate(interval); err != nil {
			return config.Field(at, err)
		}
		if j, dup := seen[p.Name]; dup {
			return config.Errorf(at+".name", "%q is also the name of probes[%d]: names must be unique", p.Name, j)
		}
		seen[p.Name] = i
	}
	return nil
}

func (p *Probe) validate(interval time.Duration) error {
	if err := checkName(p.Name); err != nil {
		return config.Field("name", err)
	}
	if p.Unit != "" {
		if err := checkUnit(p.Unit); err != nil {
			return config.Field("unit", err)
		}
	}
	switch p.Scope {
	case "":
		p.Scope = ScopeSystem
	case ScopeSystem, ScopeUser:
	default:
		return config.Errorf("scope", "%q: want %q or %q", p.Scope, ScopeSystem, ScopeUser)
	}
	if p.Interval == 0 {
		p.Interval = config.Duration(interval)
	}
	if p.Interval.D() < MinInterval {
		return config.Errorf("interval", "%v: want at least %v", p.Interval, config.Duration(MinInterval))
	}
	if p.Timeout == 0 {
		p.Timeout = config.Duration(min(DefaultTimeout, p.Interval.D()))
	}
	if p.Timeout > p.Interval {
		return config.Errorf("timeout", "%v is longer than the interval %v (the collection interval when interval is not set): a check must end before its next turn", p.Timeout, p.Interval)
	}
	return p.validateKind()
}

// Kind names the kind of check: "tcp", "http", "dns" or "exec".
func (p *Probe) Kind() string {
	switch {
	case p.TCP != nil:
		return "tcp"
	case p.HTTP != nil:
		return "http"
	case p.DNS != nil:
		return "dns"
	case p.Exec != nil:
		return "exec"
	}
	return ""
}

func (p *Probe) validateKind() error {
	var set []string
	for _, k := range []struct {
		name string
		on   bool
	}{{"tcp", p.TCP != nil}, {"http", p.HTTP != nil}, {"dns", p.DNS != nil}, {"exec", p.Exec != nil}} {
		if k.on {
			set = append(set, k.name)
		}
	}
	switch len(set) {
	case 0:
		return errors.New("no check: want one of tcp, http, dns or exec")
	case 1:
	default:
		return fmt.Errorf("%s are all set: a probe has one kind of check", strings.Join(set, " and "))
	}
	var err error
	switch {
	case p.TCP != nil:
		err = p.TCP.validate()
	case p.HTTP != nil:
		err = p.HTTP.validate()
	case p.DNS != nil:
		err = p.DNS.validate()
	case p.Exec != nil:
		err = p.Exec.validate()
	}
	return config.Field(set[0], err)
}

func (t *TCP) validate() error {
	if err := checkHostPort(t.Address, false); err != nil {
		return config.Field("address", err)
	}
	for _, s := range []struct{ name, v string }{{"send", t.Send}, {"expect", t.Expect}, {"contains", t.Contains}} {
		if len(s.v) > maxText {
			return config.Errorf(s.name, "%d bytes: at most %d", len(s.v), maxText)
		}
	}
	if len(t.Expect) > MaxReply || len(t.Contains) > MaxReply {
		return config.Errorf("expect", "longer than the %d bytes of reply read", MaxReply)
	}
	return nil
}

func (h *HTTP) validate() error {
	u, err := url.Parse(h.URL)
	switch {
	case h.URL == "":
		return config.Errorf("url", "missing: want a URL such as \"http://127.0.0.1:8080/health\"")
	case err != nil:
		return config.Errorf("url", "%q: %v", h.URL, errors.Unwrap(err))
	case u.Scheme != "http" && u.Scheme != "https":
		return config.Errorf("url", "%q: want an http:// or https:// URL", h.URL)
	case u.Host == "":
		return config.Errorf("url", "%q: no host", h.URL)
	}
	for i, s := range h.Status {
		if s < 100 || s > 599 {
			return config.Errorf(fmt.Sprintf("status[%d]", i), "%d: want an HTTP status, 100 to 599", s)
		}
	}
	if len(h.Contains) > maxText {
		return config.Errorf("contains", "%d bytes: at most %d", len(h.Contains), maxText)
	}
	return nil
}

func (d *DNS) validate() error {
	if err := checkDNSName(d.Name); err != nil {
		return config.Field("name", err)
	}
	if d.Server == "" {
		return nil
	}
	if _, err := netip.ParseAddr(strings.Trim(d.Server, "[]")); err == nil {
		d.Server = net.JoinHostPort(strings.Trim(d.Server, "[]"), "53")
	}
	return config.Field("server", checkHostPort(d.Server, true))
}

func (e *Exec) validate() error {
	switch {
	case len(e.Argv) == 0:
		return config.Errorf("argv", "empty: want the program and its arguments, such as [\"/usr/bin/check\", \"--quick\"]")
	case !filepath.IsAbs(e.Argv[0]):
		return config.Errorf("argv[0]", "%q: want an absolute path (argv is run directly, not looked up or given to a shell)", e.Argv[0])
	}
	for i, a := range e.Argv {
		if strings.IndexByte(a, 0) >= 0 {
			return config.Errorf(fmt.Sprintf("argv[%d]", i), "holds a NUL byte")
		}
	}
	return nil
}

// checkName allows names that read the same in a sample, an issue's
// subject and a metric label.
func checkName(s string) error {
	switch {
	case s == "":
		return errors.New("missing: every probe has a name")
	case len(s) > 64:
		return fmt.Errorf("%q: at most 64 characters", s[:64]+"…")
	}
	for _, c := range s {
		if !isNameChar(c) {
			return fmt.Errorf("%q: want letters, digits, '.', '_' and '-' only", s)
		}
	}
	return nil
}

func isNameChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// unitTypes are the suffixes of systemd unit names.
var unitTypes = []string{".service", ".socket", ".target", ".device", ".mount", ".automount",
	".swap", ".timer", ".path", ".slice", ".scope"}

// checkUnit accepts a systemd unit name with its type, as systemd.unit(5)
// allows it: ASCII letters, digits, ":", "-", "_", ".", "\" and one "@".
func checkUnit(s string) error {
	if len(s) > 255 {
		return fmt.Errorf("%q: at most 255 characters", s[:64]+"…")
	}
	typed := false
	for _, t := range unitTypes {
		if strings.HasSuffix(s, t) && len(s) > len(t) {
			typed = true
		}
	}
	if !typed {
		return fmt.Errorf("%q: want a unit name with its type, such as \"redis.service\"", s)
	}
	for _, c := range s {
		if !isNameChar(c) && c != ':' && c != '\\' && c != '@' {
			return fmt.Errorf("%q: %q is not allowed in a unit name", s, c)
		}
	}
	if strings.Count(s, "@") > 1 {
		return fmt.Errorf("%q: at most one '@'", s)
	}
	return nil
}

// checkHostPort accepts host:port with a numeric port; ipOnly wants an IP
// address as the host.
func checkHostPort(s string, ipOnly bool) error {
	if s == "" {
		return errors.New("missing: want host:port, such as \"127.0.0.1:6379\"")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q: want host:port, such as \"127.0.0.1:6379\"", s)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("%q: port %q: want a number, 1 to 65535", s, port)
	}
	if host == "" {
		return fmt.Errorf("%q: no host", s)
	}
	if _, err := netip.ParseAddr(host); ipOnly && err != nil {
		return fmt.Errorf("%q: want an IP address (looking up the DNS server's own name would need DNS)", s)
	}
	return nil
}

// checkDNSName accepts a host name as a resolver would look it up.
func checkDNSName(s string) error {
	name := strings.TrimSuffix(s, ".")
	switch {
	case name == "":
		return errors.New("missing: want a host name, such as \"example.org\"")
	case len(name) > 253:
		return fmt.Errorf("%q: at most 253 characters", s[:64]+"…")
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("%q: each dot-separated label has 1 to 63 characters", s)
		}
		for _, c := range label {
			if !isNameChar(c) || c == '.' {
				return fmt.Errorf("%q: %q is not allowed in a host name", s, c)
			}
		}
	}
	return nil
}
