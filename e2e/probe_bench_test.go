package e2e

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
)

var (
	probePeriod  = flag.Duration("probe-period", 2*time.Second, "probe interval of lmn and Monit's cycle in BenchmarkHungRedis")
	probeCostFor = flag.Duration("probe-cost-for", 60*time.Second, "how long BenchmarkProbeCost measures")
)

// monit runs Debian's monit in the foreground with control file rc (its
// state files in dir) until the test ends.
func startMonit(t testing.TB, dir, rc string) *exec.Cmd {
	t.Helper()
	needTool(t, "monit")
	head := fmt.Sprintf("set logfile %[1]s/monit.log\nset pidfile %[1]s/monit.pid\nset idfile %[1]s/monit.id\nset statefile %[1]s/monit.state\n", dir)
	path := filepath.Join(dir, "monitrc")
	if err := os.WriteFile(path, []byte(head+rc), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("monit", "-t", "-c", path).CombinedOutput(); err != nil {
		t.Fatalf("monit -t: %v: %s", err, out)
	}
	cmd := exec.Command("monit", "-I", "-c", path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	return cmd
}

// BenchmarkHungRedis is issue 13's hung daemon, lmn against Monit side by
// side in one run at the same probe period: two real redis units of one
// sandboxed manager, one probed by lmn-collect (tcp PING, +PONG, a 1 s
// timeout every -probe-period, 3 failed checks in a row) and healed by the
// built-in probe_failed ladder, the other checked by Monit (`set daemon`
// the same period, `if failed port N protocol redis with timeout 1 seconds
// for 3 cycles then exec` a script that logs the time and runs the same
// systemctl --user restart). Each run stops both at the same moment, at a
// random point of the period, with SIGSTOP, and times, for each, the
// restart issued (lmn-heal's started record leaving the pipe; the Monit
// script's first line) and redis answering PING again (the bench's own
// PING every 50 ms). Between runs the redises stay up 35 s, past the
// breaker's healthy_uptime, so every restart is a first attempt. It
// reports the CPU of each side over the whole run too: the lmn pipe (all
// four processes, every sample included) and Monit.
//
//	go test ./e2e/ -run '^$' -bench HungRedis -benchtime 5x -probe-period 2s
func BenchmarkHungRedis(b *testing.B) {
	skipShort(b)
	m := sdtest.Start(b)
	const lmnUnit, monitUnit = "lmn-e2e-lmn.service", "lmn-e2e-monit.service"
	lp, mp := freePort(b), freePort(b)
	lr := installRedisWith(b, m, lmnUnit, redisOpts{port: lp})
	mr := installRedisWith(b, m, monitUnit, redisOpts{port: mp})
	dir := b.TempDir()
	period := *probePeriod
	probe := fmt.Sprintf(`{"probes": [{"name": "redis", "unit": %q, "scope": "user", "interval": %q, "timeout": "1s",
  "tcp": {"address": "127.0.0.1:%d", "send": "PING\r\n", "expect": "+PONG"}}]}`, lmnUnit, period.String(), lp)
	// The unit is stopped on purpose b.N times: lmn-detect's flapping hold
	// (5 transitions an hour) would keep the issue firing.
	rules := writeFile(b, dir, "rules.json",
		`{"extend": true, "rules": [{"name": "probe_failed", "flapping": {"transitions": 100000, "window": "1h"}}]}`)
	p := healthPipe(b, m, "user", probe, []string{"probe_failed"}, pipeOpts{rules: rules})
	restarts := filepath.Join(dir, "monit-restarts")
	script := writeFile(b, dir, "restart.sh", fmt.Sprintf("#!/bin/sh\ndate +%%s.%%N >> %s\nexec /usr/bin/env %s %s restart %s\n",
		restarts, strings.Join(m.Env(), " "), strings.Join(m.Systemctl(), " "), monitUnit))
	os.Chmod(script, 0o755)
	monit := startMonit(b, dir, fmt.Sprintf("set daemon %d\ncheck host %s with address 127.0.0.1\n"+
		"  if failed port %d protocol redis with timeout 1 seconds for 3 cycles then exec %q\n",
		int(period.Seconds()), monitUnit, mp, script))
	waitProbe(b, p, "redis", true)
	time.Sleep(2 * period) // Monit's first cycles

	heal := p.Proc("heal")
	pids := []int{monit.Process.Pid}
	for _, pr := range p.Procs {
		pids = append(pids, pr.Pid())
	}
	cpu0 := make([]time.Duration, len(pids))
	for i, pid := range pids {
		cpu0[i] = cpuTime(b, pid)
	}
	start := time.Now()
	var lmnIssued, lmnBack, monitIssued, monitBack []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		time.Sleep(rand.N(period))
		lpid, mpid := mainPID(b, m, lmnUnit), mainPID(b, m, monitUnit)
		stopped := time.Now()
		syscall.Kill(lpid, syscall.SIGSTOP)
		syscall.Kill(mpid, syscall.SIGSTOP)
		var wg sync.WaitGroup
		var lb, mb time.Time
		wg.Go(func() { lb = answering(b, lr, stopped) })
		wg.Go(func() { mb = answering(b, mr, stopped) })
		wg.Wait()
		lines, err := heal.Out.Wait(60*time.Second, "recovered", func(l []Captured) bool {
			return len(healAt(l, record.PhaseVerified)) > i
		})
		if err != nil {
			b.Fatalf("run %d: %v", i, err)
		}
		st := healAt(lines, record.PhaseStarted)
		mt := fileTimes(b, restarts)
		if len(st) != i+1 || len(mt) != i+1 {
			b.Fatalf("run %d: lmn restarted %d times, Monit %d; want %d each", i, len(st), len(mt), i+1)
		}
		lmnIssued = append(lmnIssued, st[i].at.Sub(stopped))
		monitIssued = append(monitIssued, mt[i].Sub(stopped))
		lmnBack = append(lmnBack, lb.Sub(stopped))
		monitBack = append(monitBack, mb.Sub(stopped))
		if i+1 < b.N {
			time.Sleep(35 * time.Second) // past healthy_uptime: a fresh count each run
		}
	}
	b.StopTimer()
	elapsed := time.Since(start).Seconds()
	lmnCPU, monitCPU := time.Duration(0), cpuTime(b, pids[0])-cpu0[0]
	for i, pid := range pids[1:] {
		lmnCPU += cpuTime(b, pid) - cpu0[i+1]
	}
	report(b, "lmn-issued", lmnIssued)
	report(b, "monit-issued", monitIssued)
	report(b, "lmn-answering", lmnBack)
	report(b, "monit-answering", monitBack)
	b.ReportMetric(ms(lmnCPU)/elapsed, "lmn-pipe-cpu-ms/s")
	b.ReportMetric(ms(monitCPU)/elapsed, "monit-cpu-ms/s")
	b.Logf("period %v, %d runs: restart issued lmn %s, Monit %s; answering again lmn %s, Monit %s; CPU over %.0f s: lmn pipe %.2f ms/s, Monit %.2f ms/s",
		period, b.N, summary(lmnIssued), summary(monitIssued), summary(lmnBack), summary(monitBack),
		elapsed, ms(lmnCPU)/elapsed, ms(monitCPU)/elapsed)
	p.Stop(20 * time.Second)
	p.RequireClean()
}

// answering polls PING every 50 ms from the SIGSTOP at stopped until redis
// answers, and returns when.
func answering(t testing.TB, r *redis, stopped time.Time) time.Time {
	for {
		if reply, err := r.do("PING"); err == nil && reply == "+PONG" {
			return time.Now()
		}
		if time.Since(stopped) > time.Minute {
			t.Errorf("%s does not answer a minute after the SIGSTOP", r.unit)
			return time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fileTimes reads the times (seconds.nanoseconds, one a line) a script
// logged; none when the file does not exist yet.
func fileTimes(t testing.TB, path string) []time.Time {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []time.Time
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		secs, err := strconv.ParseFloat(strings.TrimSpace(sc.Text()), 64)
		if err != nil {
			t.Fatalf("%s: %q", path, sc.Text())
		}
		out = append(out, time.Unix(0, int64(secs*1e9)))
	}
	return out
}

// BenchmarkProbeCost is the cost of 20 probes at a 5 s interval, lmn
// against Monit doing the same 20 checks, side by side for -probe-cost-for:
// a real redis and a real nginx on loopback ports, 10 probes of each
// (redis: tcp PING, +PONG; nginx: http GET /health, 200, "ok"). lmn's
// figure is the CPU and RSS lmn-collect --probes adds over an lmn-collect
// without probes sampling at the same --interval 5s beside it (the
// samples' own cost taken out); Monit's is its whole process, `set daemon
// 5` with the 20 checks, which is all it does. Neither needs a service
// manager: the daemons run as children of the benchmark.
//
//	go test ./e2e/ -run '^$' -bench ProbeCost -benchtime 1x -probe-cost-for 60s
func BenchmarkProbeCost(b *testing.B) {
	skipShort(b)
	needTool(b, "redis-server")
	needTool(b, "monit")
	if _, err := os.Stat("/usr/sbin/nginx"); err != nil {
		b.Skip("nginx not installed (Debian package nginx-light)")
	}
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		rp, wp := freePort(b), freePort(b)
		daemon(b, dir, "redis", "/usr/bin/redis-server", "--port", strconv.Itoa(rp), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir)
		w := webConfig(b, dir, wp)
		daemon(b, dir, "nginx", "/usr/sbin/nginx", "-p", w, "-c", filepath.Join(w, "nginx.conf"), "-e", filepath.Join(w, "logs", "error.log"))
		var probes, checks []string
		for j := range 10 {
			probes = append(probes,
				fmt.Sprintf(`{"name": "redis%d", "interval": "5s", "timeout": "2s", "tcp": {"address": "127.0.0.1:%d", "send": "PING\r\n", "expect": "+PONG"}}`, j, rp),
				fmt.Sprintf(`{"name": "web%d", "interval": "5s", "timeout": "2s", "http": {"url": "http://127.0.0.1:%d/health", "status": [200], "contains": "ok"}}`, j, wp))
			checks = append(checks,
				fmt.Sprintf("check host redis%d with address 127.0.0.1\n  if failed port %d protocol redis with timeout 2 seconds then alert\n", j, rp),
				fmt.Sprintf("check host web%d with address 127.0.0.1\n  if failed port %d protocol http request \"/health\" with timeout 2 seconds then alert\n", j, wp))
		}
		pf := writeFile(b, dir, "probes.json", `{"probes": [`+strings.Join(probes, ",\n")+`]}`)
		with := collector(b, "--interval", "5s", "--units", "none", "--probes", pf)
		without := collector(b, "--interval", "5s", "--units", "none")
		monit := startMonit(b, dir, "set daemon 5\n"+strings.Join(checks, ""))
		time.Sleep(6 * time.Second) // every probe and check ran once
		pids := []int{with.Process.Pid, without.Process.Pid, monit.Process.Pid}
		t0 := make([]time.Duration, len(pids))
		for j, pid := range pids {
			t0[j] = cpuTime(b, pid)
		}
		start := time.Now()
		time.Sleep(*probeCostFor)
		elapsed := time.Since(start).Seconds()
		perS := func(j int) float64 { return ms(cpuTime(b, pids[j])-t0[j]) / elapsed }
		withCPU, withoutCPU, monitCPU := perS(0), perS(1), perS(2)
		withRSS, withoutRSS, monitRSS := rssKiB(b, pids[0]), rssKiB(b, pids[1]), rssKiB(b, pids[2])
		b.ReportMetric(withCPU-withoutCPU, "lmn-added-cpu-ms/s")
		b.ReportMetric(monitCPU, "monit-cpu-ms/s")
		b.ReportMetric(float64(withRSS-withoutRSS)/1024, "lmn-added-rss-MiB")
		b.ReportMetric(float64(withRSS)/1024, "lmn-rss-MiB")
		b.ReportMetric(float64(monitRSS)/1024, "monit-rss-MiB")
		b.Logf("over %.0f s: lmn-collect with 20 probes %.2f ms/s, %.1f MiB; without %.2f ms/s, %.1f MiB; Monit %.2f ms/s, %.1f MiB",
			elapsed, withCPU, float64(withRSS)/1024, withoutCPU, float64(withoutRSS)/1024, monitCPU, float64(monitRSS)/1024)
		checkProbesPassed(b, with)
	}
}

// cpuTime is the CPU time pid's threads have run, from the scheduler's
// own count (/proc/PID/task/*/schedstat, in nanoseconds): clock ticks
// (/proc/PID/stat) are 10 ms, coarser than a minute of 5 s samples.
func cpuTime(t testing.TB, pid int) time.Duration {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("threads of pid %d: %v", pid, err)
	}
	var total time.Duration
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // a thread that exited
		}
		ns, err := strconv.ParseInt(strings.Fields(string(b))[0], 10, 64)
		if err != nil {
			t.Fatalf("%s: %q", f, b)
		}
		total += time.Duration(ns)
	}
	return total
}

// daemon runs argv as a child until the test ends, its output in
// dir/name.log.
func daemon(t testing.TB, dir, name string, argv ...string) *exec.Cmd {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		logf.Close()
	})
	return cmd
}

// webConfig writes the fleet's nginx configuration (installWeb's, with
// its /health page) for a server on port, and returns its prefix.
func webConfig(t testing.TB, dir string, port int) string {
	t.Helper()
	w := filepath.Join(dir, "web")
	for _, d := range []string{"tmp", "logs"} {
		os.MkdirAll(filepath.Join(w, d), 0o755)
	}
	writeFile(t, w, "nginx.conf", nginxConfig(w, port))
	return w
}

// collectorProc is an lmn-collect whose samples are read and counted.
type collectorProc struct {
	*exec.Cmd
	mu   sync.Mutex
	last []byte
}

// collector runs lmn-collect with args until the test ends, keeping its
// last sample.
func collector(t testing.TB, args ...string) *collectorProc {
	t.Helper()
	c := &collectorProc{Cmd: exec.Command(bin(t, "lmn-collect"), args...)}
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			c.mu.Lock()
			c.last = append(c.last[:0], sc.Bytes()...)
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		c.Process.Signal(syscall.SIGTERM)
		c.Wait()
	})
	return c
}

// checkProbesPassed fails unless the collector's last sample has 20
// passing probes: the cost measured is of checks that worked.
func checkProbesPassed(t testing.TB, c *collectorProc) {
	t.Helper()
	c.mu.Lock()
	line := append([]byte(nil), c.last...)
	c.mu.Unlock()
	s := samplesOf(t, []Captured{{Raw: line}})
	if len(s) != 1 || len(s[0].Probes) != 20 {
		t.Fatalf("last sample %.200s: want 20 probes", line)
	}
	for _, r := range s[0].Probes {
		if !r.OK {
			t.Errorf("probe %s failed: %s", r.Name, r.Error)
		}
	}
}
