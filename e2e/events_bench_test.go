package e2e

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/oom"
	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
)

// The benchmarks of bench/heal-latency.sh next to BenchmarkTimeToHeal:
// systemd's own Restart= and Monit on the same crashing service, and how
// fast lmn's events turn a link going down, an OOM kill and memory
// pressure into an issue.

var monitCycle = flag.Int("monit-cycle", 30, "Monit's `set daemon` in BenchmarkMonitRestart, in seconds")

// BenchmarkSystemdRestart: the same crashing unit under systemd's own
// Restart=on-failure with the default RestartSec= (100 ms): from the
// unit's exit to its next start, both from its own log.
func BenchmarkSystemdRestart(b *testing.B) {
	skipShort(b)
	m := sdtest.Start(b)
	u := testUnit{Name: "lmn-e2e-restart.service", Dir: b.TempDir()}
	writeFile(b, u.Dir, "run.sh", crashScript)
	if out, err := runCmd("mkfifo", filepath.Join(u.Dir, "ctl")); err != nil {
		b.Fatal(out)
	}
	m.WriteUnit(b, u.Name, fmt.Sprintf("[Unit]\nStartLimitIntervalSec=0\n[Service]\nRestart=on-failure\nExecStart=/bin/sh %s %s\n",
		filepath.Join(u.Dir, "run.sh"), u.Dir))
	m.Run(b, "start", u.Name)
	waitStarts(b, u, 1, 10*time.Second)
	var restarted []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		time.Sleep(rand.N(time.Second))
		u.crash(b)
		evs := waitStarts(b, u, i+2, 10*time.Second)
		restarted = append(restarted, eventTimes(evs, "start")[i+1].Sub(eventTimes(evs, "exit")[i]))
	}
	b.StopTimer()
	report(b, "restarted", restarted)
	b.Logf("systemd Restart=on-failure (RestartSec=100ms), %d runs: exit to next start %s", b.N, summary(restarted))
}

// BenchmarkMonitRestart: the same crashing service under Monit, which
// checks its pid file every -monit-cycle seconds (upstream's monitrc: 30,
// the interval lmn now ticks at) and starts it when it is gone.
func BenchmarkMonitRestart(b *testing.B) {
	skipShort(b)
	monit, err := exec.LookPath("monit")
	if err != nil {
		b.Skip("no monit")
	}
	dir, err := os.MkdirTemp("", "lmn-monit-") // short: monit's paths
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	u := testUnit{Name: "monit:lmn-flaky", Dir: dir}
	writeFile(b, dir, "run.sh", crashScript)
	writeFile(b, dir, "start.sh", fmt.Sprintf("#!/bin/sh\n/bin/sh %s/run.sh %s </dev/null >/dev/null 2>&1 &\necho $! > %s/flaky.pid\n", dir, dir, dir))
	if out, err := runCmd("mkfifo", filepath.Join(dir, "ctl")); err != nil {
		b.Fatal(out)
	}
	rc := writeFile(b, dir, "monitrc", fmt.Sprintf(`set daemon %d
set pidfile %[2]s/monit.pid
set idfile %[2]s/monit.id
set statefile %[2]s/monit.state
set log %[2]s/monit.log
check process lmn-flaky with pidfile %[2]s/flaky.pid
  start program = "/bin/sh %[2]s/start.sh"
`, *monitCycle, dir))
	os.Chmod(rc, 0o600)
	p := startPipe(b, nil, Stage{Name: "monit", Args: []string{monit, "-I", "-c", rc}})
	waitStarts(b, u, 1, time.Duration(*monitCycle+10)*time.Second)
	var restarted []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		time.Sleep(rand.N(time.Duration(*monitCycle) * time.Second))
		u.crash(b)
		evs := waitStarts(b, u, i+2, time.Duration(2**monitCycle+10)*time.Second)
		restarted = append(restarted, eventTimes(evs, "start")[i+1].Sub(eventTimes(evs, "exit")[i]))
	}
	b.StopTimer()
	report(b, "restarted", restarted)
	b.Logf("monit, set daemon %d, %d runs: exit to next start %s", *monitCycle, b.N, summary(restarted))
	p.Signal("monit", 15)
	p.Wait(20 * time.Second)
	if pid, err := os.ReadFile(filepath.Join(dir, "flaky.pid")); err == nil {
		runCmd("kill", string(pid[:len(pid)-1]))
	}
}

// BenchmarkLinkDownToIssue: a veth set down in lmn-collect's network
// namespace, to lmn-detect's interface_down issue (enabled for the veth,
// holding for one sample), at a 30 s tick. Measured from before the ip(8)
// command (nsenter and ip's own start included), to the issue leaving
// lmn-detect.
func BenchmarkLinkDownToIssue(b *testing.B) {
	skipShort(b)
	rules := writeFile(b, b.TempDir(), "rules.json",
		`{"extend": true, "rules": [{"name": "interface_down", "enabled": true, "match": ["lmnv0"], "for": 1,
		  "flapping": {"transitions": 0}}]}`)
	p, ip := linkPipe(b, rules)
	detect := p.Proc("detect")
	var issued []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		time.Sleep(rand.N(time.Second))
		down := time.Now()
		ip("link", "set", "lmnv0", "down")
		lines, err := detect.Out.Wait(10*time.Second, "interface_down firing", func(l []Captured) bool {
			return len(issuesIn(b, l, "interface_down", record.StateFiring)) > i
		})
		if err != nil {
			b.Fatal(err)
		}
		issued = append(issued, issuesIn(b, lines, "interface_down", record.StateFiring)[i].Sub(down))
		ip("link", "set", "lmnv0", "up")
		if _, err := detect.Out.Wait(10*time.Second, "resolved", func(l []Captured) bool {
			return len(issuesIn(b, l, "interface_down", record.StateResolved)) > i
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	report(b, "issued", issued)
	b.Logf("link down to interface_down, --interval %s, %d runs: %s", slowTick, b.N, summary(issued))
	p.Stop(20 * time.Second)
	p.RequireClean()
}

// issuesIn returns when each issue of rule in state left its stage.
func issuesIn(t testing.TB, lines []Captured, rule, state string) []time.Time {
	var out []time.Time
	for _, c := range lines {
		if kindOf(c.Raw) != record.KindIssue {
			continue
		}
		for _, is := range issuesOf(t, []Captured{c}) {
			if is.Rule == rule && is.State == state {
				out = append(out, c.At)
			}
		}
	}
	return out
}

// killWatch watches dir for OOM kills with the package lmn-collect uses,
// and returns when each came.
func killWatch(b *testing.B, dir string) chan time.Time {
	kills := make(chan time.Time, 64)
	w, err := oom.New(func(string) { kills <- time.Now() })
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Close() })
	if err := w.Set([]string{dir}); err != nil {
		b.Fatal(err)
	}
	return kills
}

// BenchmarkOOMToIssue: a unit's main process killed by the OOM killer, to
// lmn-detect's unit_failed issue, at a 30 s tick. The sandboxed user
// manager cannot enforce MemoryMax= on this hybrid host, so the unit's
// shell moves itself into a v1 memory cgroup the benchmark owns, limited
// to 16 MiB, and execs dd with a 64 MiB buffer. The kill is timed by the
// benchmark's own watch of that cgroup (the kernel's notification); the
// unit fails, and the manager's signal wakes lmn-collect.
func BenchmarkOOMToIssue(b *testing.B) {
	skipShort(b)
	g := sdtest.NewGroup(b, 16<<20)
	if !g.MemoryV1 {
		b.Skip("written for the v1 memory controller of hybrid hosts; on a unified host give the unit MemoryMax= instead")
	}
	m := sdtest.Start(b)
	const name = "lmn-e2e-oom.service"
	m.WriteUnit(b, name, fmt.Sprintf("[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=/bin/sh -c 'echo $$$$ > %s/cgroup.procs && exec /bin/dd if=/dev/zero of=/dev/null bs=64M count=1'\n", g.Memory))
	kills := killWatch(b, g.Memory)
	policy := writeFile(b, b.TempDir(), "policy.json", stormPolicy)
	rules := writeFile(b, b.TempDir(), "rules.json", `{"extend": true, "rules": [{"name": "unit_failed", "flapping": {"transitions": 0}}]}`)
	p := sandboxPipe(b, m, policy, pipeOpts{interval: slowTick, rules: rules, heal: []string{"--tiers", "advise", "--sudo", "never"}})
	waitUnits(b, p)
	detect := p.Proc("detect")
	var issued []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Run(b, "start", name)
		var killed time.Time
		select {
		case killed = <-kills:
		case <-time.After(10 * time.Second):
			b.Fatal("no OOM kill")
		}
		lines, err := detect.Out.Wait(10*time.Second, "unit_failed firing", func(l []Captured) bool {
			return len(issuesIn(b, l, "unit_failed", record.StateFiring)) > i
		})
		if err != nil {
			b.Fatal(err)
		}
		issued = append(issued, issuesIn(b, lines, "unit_failed", record.StateFiring)[i].Sub(killed))
		m.Run(b, "reset-failed", name)
		if _, err := detect.Out.Wait(10*time.Second, "resolved", func(l []Captured) bool {
			return len(issuesIn(b, l, "unit_failed", record.StateResolved)) > i
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	report(b, "issued", issued)
	b.Logf("OOM kill to unit_failed, --interval %s, %d runs: %s", slowTick, b.N, summary(issued))
	p.Stop(20 * time.Second)
	p.RequireClean()
}

// BenchmarkOOMEvent: an OOM kill in a watched service's cgroup (a cgroup
// the benchmark owns, seen through a sysfs root of symbolic links, as in
// TestOOMKillEvent) to the sample it causes leaving lmn-collect.
func BenchmarkOOMEvent(b *testing.B) {
	skipShort(b)
	g := sdtest.NewGroup(b, 0)
	if g.Memory == "" {
		b.Skip("no memory controller")
	}
	svc, err := g.Sub("system.slice/lmn-e2e-oom.service", 16<<20)
	if err != nil {
		b.Fatal(err)
	}
	sys := cgroupSysRoot(b, g)
	startIn(b, svc, "/bin/sleep", "3600")
	kills := killWatch(b, svc.Memory)
	p := startPipe(b, nil, Stage{Name: "collect", Args: []string{bin(b, "lmn-collect"), "--sys-root", sys,
		"--interval", slowTick, "--units", "none", "--events", "oom"}})
	collect := p.Proc("collect")
	oomSamples := func(l []Captured) []time.Time {
		var out []time.Time
		for _, s := range samplesAt(b, l) {
			if s.s.Trigger == "oom" {
				out = append(out, s.at)
			}
		}
		return out
	}
	if _, err := collect.Out.Wait(10*time.Second, "a first sample", func(l []Captured) bool { return countKind(l, record.KindSample) > 0 }); err != nil {
		b.Fatal(err)
	}
	var sampled []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		time.Sleep(rand.N(time.Second))
		hog := exec.Command("/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
		if err := svc.Start(hog); err != nil {
			b.Fatal(err)
		}
		hog.Wait()
		killed := <-kills
		lines, err := collect.Out.Wait(10*time.Second, "an oom sample", func(l []Captured) bool { return len(oomSamples(l)) > i })
		if err != nil {
			b.Fatal(err)
		}
		sampled = append(sampled, oomSamples(lines)[i].Sub(killed))
	}
	b.StopTimer()
	report(b, "sampled", sampled)
	b.Logf("OOM kill in a watched cgroup to its sample, --interval %s, %d runs: %s", slowTick, b.N, summary(sampled))
	p.Stop(20 * time.Second)
	p.RequireClean()
}

type timedSample struct {
	at time.Time
	s  record.Sample
}

func samplesAt(t testing.TB, lines []Captured) []timedSample {
	var out []timedSample
	for _, c := range lines {
		if kindOf(c.Raw) == record.KindSample {
			out = append(out, timedSample{c.At, samplesOf(t, []Captured{c})[0]})
		}
	}
	return out
}

// pressureRules is one rule on the machine's memory pressure, low enough
// for a load in one small cgroup to reach it.
const pressureRules = `{"rules": [{"name": "mem_stall", "kind": "threshold", "metric": "psi.memory.some.avg10_ratio",
  "warning": 0.03, "clear": 0.01, "flapping": {"transitions": 0}}]}`

// BenchmarkPressureToIssue: a process writing files four times larger
// than its cgroup's 32 MiB limit stalls in reclaim, which the machine's
// memory pressure counts; lmn-collect's trigger on /proc/pressure/memory
// (some ≥ 10 % of a 2 s window here, without CAP_SYS_RESOURCE) fires
// once per window while it lasts, so the rule fires at the first trigger
// after the 10 s average reached its level. Reported: load start to
// issue, and the gap between the sample that fired the issue and the
// sample before it, which bounds how late the issue came after the level
// was reached: one window.
func BenchmarkPressureToIssue(b *testing.B) {
	skipShort(b)
	g := sdtest.NewGroup(b, 32<<20)
	if g.Memory == "" {
		b.Skip("no memory controller")
	}
	rules := writeFile(b, b.TempDir(), "rules.json", pressureRules)
	p := startPipe(b, nil,
		Stage{Name: "collect", Args: []string{bin(b, "lmn-collect"), "--interval", slowTick, "--units", "none", "--events", "psi"}},
		Stage{Name: "detect", Args: []string{bin(b, "lmn-detect"), "--rules", rules}})
	detect := p.Proc("detect")
	fill := filepath.Join(b.TempDir(), "fill")
	var issued, gaps []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		load := exec.Command("/bin/sh", "-c", `while :; do dd if=/dev/zero of="$0" bs=1M count=128 status=none; done`, fill)
		if err := g.Start(load); err != nil {
			b.Fatal(err)
		}
		lines, err := detect.Out.Wait(60*time.Second, "mem_stall firing", func(l []Captured) bool {
			return len(issuesIn(b, l, "mem_stall", record.StateFiring)) > i
		})
		load.Process.Kill()
		load.Wait()
		if err != nil {
			b.Fatal(err)
		}
		at := issuesIn(b, lines, "mem_stall", record.StateFiring)[i]
		issued = append(issued, at.Sub(start))
		gaps = append(gaps, gapBefore(b, lines, at))
		if _, err := detect.Out.Wait(3*time.Minute, "mem_stall resolved", func(l []Captured) bool {
			return len(issuesIn(b, l, "mem_stall", record.StateResolved)) > i
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	report(b, "issued", issued)
	report(b, "gap", gaps)
	b.Logf("memory load to mem_stall, --interval %s, %d runs: %s; sample that fired it after the one before: %s",
		slowTick, b.N, summary(issued), summary(gaps))
	p.Stop(20 * time.Second)
	p.RequireClean()
}

// gapBefore returns the record time between the sample an issue leaving
// at at followed and the sample before that.
func gapBefore(b *testing.B, lines []Captured, at time.Time) time.Duration {
	var prev, last time.Time
	for _, s := range samplesAt(b, lines) {
		if s.at.After(at) {
			break
		}
		prev, last = last, s.s.TS.Time
	}
	return last.Sub(prev)
}
