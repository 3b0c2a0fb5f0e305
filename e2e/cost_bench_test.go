package e2e

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
)

var (
	costFor      = flag.Duration("cost-for", 30*time.Second, "how long BenchmarkPipeCostWithUnits measures")
	costInterval = flag.String("cost-interval", "1s", "lmn-collect --interval in BenchmarkPipeCostWithUnits")
)

// BenchmarkPipeCostWithUnits measures the whole pipe (at a 1 s interval, or
// -cost-interval) on a machine where systemd answers: lmn-collect --units
// user lists the failed units of a private systemd user manager every
// sample (one D-Bus call on a kept connection; a systemctl child, counted
// in lmn-collect's children time, only where no manager socket answers). It
// reports the CPU share of one core of the four lmn processes (children
// included), their total resident memory at the end, and the CPU the
// service manager spends answering. bench/peers.sh measures the same pipe on this machine, where
// PID 1 is not systemd and lmn-collect runs no systemctl.
//
//	go test ./e2e/ -run '^$' -bench PipeCostWithUnits -benchtime 1x -cost-for 60s [-cost-interval=30s]
func BenchmarkPipeCostWithUnits(b *testing.B) {
	skipShort(b)
	for i := 0; i < b.N; i++ {
		m := sdtest.Start(b)
		dir := b.TempDir()
		policy := writeFile(b, dir, "policy.json", fmt.Sprintf(unitPolicy, breakerAttempts))
		p := sandboxPipe(b, m, policy, pipeOpts{interval: *costInterval,
			heal: []string{"--tiers", "unprivileged,advise", "--sudo", "never"}})
		waitUnits(b, p)
		time.Sleep(3 * time.Second) // warm-up: first samples, first frames
		pids := make([]int, len(p.Procs))
		for j, pr := range p.Procs {
			pids[j] = pr.Pid()
		}
		each0 := make([]int, len(pids))
		for j, pid := range pids {
			each0[j] = cpuTicks(b, pid)
		}
		cpu0, mgr0 := cpuTicks(b, pids...), cpuTicks(b, m.Pid())
		start := time.Now()
		time.Sleep(*costFor)
		cpu1, mgr1 := cpuTicks(b, pids...), cpuTicks(b, m.Pid())
		elapsed := time.Since(start).Seconds()
		rss := 0
		for _, pid := range pids {
			rss += rssKiB(b, pid)
		}
		share := func(ticks int) float64 { return 100 * float64(ticks) / 100 / elapsed } // USER_HZ is 100
		b.ReportMetric(share(cpu1-cpu0), "pipe-cpu-%")
		b.ReportMetric(float64(rss)/1024, "pipe-rss-MiB")
		b.ReportMetric(share(mgr1-mgr0), "manager-cpu-%")
		for j, pr := range p.Procs {
			b.Logf("%s: %.2f %% of a core, rss %.1f MiB", pr.Name,
				share(cpuTicks(b, pr.Pid())-each0[j]), float64(rssKiB(b, pr.Pid()))/1024)
		}
		b.Logf("pipe: %.2f %% of a core, %.1f MiB; the user manager answering: %.2f %% of a core; over %.0f s",
			share(cpu1-cpu0), float64(rss)/1024, share(mgr1-mgr0), elapsed)
		p.Stop(20 * time.Second)
		p.RequireClean()
	}
}

// cpuTicks sums utime, stime, cutime and cstime of pids, in clock ticks.
func cpuTicks(t testing.TB, pids ...int) int {
	t.Helper()
	total := 0
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatalf("cpu of pid %d: %v", pid, err)
		}
		// Fields after the command, which may hold spaces: state is field 3,
		// utime..cstime are 14..17.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		for _, s := range f[11:15] {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("cpu of pid %d: %v", pid, err)
			}
			total += n
		}
	}
	return total
}

// rssKiB is VmRSS of pid.
func rssKiB(t testing.TB, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("rss of pid %d: %v", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}
