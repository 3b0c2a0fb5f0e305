package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
)

// unitPolicy answers unit_failed like the built-in policy (restart, then
// reset-failed and restart, then advice) with windows short enough for a
// test: a breaker of 3 attempts per minute that cools down for 4 s.
const unitPolicy = `{"concurrency": 1,
 "budget": {"max_actions": 100, "window": "1h"},
 "breaker": {"max_attempts": %d, "window": "1m", "backoff": "200ms", "max_backoff": "1s",
             "cooldown": "4s", "reset_after": "5m"},
 "restore_after": "1m",
 "ladders": [
  {"name": "unit_failed", "rules": ["unit_failed"], "match": {"unit": "lmn-e2e-*"},
   "steps": [
     {"actions": [{"action": "restart_unit", "params": {"unit": "{{unit}}"}}], "verify": "2s"},
     {"actions": [{"action": "reset_failed_unit", "params": {"unit": "{{unit}}"}},
                  {"action": "restart_unit", "params": {"unit": "{{unit}}"}}], "verify": "2s"}],
   "advice": "{{unit}} keeps failing: journalctl --user -u {{unit}}"}
 ]}`

const breakerAttempts = 3

// crashScript is a service that records each start, waits for a word on its
// control fifo and exits 3 when it gets one: a crash on demand.
const crashScript = `#!/bin/sh
dir=$1
echo "start $(date +%s.%N)" >> "$dir/starts"
read word < "$dir/ctl"
echo "exit $(date +%s.%N)" >> "$dir/starts"
exit 3
`

// loopScript is a service that crashes 0.6 s after every start.
const loopScript = `#!/bin/sh
dir=$1
echo "start $(date +%s.%N)" >> "$dir/starts"
sleep 0.6
exit 1
`

// testUnit is a user unit of the sandbox driven by a script.
type testUnit struct {
	Name string
	Dir  string // holds the script, its starts log and its control fifo
}

// installUnit writes script and a unit running it, and starts the unit.
func installUnit(t testing.TB, m *sdtest.Manager, name, script string) testUnit {
	t.Helper()
	u := testUnit{Name: name, Dir: t.TempDir()}
	writeFile(t, u.Dir, "run.sh", script)
	if err := syscall.Mkfifo(filepath.Join(u.Dir, "ctl"), 0o600); err != nil {
		t.Fatal(err)
	}
	m.WriteUnit(t, name, fmt.Sprintf(`[Unit]
Description=lmn end-to-end test unit
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart=/bin/sh %s %s
`, filepath.Join(u.Dir, "run.sh"), u.Dir))
	m.Run(t, "start", name)
	return u
}

// crash tells a crashScript unit to exit 3, waiting (bounded) for the unit
// to have its fifo open.
func (u testUnit) crash(t testing.TB) {
	t.Helper()
	tell(t, filepath.Join(u.Dir, "ctl"), "crash")
}

// event is one line of a unit's starts log.
type event struct {
	What string // "start" or "exit"
	At   time.Time
}

// events reads the unit's starts log.
func (u testUnit) events(t testing.TB) []event {
	t.Helper()
	f, err := os.Open(filepath.Join(u.Dir, "starts"))
	if err != nil {
		t.Fatalf("starts log of %s: %v", u.Name, err)
	}
	defer f.Close()
	var out []event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		what, at, ok := strings.Cut(sc.Text(), " ")
		secs, err := strconv.ParseFloat(at, 64)
		if !ok || err != nil {
			t.Fatalf("starts log of %s: bad line %q", u.Name, sc.Text())
		}
		out = append(out, event{What: what, At: time.Unix(0, int64(secs*1e9))})
	}
	return out
}

func countEvents(evs []event, what string) int {
	n := 0
	for _, e := range evs {
		if e.What == what {
			n++
		}
	}
	return n
}

// waitStarts waits until the unit's log has n starts: a heal can be
// verified (the manager says the unit runs) before the restarted
// instance's shell has written its start.
func waitStarts(t testing.TB, u testUnit, n int, within time.Duration) []event {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(5 * time.Millisecond) {
		var evs []event
		if _, err := os.Stat(filepath.Join(u.Dir, "starts")); err == nil {
			evs = u.events(t)
		}
		if countEvents(evs, "start") >= n {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s started %d times, want %d within %v", u.Name, countEvents(evs, "start"), n, within)
		}
	}
}

// pipeOpts shapes a pipe over a sandbox.
type pipeOpts struct {
	interval string // lmn-collect --interval
	heal     []string
	cred     *syscall.Credential // lmn-heal's user
	// system makes the pipe see the sandbox's units as system units
	// (lmn-collect --units system); call asSystemManager first.
	system bool
	rules  string // lmn-detect --rules file; "" for the defaults
	events string // lmn-collect --events; "" for its default
	// collect are more lmn-collect flags (--probes, --manager-cgroup).
	collect []string
}

// nsenter is the argv prefix running a command in the sandbox's mount
// namespace.
func nsenter(m *sdtest.Manager) []string {
	return []string{"nsenter", "-t", strconv.Itoa(m.Pid()), "-m", "--"}
}

// asSystemManager makes the sandbox's manager answer plain, system-mode
// systemctl inside the sandbox's mount namespace, by binding its private
// socket over /run/systemd/private there (a tmpfs of that namespace; the
// host never sees it). lmn-privd acts on system units only, so this is how
// the privd tier reaches a manager that is not the host's. It checks that
// system-mode systemctl in the namespace lists unit, which only the sandbox
// has: a systemctl that reached the host's manager would not.
func asSystemManager(t testing.TB, m *sdtest.Manager, unit string) {
	t.Helper()
	var runtime string
	for _, kv := range m.Env() {
		if v, ok := strings.CutPrefix(kv, "XDG_RUNTIME_DIR="); ok {
			runtime = v
		}
	}
	const bind = `: > /run/systemd/private && mount --bind "$1" /run/systemd/private`
	argv := append(nsenter(m), "/bin/sh", "-c", bind, "sh", filepath.Join(runtime, "systemd", "private"))
	if out, err := runCmd(argv...); err != nil {
		t.Fatalf("bind the sandbox manager's socket as the system one: %v: %s", err, out)
	}
	out, err := runCmd(append(nsenter(m), "systemctl", "list-units", "--all", "--plain", "--no-legend", "--no-pager", unit)...)
	if err != nil || !strings.Contains(out, unit) {
		t.Fatalf("system-mode systemctl in the sandbox does not reach its manager (%v): %s", err, out)
	}
}

// sandboxPipe starts lmn-collect inside the sandbox's mount namespace (so
// `systemctl --user` reaches the private manager, as on a real machine),
// then lmn-detect with the default rules and lmn-heal with policy. lmn-heal's
// systemctl reaches the sandbox; unless o.system, its system-unit systemctl
// is /bin/false, so nothing can touch the host's units.
func sandboxPipe(t testing.TB, m *sdtest.Manager, policy string, o pipeOpts) *Pipe {
	t.Helper()
	ns := nsenter(m)
	user := strings.Join(append(ns, "systemctl", "--user", "--no-ask-password"), " ")
	system, units := "/bin/false", "user"
	if o.system {
		system = strings.Join(append(ns, "systemctl", "--no-ask-password"), " ")
		units = "system"
	}
	heal := append([]string{bin(t, "lmn-heal"), "--policy", policy,
		"--systemctl", system, "--systemctl-user", user}, o.heal...)
	detect := []string{bin(t, "lmn-detect")}
	if o.rules != "" {
		detect = append(detect, "--rules", o.rules)
	}
	interval := o.interval
	if interval == "" {
		interval = "200ms"
	}
	collect := append(ns, bin(t, "lmn-collect"), "--interval", interval, "--units", units)
	if o.events != "" {
		collect = append(collect, "--events", o.events)
	}
	stages := []Stage{
		{Name: "collect", Env: m.Env(), Args: append(collect, o.collect...)},
		{Name: "detect", Args: detect},
		{Name: "heal", Args: heal, Env: m.Env(), Cred: o.cred},
	}
	return startPipe(t, nil, append(stages, dashStage(t))...)
}

// waitUnits waits until lmn-collect has listed the sandbox's units: the
// pipe reaches the manager.
func waitUnits(t testing.TB, p *Pipe) {
	t.Helper()
	_, err := p.Proc("collect").Out.Wait(20*time.Second, "a sample with user units", func(l []Captured) bool {
		for _, s := range samplesOf(t, l) {
			if s.Units != nil {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("collect does not reach the sandbox's manager: %v", err)
	}
}

// startPrivd runs lmn-privd on a temporary socket with a temporary key,
// acting on the sandbox's manager as the system manager (see
// asSystemManager) and only on lmn-e2e-* units; it returns the socket, key
// and audit log.
func startPrivd(t testing.TB, m *sdtest.Manager) (sock, key, audit string, stop func()) {
	t.Helper()
	return startPrivdWith(t, m, "")
}

// startPrivdWith is startPrivd with more fields of lmn-privd's
// configuration (extra, each followed by a comma).
func startPrivdWith(t testing.TB, m *sdtest.Manager, extra string) (sock, key, audit string, stop func()) {
	t.Helper()
	return startPrivdEnv(t, m, extra, "")
}

// startPrivdEnv is startPrivdWith with more fields of its env (env, each
// followed by a comma).
func startPrivdEnv(t testing.TB, m *sdtest.Manager, extra, env string) (sock, key, audit string, stop func()) {
	t.Helper()
	dir, err := os.MkdirTemp("", "lmn-e2e-privd-") // short: a socket path
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock, key, audit = filepath.Join(dir, "privd.sock"), filepath.Join(dir, "hmac.key"), filepath.Join(dir, "audit.log")
	privd := bin(t, "lmn-privd")
	if out, err := runCmd(privd, "keygen", key); err != nil {
		t.Fatalf("lmn-privd keygen: %v: %s", err, out)
	}
	ns := append(nsenter(m), "systemctl")
	cfg := fmt.Sprintf(`{"clients": {"uids": [0], "gids": []}, "audit_log": %q,
 "units": {"allow": ["lmn-e2e-*"]}, %s
 "env": {%s "systemctl": %s, "extra_env": %s}}`, audit, extra, env, jsonList(ns), jsonList(m.Env()))
	conf := writeFile(t, dir, "privd.json", cfg)
	p := startPipe(t, nil, Stage{Name: "privd", Args: []string{privd, "serve", "--config", conf, "--listen", sock, "--key-file", key}})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out, err := runCmd(privd, "ping", "--listen", sock, "--key-file", key)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lmn-privd does not answer ping: %v: %s\nstderr:\n%s", err, out, p.Procs[0].Stderr())
		}
	}
	return sock, key, audit, func() {
		t0 := time.Now()
		p.Signal("privd", syscall.SIGTERM)
		p.Wait(20 * time.Second)
		t.Logf("privd stopped in %v", time.Since(t0))
		p.RequireClean()
	}
}

// runCmd runs a command and returns its combined output.
func runCmd(args ...string) (string, error) {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	return string(out), err
}

// jsonList encodes v as a JSON array.
func jsonList(v []string) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // a []string always encodes
	}
	return string(b)
}

// dashStage is lmn-dash at the end of a pipe: it reads to the end and
// prints one final plain frame.
func dashStage(t testing.TB) Stage {
	return Stage{Name: "dash", Args: []string{bin(t, "lmn-dash"), "--once", "--simple"}, Env: []string{"TERM=dumb"}}
}
