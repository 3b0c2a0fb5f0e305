package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/proc"
	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
)

// The service-health scenarios (issue 13): real daemons that are up but
// not serving, or growing toward their memory limit, in a sandboxed
// manager, healed by the built-in probe_failed and unit_memory ladders
// with their production steps, windows and breaker.

// managerCgroup is the sandbox manager's cgroup as /proc/PID/cgroup names
// it (the same in every hierarchy): lmn-collect --manager-cgroup finds its
// units there.
func managerCgroup(t testing.TB, m *sdtest.Manager) string {
	t.Helper()
	cgs := m.Cgroups()
	if len(cgs) == 0 {
		t.Fatal("the sandbox has no cgroup")
	}
	return "/" + filepath.Base(cgs[0])
}

// builtinLadders writes a policy holding the named ladders of lmn-heal's
// built-in policy as --print-policy gives them, each limited to the test's
// units (match unit lmn-e2e-*); its settings (breaker, backoff, budget)
// are left out, so they keep their built-in values.
func builtinLadders(t testing.TB, dir string, names ...string) string {
	t.Helper()
	out, err := runCmd(bin(t, "lmn-heal"), "--print-policy")
	if err != nil {
		t.Fatalf("lmn-heal --print-policy: %v: %s", err, out)
	}
	var p struct {
		Ladders []map[string]any `json:"ladders"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	var keep []map[string]any
	for _, l := range p.Ladders {
		if slices.Contains(names, l["name"].(string)) {
			l["match"] = map[string]string{"unit": "lmn-e2e-*"}
			keep = append(keep, l)
		}
	}
	if len(keep) != len(names) {
		t.Fatalf("built-in ladders %v: found %d", names, len(keep))
	}
	b, err := json.Marshal(map[string]any{"ladders": keep})
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "policy.json", string(b))
}

// healthPipe runs the pipe over m with probes (a --probes file's
// content) and the named built-in ladders, lmn-collect sampling every
// second and finding the sandbox's units as scope's.
func healthPipe(t testing.TB, m *sdtest.Manager, scope, probes string, ladders []string, o pipeOpts) *Pipe {
	t.Helper()
	dir := t.TempDir()
	o.collect = append(o.collect, "--probes", writeFile(t, dir, "probes.json", probes),
		"--manager-cgroup", scope+"="+managerCgroup(t, m))
	if o.interval == "" {
		o.interval = "1s"
	}
	if o.heal == nil {
		o.heal = []string{"--tiers", "unprivileged,advise"}
	}
	o.heal = append(o.heal, "--sudo", "never")
	p := sandboxPipe(t, m, builtinLadders(t, dir, ladders...), o)
	waitUnits(t, p)
	return p
}

// redisProbe is a probe of redis on port as the issue asks for it: PING,
// and a reply starting +PONG, every second, 500 ms each.
func redisProbe(unit, scope string, port int) string {
	return fmt.Sprintf(`{"name": "redis", "unit": %q, "scope": %q, "interval": "1s", "timeout": "500ms",
  "tcp": {"address": "127.0.0.1:%d", "send": "PING\r\n", "expect": "+PONG"}}`, unit, scope, port)
}

// waitProbe waits until a sample carries the probe's result with ok.
func waitProbe(t testing.TB, p *Pipe, name string, ok bool) record.ProbeResult {
	t.Helper()
	var got record.ProbeResult
	_, err := p.Proc("collect").Out.Wait(30*time.Second, fmt.Sprintf("probe %s ok=%v", name, ok), func(l []Captured) bool {
		if len(l) == 0 || kindOf(l[len(l)-1].Raw) != record.KindSample {
			return false
		}
		for _, r := range samplesOf(t, l[len(l)-1:])[0].Probes {
			if r.Name == name && r.OK == ok {
				got = r
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// healOf returns the first heal record matching, or fails.
func firstHeal(t testing.TB, hs []record.Heal, what string, match func(record.Heal) bool) record.Heal {
	t.Helper()
	for _, h := range hs {
		if match(h) {
			return h
		}
	}
	t.Fatalf("no heal record %s", what)
	return record.Heal{}
}

func isPhase(rule, action, phase string) func(record.Heal) bool {
	return func(h record.Heal) bool { return h.Rule == rule && h.Action == action && h.Phase == phase }
}

func recoveredBy(rule string) func(record.Heal) bool {
	return func(h record.Heal) bool {
		return h.Rule == rule && h.Phase == record.PhaseVerified && h.Outcome == record.OutcomeRecovered
	}
}

// TestRedisHungIsRestarted is issue 13's hung daemon: redis stopped with
// SIGSTOP stays active (running) and answers nothing; lmn restarted it in
// 0 of 3 runs. Now its probe fails three checks in a row, the built-in
// probe_failed ladder restarts the unit (systemd's stop sends SIGCONT after
// SIGTERM, so the stopped redis exits), and the step is recovered from the
// probe: the issue resolves after two passing checks, the unit runs, and
// the verified record carries the probe's result.
func TestRedisHungIsRestarted(t *testing.T) {
	skipShort(t)
	t.Parallel()
	m := sdtest.Start(t)
	const unit = "lmn-e2e-hung.service"
	port := freePort(t)
	r := installRedisWith(t, m, unit, redisOpts{port: port})
	p := healthPipe(t, m, "user", `{"probes": [`+redisProbe(unit, "user", port)+`]}`, []string{"probe_failed"}, pipeOpts{})
	waitProbe(t, p, "redis", true)
	pid := mainPID(t, m, unit)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	if reply, err := r.do("PING"); err == nil {
		t.Fatalf("a stopped redis answered %q", reply)
	}
	lines, err := p.Proc("heal").Out.Wait(90*time.Second, "probe_failed recovered", hasHeal(recoveredBy("probe_failed")))
	if err != nil {
		t.Fatalf("heal: %v", err)
	}
	back := r.waitUp(t, 10*time.Second)
	p.Stop(20 * time.Second)
	p.RequireClean()

	hs := healsOf(t, lines)
	start := firstHeal(t, hs, "restart_unit started", isPhase("probe_failed", "restart_unit", record.PhaseStarted))
	v := firstHeal(t, hs, "verified", recoveredBy("probe_failed"))
	t.Logf("SIGSTOP → restart started %v, → PONG %v, → recovered %v", start.TS.Sub(stopped).Round(10*time.Millisecond),
		back.Sub(stopped).Round(10*time.Millisecond), v.TS.Sub(stopped).Round(10*time.Millisecond))
	if start.Subject["probe"] != "redis" || start.Subject["unit"] != unit || start.Subject["scope"] != "user" || start.Attempt != 1 {
		t.Errorf("started %+v", start)
	}
	// 3 checks a second apart, a sample a second: well within 10 s.
	if d := start.TS.Sub(stopped); d < 0 || d > 10*time.Second {
		t.Errorf("restart started %v after the SIGSTOP; want within hold × interval + a few samples", d)
	}
	if v.UnitState != "active/running" || v.Probe == nil || !v.Probe.OK || v.Probe.Streak < 2 || v.Probe.CheckedAt.Before(start.TS.Time) {
		t.Errorf("recovered without the probe passing after the restart: %+v probe %+v", v, v.Probe)
	}
	if now := mainPID(t, m, unit); now == pid {
		t.Errorf("redis was not restarted (pid %d)", pid)
	}
	for _, h := range hs {
		if h.Phase == record.PhaseGaveUp || h.Phase == record.PhaseAdvised {
			t.Errorf("%s: %+v", h.Phase, h)
		}
	}
}

// TestNginx503IsRestarted: Debian's nginx answers its health page with
// 503 (its state file says broken; the unit clears it as it starts). The
// http probe fails with "status 503", the unit is restarted, and the page
// answers 200 ok again.
func TestNginx503IsRestarted(t *testing.T) {
	skipShort(t)
	t.Parallel()
	m := sdtest.Start(t)
	w := installWeb(t, m)
	probes := fmt.Sprintf(`{"probes": [{"name": "web", "unit": %q, "scope": "user", "interval": "1s", "timeout": "500ms",
  "http": {"url": "http://127.0.0.1:%d/health", "status": [200], "contains": "ok"}}]}`, w.Name, w.Port)
	p := healthPipe(t, m, "user", probes, []string{"probe_failed"}, pipeOpts{})
	waitProbe(t, p, "web", true)
	writeFile(t, w.Dir, "broken", "")
	broken := time.Now()
	failing := waitProbe(t, p, "web", false)
	lines, err := p.Proc("heal").Out.Wait(90*time.Second, "probe_failed recovered", hasHeal(recoveredBy("probe_failed")))
	if err != nil {
		t.Fatalf("heal: %v", err)
	}
	p.Stop(20 * time.Second)
	p.RequireClean()
	if failing.Error != "status 503" {
		t.Errorf("probe error %q, want status 503", failing.Error)
	}
	hs := healsOf(t, lines)
	start := firstHeal(t, hs, "restart_unit started", isPhase("probe_failed", "restart_unit", record.PhaseStarted))
	t.Logf("503 → restart started %v", start.TS.Sub(broken).Round(10*time.Millisecond))
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(w.Port) + "/health")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("health page after the heal: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if n := w.starts(t); n != 2 {
		t.Errorf("nginx started %d times; want once more than at first", n)
	}
}

// TestRedisHangsAfterEachRestart: a redis that hangs (SIGSTOP) 12 s after
// every start. Each restart brings it back, its probe passes, the step is
// recovered; then it hangs again. Its restarts are a streak (never up 30 s
// in between): the breaker backs off (30 s, then 60 s), and after three
// restarts it gives up with advice instead of restarting in a tight loop.
// Production backoffs: about 2 minutes.
func TestRedisHangsAfterEachRestart(t *testing.T) {
	skipShort(t)
	t.Parallel()
	m := sdtest.Start(t)
	const unit = "lmn-e2e-hangs.service"
	port := freePort(t)
	r := installRedisWith(t, m, unit, redisOpts{port: port, before: "(sleep 12; kill -STOP $$$$) &"})
	p := healthPipe(t, m, "user", `{"probes": [`+redisProbe(unit, "user", port)+`]}`, []string{"probe_failed"}, pipeOpts{})
	gaveUp := hasHeal(func(h record.Heal) bool { return h.Rule == "probe_failed" && h.Phase == record.PhaseGaveUp })
	if _, err := p.Proc("heal").Out.Wait(5*time.Minute, "gave_up", gaveUp); err != nil {
		t.Fatalf("heal: %v", err)
	}
	// Bounded: nothing is restarted in the next 20 s (the cool-down is
	// 30 minutes), though redis hangs again.
	time.Sleep(20 * time.Second)
	p.Stop(20 * time.Second)
	p.RequireClean()
	hs := healsOf(t, p.Proc("heal").Out.All())
	restarts := started(hs)
	if len(restarts) != 3 {
		t.Errorf("%d restarts; want 3 (max_attempts), then give up", len(restarts))
	}
	for i, h := range restarts {
		if h.Attempt != i+1 {
			t.Errorf("restart %d is attempt %d; want one streak", i+1, h.Attempt)
		}
		if i > 0 {
			gap := h.TS.Sub(restarts[i-1].TS.Time)
			if want := time.Duration(30<<(i-1)) * time.Second; gap < want {
				t.Errorf("restart %d came %v after the one before; want the breaker's backoff of %v at least", i+1, gap, want)
			}
		}
	}
	g := firstHeal(t, hs, "gave_up", func(h record.Heal) bool { return h.Phase == record.PhaseGaveUp })
	if !strings.Contains(g.Advice, "does not answer its probe redis") || !strings.Contains(g.Advice, "systemctl --user restart -- "+unit) ||
		g.RetryAt == nil {
		t.Errorf("gave_up %+v", g)
	}
	if n := strings.Count(r.log(t), "Server initialized"); n != 4 {
		t.Errorf("redis started %d times; want 4 (the first start and 3 restarts)", n)
	}
}

// TestProbeRestartThroughPrivd checks the path through lmn-privd for a
// probe's restart of an active unit: lmn-privd restarts a unit that is not
// failed only on a premise it can check or is given, and for a probe's
// unit that is premise.probe_units (the NixOS module fills it from the
// probes). The sandbox's manager answers as the system manager here
// (asSystemManager); lmn-collect finds its units as system units.
func TestProbeRestartThroughPrivd(t *testing.T) {
	skipShort(t)
	t.Parallel()
	m := sdtest.Start(t)
	const unit = "lmn-e2e-probed.service"
	port := freePort(t)
	r := installRedisWith(t, m, unit, redisOpts{port: port})
	asSystemManager(t, m, unit)
	sock, key, audit, stop := startPrivdWith(t, m, `"premise": {"probe_units": ["`+unit+`"]},`)
	p := healthPipe(t, m, "system", `{"probes": [`+redisProbe(unit, "system", port)+`]}`, []string{"probe_failed"},
		pipeOpts{system: true, heal: []string{"--tiers", "privd,advise", "--privd-socket", sock, "--key-file", key}})
	waitProbe(t, p, "redis", true)
	if err := syscall.Kill(mainPID(t, m, unit), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	lines, err := p.Proc("heal").Out.Wait(90*time.Second, "probe_failed recovered", hasHeal(recoveredBy("probe_failed")))
	if err != nil {
		t.Fatalf("heal: %v", err)
	}
	r.waitUp(t, 10*time.Second)
	p.Stop(20 * time.Second)
	p.RequireClean()
	stop()
	ok := firstHeal(t, healsOf(t, lines), "succeeded", isPhase("probe_failed", "restart_unit", record.PhaseSucceeded))
	if ok.Tier != record.TierPrivd {
		t.Errorf("restart by tier %s (%v); want privd", ok.Tier, ok.Denied)
	}
	b, err := os.ReadFile(audit)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"action":"restart_unit"`) || !strings.Contains(string(b), unit) || !strings.Contains(string(b), `"outcome":"ok"`) {
		t.Errorf("the audit log does not record the restart:\n%s", b)
	}
}

// memoryCgroup makes a cgroup v1 memory cgroup limited to limit bytes
// below this test binary's own, and removes it when the test ends. Call it
// before sdtest.Start, so it is removed after the sandbox has stopped what
// ran in it. The sandboxed user manager cannot enforce MemoryMax= on this
// host (its memory controller is v1, which a user manager is never
// delegated), so a unit's limit is made real this way: the unit's
// ExecStart joins the cgroup before it execs the daemon, and lmn-collect
// finds the unit's memory cgroup through its processes, as it does on a
// real hybrid host for a unit without one of its own.
func memoryCgroup(t testing.TB, limit uint64) string {
	t.Helper()
	needRoot(t, "makes a memory cgroup")
	const root = "/sys/fs/cgroup/memory"
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	cgs, err := proc.ParseProcessCgroups(string(b))
	if err != nil {
		t.Fatal(err)
	}
	own, ok := proc.CgroupOf(cgs, "memory")
	if _, serr := os.Stat(filepath.Join(root, "memory.limit_in_bytes")); !ok || serr != nil {
		t.Skip("no cgroup v1 memory hierarchy: on a unified host a unit's limit needs a delegated memory controller, which this scenario does not set up")
	}
	dir := filepath.Join(root, own, fmt.Sprintf("lmn-e2e-mem-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot make a memory cgroup: %v", err)
	}
	t.Cleanup(func() {
		for range 100 {
			if err := syscall.Rmdir(dir); err == nil || os.IsNotExist(err) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Errorf("memory cgroup %s not removed", dir)
	})
	writeFile(t, dir, "memory.limit_in_bytes", strconv.FormatUint(limit, 10))
	return dir
}

// cgroupValue reads a number from a cgroup file: the whole file, or the
// line starting with key.
func cgroupValue(t testing.TB, path, key string) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, found := strings.Cut(line, " ")
		if key == "" {
			v, found = line, true
		}
		if found && (key == "" || k == key) {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				t.Fatalf("%s: %q", path, line)
			}
			return n
		}
	}
	t.Fatalf("%s has no %s", path, key)
	return 0
}

// TestRedisNearItsLimitRestartedGracefully is issue 13's leak toward a
// unit's own limit: a redis in a 64 MiB memory cgroup, filled by a client,
// was OOM-killed by the kernel (its data lost) while lmn's host-wide rules
// saw nothing. Here the client fills it to 89 % of the limit, then adds
// 64 KiB a second, which would reach the limit about 100 s later.
// unit_memory_near_limit (≥ 90 % for 30 s) fires, and the built-in
// unit_memory ladder restarts the unit: systemd's stop, SIGTERM, which
// redis answers with a clean shutdown. The cgroup's oom_kill count stays 0.
func TestRedisNearItsLimitRestartedGracefully(t *testing.T) {
	skipShort(t)
	t.Parallel()
	const limit = 64 << 20
	cg := memoryCgroup(t, limit)
	m := sdtest.Start(t)
	const unit = "lmn-e2e-leaky.service"
	port := freePort(t)
	r := installRedisWith(t, m, unit, redisOpts{port: port, before: "echo $$$$ > " + filepath.Join(cg, "cgroup.procs") + ";"})
	p := healthPipe(t, m, "user", `{"probes": [`+redisProbe(unit, "user", port)+`]}`, []string{"unit_memory"}, pipeOpts{})
	usage := func() uint64 { return cgroupValue(t, filepath.Join(cg, "memory.usage_in_bytes"), "") }
	restarted := hasHeal(isPhase("unit_memory_near_limit", "restart_unit", record.PhaseStarted))
	heal := p.Proc("heal")

	big := strings.Repeat("x", 1<<20)
	for i := 0; usage() < limit*89/100; i++ {
		if reply, err := r.set(fmt.Sprintf("big:%d", i), big); err != nil || reply != "+OK" {
			t.Fatalf("SET big:%d at %d bytes: %q %v", i, usage(), reply, err)
		}
	}
	fillStart, peak := time.Now(), usage()
	small := strings.Repeat("y", 64<<10)
	for i := 0; !restarted(heal.Out.All()); i++ {
		if time.Since(fillStart) > 2*time.Minute {
			t.Fatalf("no restart within 2 minutes of filling; usage %d of %d", usage(), limit)
		}
		if u := usage(); u > limit*99/100 {
			t.Fatalf("usage %d reached the limit %d and nothing restarted redis", u, limit)
		} else {
			peak = max(peak, u)
		}
		r.set(fmt.Sprintf("small:%d", i), small) // fails once redis restarts
		time.Sleep(time.Second)
	}
	lines, err := heal.Out.Wait(60*time.Second, "unit_memory_near_limit recovered", hasHeal(recoveredBy("unit_memory_near_limit")))
	if err != nil {
		t.Fatalf("heal: %v", err)
	}
	r.waitUp(t, 10*time.Second)
	after := usage()
	p.Stop(20 * time.Second)
	p.RequireClean()

	start := firstHeal(t, healsOf(t, lines), "restart", isPhase("unit_memory_near_limit", "restart_unit", record.PhaseStarted))
	t.Logf("filling slowly from %v; restart started %v later at a peak of %d MiB of %d; %d MiB after",
		fillStart.Format(time.TimeOnly), start.TS.Sub(fillStart).Round(time.Second), peak>>20, limit>>20, after>>20)
	if start.Subject["unit"] != unit || start.Subject["scope"] != "user" {
		t.Errorf("restart of %v", start.Subject)
	}
	if n := cgroupValue(t, filepath.Join(cg, "memory.oom_control"), "oom_kill"); n != 0 {
		t.Errorf("the OOM killer killed %d processes in redis's cgroup: lmn was too late", n)
	}
	if l := r.log(t); !strings.Contains(l, "Received SIGTERM scheduling shutdown") || !strings.Contains(l, "ready to exit, bye bye") {
		t.Errorf("redis did not shut down on SIGTERM; its log:\n%s", lastLines(l, 20))
	}
	if reply, err := r.do("DBSIZE"); err != nil || reply != ":0" {
		t.Errorf("after the restart redis holds %q (%v)", reply, err)
	}
	// The samples said why: the unit's own cgroup, found through its
	// process, with the limit and how full it was.
	var seen bool
	for _, s := range samplesOf(t, p.Proc("collect").Out.All()) {
		if s.Mem == nil {
			continue
		}
		for _, u := range s.Mem.Units {
			if u.Unit == unit && u.MaxBytes != nil && *u.MaxBytes == limit && u.MaxUsedRatio != nil && *u.MaxUsedRatio >= 0.9 && u.OOMKills != nil {
				seen = true
			}
		}
	}
	if !seen {
		t.Error("no sample carried the unit's cgroup at 90 % of its 64 MiB limit")
	}
}
