package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/alertmanager/amtest"
	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
)

// The fleet scenarios: real Prometheus scrapes nginx, a unit of a sandboxed
// manager, and evaluates a rule; real Alertmanager routes the alert to
// lmn-detect's receiver (through a tap that counts deliveries and can
// inject errors); lmn-heal restarts the unit by its policy. Each simulated
// host is a pipe whose stages run in a UTS namespace naming the host, with
// a sandboxed manager of its own.

const fleetToken = "e2e-webhook-secret"

// fleetPolicy answers the WebDown alert by restarting the unit it names;
// any other alert ends in advice. The breaker allows many attempts: the
// scenarios count restarts themselves.
const fleetPolicy = `{"concurrency": 1,
 "budget": {"max_actions": 100, "window": "1h"},
 "breaker": {"max_attempts": 20, "window": "1m", "backoff": "200ms", "max_backoff": "1s", "cooldown": "4s", "reset_after": "5m"},
 "restore_after": "1m",
 "ladders": [
  {"name": "web_down", "rules": ["alertmanager"], "match": {"alertname": "WebDown", "unit": "lmn-e2e-*"},
   "steps": [{"actions": [{"action": "restart_unit", "params": {"unit": "{{unit}}"}}], "verify": "30s"}],
   "advice": "{{unit}} keeps failing on {{instance}}"},
  {"name": "alertmanager", "rules": ["alertmanager"], "advice": "{{alertname}}: no ladder acts on it"}
 ]}`

// fleetRules is Prometheus's rule: the scrape of a web target failed.
const fleetRules = `groups:
- name: web
  rules:
  - alert: WebDown
    expr: up{job="web"} == 0
    labels:
      unit: ` + webUnitName + `
      severity: critical
    annotations:
      summary: "the web server on {{ $labels.instance }} is down"
`

// fleetHost is one simulated machine: its manager, its web server and
// its pipe.
type fleetHost struct {
	Name     string
	M        *sdtest.Manager
	Web      webUnit
	Pipe     *Pipe
	Receiver string // lmn-detect's webhook URL
}

// startHost starts a simulated host called name; heal are extra lmn-heal
// flags.
func startHost(t testing.TB, name string, heal ...string) *fleetHost {
	t.Helper()
	m := sdtest.Start(t)
	h := &fleetHost{Name: name, M: m, Web: installWeb(t, m)}
	asSystemManager(t, m, h.Web.Name)
	dir := t.TempDir()
	token := writeFile(t, dir, "token", fleetToken+"\n")
	policy := writeFile(t, dir, "policy.json", fleetPolicy)
	system := strings.Join(append(nsenter(m), "systemctl", "--no-ask-password"), " ")
	healArgs := append([]string{bin(t, "lmn-heal"), "--policy", policy, "--tiers", "unprivileged,advise",
		"--sudo", "never", "--systemctl", system, "--systemctl-user", "/bin/false"}, heal...)
	h.Pipe = startPipe(t, nil,
		Stage{Name: "collect", Args: uts(name, bin(t, "lmn-collect"), "--interval", "200ms", "--units", "none")},
		Stage{Name: "detect", Args: uts(name, bin(t, "lmn-detect"), "--alertmanager-listen", "127.0.0.1:0",
			"--alertmanager-token-file", token)},
		Stage{Name: "heal", Args: uts(name, healArgs...), Env: m.Env()},
		dashStage(t),
	)
	var addr string
	_, err := h.Pipe.Proc("detect").Out.Wait(30*time.Second, "lmn-detect's start record", func(l []Captured) bool {
		for _, c := range l {
			var st struct {
				Kind, Src, Host string
				Settings        struct {
					Listen string `json:"alertmanager_listen"`
				}
			}
			if json.Unmarshal(c.Raw, &st) == nil && st.Kind == record.KindStart && st.Src == "lmn-detect" {
				if st.Host != name {
					t.Fatalf("lmn-detect runs as host %q; want %q", st.Host, name)
				}
				addr = st.Settings.Listen
				return true
			}
		}
		return false
	})
	if err != nil || addr == "" {
		t.Fatalf("detect: %v (listen %q)", err, addr)
	}
	h.Receiver = "http://" + addr + "/alertmanager"
	return h
}

// amRoute is a receiver of the Alertmanager configuration.
type amRoute struct {
	receiver string // name
	matcher  string // "" for the catch-all copy
	url      string
	cont     bool
}

// amConfig routes by instance (matchers) to each receiver, grouping by
// alert and instance, with the test's short intervals.
func amConfig(def string, routes ...amRoute) string {
	var b strings.Builder
	fmt.Fprintf(&b, "route:\n  receiver: %s\n  group_by: [alertname, instance]\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n  routes:\n", def)
	for _, r := range routes {
		fmt.Fprintf(&b, "  - receiver: %s\n    continue: %v\n", r.receiver, r.cont)
		if r.matcher != "" {
			fmt.Fprintf(&b, "    matchers: ['%s']\n", r.matcher)
		}
	}
	b.WriteString("receivers:\n")
	seen := map[string]bool{}
	for _, r := range routes {
		if seen[r.receiver] {
			continue
		}
		seen[r.receiver] = true
		fmt.Fprintf(&b, "- name: %s\n  webhook_configs:\n  - url: %s\n    send_resolved: true\n    http_config:\n      authorization:\n        credentials: %s\n",
			r.receiver, r.url, fleetToken)
	}
	if !seen[def] {
		fmt.Fprintf(&b, "- name: %s\n", def)
	}
	return b.String()
}

// promConfig scrapes each host's web server as instance NAME:PORT and
// sends alerts to the Alertmanagers ams.
func promConfig(ams []*amtest.Alertmanager, hosts ...*fleetHost) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: 500ms\n  evaluation_interval: %s\nrule_files: [rules.yml]\n", promInterval, promInterval)
	b.WriteString("alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: [")
	for i, am := range ams {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", strings.TrimPrefix(am.URL, "http://"))
	}
	b.WriteString("]\nscrape_configs:\n- job_name: web\n  static_configs:\n")
	for _, h := range hosts {
		fmt.Fprintf(&b, "  - targets: ['127.0.0.1:%d']\n    labels: {instance: '%s:%d'}\n", h.Web.Port, h.Name, h.Web.Port)
	}
	return b.String()
}

// restarts returns lmn-heal's started records of restart_unit among l.
func restarts(t testing.TB, l []Captured) []record.Heal {
	var out []record.Heal
	for _, h := range healsOf(t, l) {
		if h.Action == "restart_unit" && h.Phase == record.PhaseStarted {
			out = append(out, h)
		}
	}
	return out
}

var recoveredAlert = hasHeal(func(h record.Heal) bool {
	return h.Rule == "alertmanager" && h.Phase == record.PhaseVerified && h.Outcome == record.OutcomeRecovered
})

// crashAndWait kills h's web server and waits for lmn to restart it and see
// it recovered; it returns what the heal stage wrote by then.
func (h *fleetHost) crashAndWait(t *testing.T) []Captured {
	t.Helper()
	h.Web.kill(t, h.M)
	lines, err := h.Pipe.Proc("heal").Out.Wait(90*time.Second, "restart_unit verified recovered", recoveredAlert)
	if err != nil {
		t.Fatalf("%s: %v", h.Name, err)
	}
	return lines
}

// checkOneRestart: exactly one restart, the unit started twice, running.
func (h *fleetHost) checkOneRestart(t *testing.T, lines []Captured) {
	t.Helper()
	if n := len(restarts(t, lines)); n != 1 {
		t.Errorf("%s: %d restarts; want exactly 1", h.Name, n)
	}
	if n := h.Web.starts(t); n != 2 {
		t.Errorf("%s: %s started %d times; want 2", h.Name, h.Web.Name, n)
	}
	if active, sub, _ := h.M.State(t, h.Web.Name); active != "active" || sub != "running" {
		t.Errorf("%s: %s is %s/%s; want active/running", h.Name, h.Web.Name, active, sub)
	}
}

func fleetSkips(t *testing.T) {
	t.Helper()
	skipShort(t)
	needRoot(t, "the fleet scenarios run sandboxed managers and UTS namespaces")
	if _, err := amtest.Binary(); err != nil {
		t.Skip(err)
	}
}

// TestFleetHeal: a failing scrape becomes a Prometheus alert, Alertmanager
// delivers it, lmn-heal restarts the unit, and the alert's resolve
// resolves the issue: verified recovered.
func TestFleetHeal(t *testing.T) {
	fleetSkips(t)
	h := startHost(t, "web1")
	tp := startTap(t, "am", h.Receiver)
	am := amtest.Start(t, amtest.Options{Config: amConfig("lmn", amRoute{receiver: "lmn", url: tp.URL})})
	waitScraped(t, startPrometheus(t, promConfig([]*amtest.Alertmanager{am}, h), fleetRules), h)

	killed := time.Now()
	lines := h.crashAndWait(t)
	h.checkOneRestart(t, lines)
	var firingIssue, resolvedIssue bool
	for _, is := range issuesOf(t, lines) {
		if is.Rule == "alertmanager" && is.Subject["alertname"] == "WebDown" && is.Subject["unit"] == webUnitName {
			firingIssue = firingIssue || is.State == record.StateFiring
			resolvedIssue = resolvedIssue || is.State == record.StateResolved
		}
	}
	if !firingIssue || !resolvedIssue {
		t.Errorf("issues passed to lmn-heal: firing %v, resolved %v; want both", firingIssue, resolvedIssue)
	}
	ds := deliveries(tp)
	if firingCount(ds) == 0 || ds[0].Code != http.StatusOK {
		t.Errorf("deliveries %+v", ds)
	}
	logTimeline(t, killed, ds, lines)
	h.Pipe.Stop(30 * time.Second)
	h.Pipe.RequireClean()
}

// logTimeline says how long each leg took, for docs/PERFORMANCE.md.
func logTimeline(t *testing.T, killed time.Time, ds []delivery, lines []Captured) {
	var webhook, started, recovered time.Time
	for _, d := range ds {
		if d.Status == "firing" {
			webhook = d.At
			break
		}
	}
	for _, c := range lines {
		if kindOf(c.Raw) != record.KindHeal {
			continue
		}
		var h record.Heal
		json.Unmarshal(c.Raw, &h)
		if h.Action == "restart_unit" && h.Phase == record.PhaseStarted && started.IsZero() {
			started = c.At
		}
		if h.Phase == record.PhaseVerified && h.Outcome == record.OutcomeRecovered {
			recovered = c.At
		}
	}
	t.Logf("kill → firing webhook %v; webhook → restart started %v; kill → restart %v; kill → recovered %v",
		webhook.Sub(killed).Round(time.Millisecond), started.Sub(webhook).Round(time.Millisecond),
		started.Sub(killed).Round(time.Millisecond), recovered.Sub(killed).Round(time.Millisecond))
}

// waitScraped waits until Prometheus holds every host's web server as up
// (up == 1), so a kill is a change it sees.
func waitScraped(t testing.TB, p *prometheus, hosts ...*fleetHost) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		up, err := p.up()
		all := err == nil
		for _, h := range hosts {
			all = all && up[fmt.Sprintf("%s:%d", h.Name, h.Web.Port)]
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus does not hold every web server as up after 60s: %v, %v", up, err)
		}
	}
}

// TestFleetTwoPeers: two clustered Alertmanager peers both deliver the
// alert (a short --cluster.peer-timeout makes the second peer send before
// it hears of the first's notification); lmn-detect writes it once and
// lmn-heal restarts once.
func TestFleetTwoPeers(t *testing.T) {
	fleetSkips(t)
	h := startHost(t, "web1")
	tpA, tpB := startTap(t, "am-a", h.Receiver), startTap(t, "am-b", h.Receiver)
	a := amtest.Start(t, amtest.Options{Config: amConfig("lmn", amRoute{receiver: "lmn", url: tpA.URL}), Cluster: true, PeerTimeout: "1ms"})
	b := amtest.Start(t, amtest.Options{Config: amConfig("lmn", amRoute{receiver: "lmn", url: tpB.URL}), Join: []*amtest.Alertmanager{a}, PeerTimeout: "1ms"})
	for deadline := time.Now().Add(30 * time.Second); a.Peers(t) < 2 || b.Peers(t) < 2; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the peers do not see each other: %d, %d", a.Peers(t), b.Peers(t))
		}
	}
	waitScraped(t, startPrometheus(t, promConfig([]*amtest.Alertmanager{a, b}, h), fleetRules), h)

	lines := h.crashAndWait(t)
	h.checkOneRestart(t, lines)
	fa, fb := firingCount(deliveries(tpA)), firingCount(deliveries(tpB))
	t.Logf("firing deliveries: peer a %d, peer b %d", fa, fb)
	if fa == 0 || fb == 0 {
		t.Fatalf("the scenario needs both peers to deliver")
	}
	h.Pipe.Stop(30 * time.Second)
	h.Pipe.RequireClean()
	s := h.Pipe.Proc("detect").Stderr()
	t.Logf("lmn-detect: %s", lastLines(s, 1))
	if !strings.Contains(s, "duplicates ") || strings.Contains(s, "duplicates 0,") {
		t.Errorf("lmn-detect counted no duplicate:\n%s", lastLines(s, 5))
	}
}

// TestFleetRetry: the receiver's first answer to the firing notification
// is replaced by a 500 after lmn-detect took it; Alertmanager retries, and
// there is still one restart.
func TestFleetRetry(t *testing.T) {
	fleetSkips(t)
	h := startHost(t, "web1")
	tp := startTap(t, "am", h.Receiver)
	injected := false
	tp.fail = func(n int, d delivery) int {
		if d.Status == "firing" && !injected {
			injected = true
			return http.StatusInternalServerError
		}
		return 0
	}
	am := amtest.Start(t, amtest.Options{Config: amConfig("lmn", amRoute{receiver: "lmn", url: tp.URL})})
	waitScraped(t, startPrometheus(t, promConfig([]*amtest.Alertmanager{am}, h), fleetRules), h)

	lines := h.crashAndWait(t)
	h.checkOneRestart(t, lines)
	ds := deliveries(tp)
	if firingCount(ds) < 2 || ds[0].Code != http.StatusInternalServerError {
		t.Fatalf("deliveries: %d firing, first answered %d; want a 500 and a retry", firingCount(ds), ds[0].Code)
	}
	h.Pipe.Stop(30 * time.Second)
	h.Pipe.RequireClean()
}

// TestFleetMaintenance: a maintenance silence for the host holds the
// restart: no disruptive action runs, the ladder advises, the unit stays
// down.
func TestFleetMaintenance(t *testing.T) {
	fleetSkips(t)
	tp := startTap(t, "am", "") // aimed once the host is up
	am := amtest.Start(t, amtest.Options{Config: amConfig("lmn", amRoute{receiver: "lmn", url: tp.URL})})
	h := startHost(t, "web1", "--alertmanager-url", am.URL)
	tp.aim(h.Receiver)
	am.Silence(t, time.Hour, "kernel upgrade", "lmn=maintenance", "host=web1")
	waitScraped(t, startPrometheus(t, promConfig([]*amtest.Alertmanager{am}, h), fleetRules), h)

	h.Web.kill(t, h.M)
	held := hasHeal(func(r record.Heal) bool {
		return r.Phase == record.PhaseAdvised && strings.Contains(r.Advice, "held: a maintenance window")
	})
	lines, err := h.Pipe.Proc("heal").Out.Wait(90*time.Second, "advice that maintenance holds the restart", held)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range healsOf(t, lines) {
		if r.Phase == record.PhaseSucceeded || r.Phase == record.PhaseFailed {
			t.Errorf("an action ran during maintenance: %+v", r)
		}
	}
	if n := h.Web.starts(t); n != 1 {
		t.Errorf("%s started %d times; want 1 (never restarted)", h.Web.Name, n)
	}
	if active, _, _ := h.M.State(t, h.Web.Name); active == "active" {
		t.Errorf("%s is active; maintenance should have held its restart", h.Web.Name)
	}
	h.Pipe.Stop(30 * time.Second)
	h.Pipe.RequireClean()
}

// TestFleetRoutesByInstance: three hosts, one Prometheus, one Alertmanager
// routing by instance; every alert is also copied to host A, which must
// ignore B's. Only B restarts its unit.
func TestFleetRoutesByInstance(t *testing.T) {
	fleetSkips(t)
	hosts := []*fleetHost{startHost(t, "web-a"), startHost(t, "web-b"), startHost(t, "web-c")}
	routes := []amRoute{{receiver: "copy-to-a", url: startTap(t, "copy", hosts[0].Receiver).URL, cont: true}}
	for _, h := range hosts {
		routes = append(routes, amRoute{receiver: h.Name, matcher: fmt.Sprintf(`instance=~"%s:.*"`, h.Name),
			url: startTap(t, h.Name, h.Receiver).URL})
	}
	am := amtest.Start(t, amtest.Options{Config: amConfig("copy-to-a", routes...)})
	waitScraped(t, startPrometheus(t, promConfig([]*amtest.Alertmanager{am}, hosts...), fleetRules), hosts...)

	b := hosts[1]
	lines := b.crashAndWait(t)
	b.checkOneRestart(t, lines)
	for _, h := range hosts {
		h.Pipe.Stop(30 * time.Second)
		h.Pipe.RequireClean()
	}
	for _, h := range []*fleetHost{hosts[0], hosts[2]} {
		if r := restarts(t, h.Pipe.Proc("heal").Out.All()); len(r) != 0 {
			t.Errorf("%s restarted for another host's alert: %+v", h.Name, r)
		}
		if n := h.Web.starts(t); n != 1 {
			t.Errorf("%s: %s started %d times; want 1", h.Name, h.Web.Name, n)
		}
	}
	if s := hosts[0].Pipe.Proc("detect").Stderr(); !strings.Contains(s, "other host ") || strings.Contains(s, "other host 0,") {
		t.Errorf("web-a counted no alert for another host:\n%s", lastLines(s, 5))
	}
}
