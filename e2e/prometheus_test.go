package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
)

// The fleet scenarios run Debian's real Prometheus and Alertmanager on
// loopback, with intervals far shorter than their defaults so a scenario
// takes seconds: scrape and rule evaluation every second, a rule with no
// `for`, alerts re-sent to Alertmanager after 1 s (--rules.alert.resend-delay,
// default 1m), and Alertmanager routes with group_wait 0s and
// group_interval 1s (defaults 30s and 5m). docs/PERFORMANCE.md compares the
// end-to-end time with what the defaults take.
const (
	promInterval = "1s"
	resendDelay  = "1s"
)

// prometheus is one running Prometheus.
type prometheus struct {
	URL  string
	cmd  *exec.Cmd
	log  lockedBuffer
	done chan struct{}
}

// startPrometheus runs Prometheus with config (prometheus.yml) and rules
// (rules.yml, which config names) on an ephemeral loopback port. It skips t
// when Prometheus is not installed.
func startPrometheus(t testing.TB, config, rules string) *prometheus {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (Debian package prometheus)")
	}
	dir := t.TempDir()
	writeFile(t, dir, "prometheus.yml", config)
	writeFile(t, dir, "rules.yml", rules)
	p := &prometheus{done: make(chan struct{})}
	p.cmd = exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address=127.0.0.1:0",
		"--rules.alert.resend-delay="+resendDelay, "--log.level=debug")
	p.cmd.Dir = dir
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			p.log.Write([]byte(sc.Text() + "\n"))
			if m := promListening.FindStringSubmatch(sc.Text()); m != nil && !sent {
				addr <- m[1]
				sent = true
			}
		}
	}()
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("prometheus log (last lines):\n%s", lastLines(p.log.String(), 40))
		}
	})
	select {
	case a := <-addr:
		p.URL = "http://" + a
	case <-p.done:
		t.Fatalf("prometheus exited at start:\n%s", p.log.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("prometheus does not listen after 30s:\n%s", p.log.String())
	}
	return p
}

// up returns Prometheus's current up value of each web instance.
func (p *prometheus) up() (map[string]bool, error) {
	resp, err := http.Get(p.URL + "/api/v1/query?query=" + url.QueryEscape(`up{job="web"}`))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, s := range r.Data.Result {
		out[s.Metric["instance"]] = s.Value[1] == "1"
	}
	return out, nil
}

var promListening = regexp.MustCompile(`msg="Listening on" address=(\S+)`)

// freePort returns a loopback port nothing listens on now, for nginx, whose
// configuration needs a number. Another process could take it before
// nginx binds it; nginx then fails to start and the test says so.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// webUnit is the scraped target of the fleet scenarios: Debian's nginx as
// a unit of a sandboxed manager, serving one metric on a loopback port,
// and a health page that answers 503 while the file broken exists (the
// unit removes it as it starts: a state a restart clears). Every start is
// logged, so restarts can be counted.
type webUnit struct {
	Name string
	Port int
	Dir  string
}

const webUnitName = "lmn-e2e-web.service"

func installWeb(t testing.TB, m *sdtest.Manager) webUnit {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/nginx"); err != nil {
		t.Skip("nginx not installed (Debian package nginx-light)")
	}
	w := webUnit{Name: webUnitName, Port: freePort(t), Dir: t.TempDir()}
	for _, d := range []string{"tmp", "logs"} {
		os.Mkdir(filepath.Join(w.Dir, d), 0o755)
	}
	writeFile(t, w.Dir, "nginx.conf", nginxConfig(w.Dir, w.Port))
	m.WriteUnit(t, w.Name, fmt.Sprintf(`[Unit]
Description=lmn end-to-end scraped web server
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStartPre=/bin/sh -c 'echo "start $(date +%%s.%%N)" >> %[1]s/starts'
ExecStartPre=/bin/rm -f %[1]s/broken
ExecStart=/usr/sbin/nginx -p %[1]s -c %[1]s/nginx.conf -e %[1]s/logs/error.log
`, w.Dir))
	m.Run(t, "start", w.Name)
	w.waitServing(t, true)
	return w
}

// nginxConfig is the web server's configuration, its files under dir:
// /metrics, and /health answering 503 while dir/broken exists.
func nginxConfig(dir string, port int) string {
	return fmt.Sprintf(`daemon off;
user root;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/tmp/body;
  proxy_temp_path %[1]s/tmp/proxy;
  fastcgi_temp_path %[1]s/tmp/fastcgi;
  uwsgi_temp_path %[1]s/tmp/uwsgi;
  scgi_temp_path %[1]s/tmp/scgi;
  server {
    listen 127.0.0.1:%[2]d;
    location = /metrics { default_type text/plain; return 200 "web_up 1\n"; }
    location = /health {
      default_type text/plain;
      if (-f %[1]s/broken) { return 503 "broken\n"; }
      return 200 "ok\n";
    }
  }
}
`, dir, port)
}

// starts counts the unit's starts so far.
func (w webUnit) starts(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(w.Dir, "starts"))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("start "))
}

// kill kills the unit's processes with SIGKILL, so it fails (no restart
// by systemd) and its scrape fails.
func (w webUnit) kill(t testing.TB, m *sdtest.Manager) time.Time {
	t.Helper()
	at := time.Now()
	m.Run(t, "kill", "--signal=KILL", w.Name)
	return at
}

// waitServing waits (bounded) until the server answers or, with up false,
// refuses.
func (w webUnit) waitServing(t testing.TB, up bool) {
	t.Helper()
	url := "http://127.0.0.1:" + strconv.Itoa(w.Port) + "/metrics"
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		if (err == nil) == up {
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(w.Dir, "logs", "error.log"))
			t.Fatalf("%s serving=%v after 20s (want %v): %v\nnginx error log:\n%s", w.Name, err == nil, up, err, b)
		}
	}
}

// delivery is one webhook request as the tap saw it.
type delivery struct {
	At     time.Time
	From   string // which tap: the Alertmanager peer it fronts
	Status string // the notification's status: firing or resolved
	Code   int    // what Alertmanager was answered
	Body   []byte
}

// tap fronts lmn-detect's receiver for one Alertmanager peer: it records
// every delivery and can answer with an injected error after passing the
// request on (the receiver then has it, but Alertmanager retries).
type tap struct {
	Name   string
	URL    string // what Alertmanager posts to
	target string // lmn-detect's receiver
	// fail, if set, is asked for each delivery (n from 1); a non-zero
	// code is answered instead of the receiver's.
	fail func(n int, d delivery) int

	mu  sync.Mutex
	got []delivery
	srv *http.Server
}

// deliveries is every delivery any of taps saw, in order of arrival.
func deliveries(taps ...*tap) []delivery {
	var out []delivery
	for _, tp := range taps {
		tp.mu.Lock()
		out = append(out, tp.got...)
		tp.mu.Unlock()
	}
	return out
}

func startTap(t testing.TB, name, target string) *tap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{Name: name, URL: "http://" + ln.Addr().String() + "/alertmanager", target: target}
	tp.srv = &http.Server{Handler: http.HandlerFunc(tp.serve), ReadHeaderTimeout: 5 * time.Second}
	go tp.srv.Serve(ln)
	t.Cleanup(func() { tp.srv.Close() })
	return tp
}

// aim sets the receiver the tap passes deliveries to.
func (tp *tap) aim(target string) {
	tp.mu.Lock()
	tp.target = target
	tp.mu.Unlock()
}

func (tp *tap) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	d := delivery{At: time.Now(), From: tp.Name, Body: body}
	if m := notificationStatus.FindSubmatch(body); m != nil {
		d.Status = string(m[1])
	}
	tp.mu.Lock()
	target := tp.target
	tp.mu.Unlock()
	if target == "" {
		http.Error(w, "not aimed yet", http.StatusServiceUnavailable)
		return
	}
	req, _ := http.NewRequest(r.Method, target, bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	code := http.StatusBadGateway
	var answer []byte
	if err == nil {
		answer, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		code = resp.StatusCode
	}
	tp.mu.Lock()
	if tp.fail != nil {
		if c := tp.fail(len(tp.got)+1, d); c != 0 {
			code, answer = c, []byte("injected by the test\n")
		}
	}
	d.Code = code
	tp.got = append(tp.got, d)
	tp.mu.Unlock()
	w.WriteHeader(code)
	w.Write(answer)
}

var notificationStatus = regexp.MustCompile(`"status":"(firing|resolved)","alerts"`)

// uts runs argv in a UTS namespace of its own whose host name is name: a
// simulated host of the fleet, on this machine.
func uts(name string, argv ...string) []string {
	return append([]string{"unshare", "--uts", "--", "/bin/sh", "-c",
		`echo "$0" > /proc/sys/kernel/hostname && exec "$@"`, name}, argv...)
}

// firingCount counts firing notifications among ds.
func firingCount(ds []delivery) int {
	n := 0
	for _, d := range ds {
		if d.Status == "firing" && strings.Contains(string(d.Body), `"alertname":"WebDown"`) {
			n++
		}
	}
	return n
}
