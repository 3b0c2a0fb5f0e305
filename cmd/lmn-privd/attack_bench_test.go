package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/privproto"
)

// The attacks of issue 19, after the fixes, against the real daemon (this
// test binary run as lmn-privd serve) over its real socket. Each reports
// attempts, refused, executed, the daemon's RSS after the attack, and the
// latency of a legitimate ping every 10 ms during it. bench/privd-attack.sh
// runs them; the figures are in docs/privd.md ("Measured").

// pinger pings every 10 ms until stop and keeps the latencies.
type pinger struct {
	lat     []time.Duration
	refused int
	done    chan struct{}
}

func startPinger(c *privproto.Client, stop <-chan struct{}) *pinger {
	p := &pinger{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			t0 := time.Now()
			if err := c.Ping(context.Background()); err != nil {
				p.refused++
				continue
			}
			p.lat = append(p.lat, time.Since(t0))
		}
	}()
	return p
}

// report stops waiting for p and reports its figures.
func (p *pinger) report(b *testing.B, name string) {
	<-p.done
	slices.Sort(p.lat)
	q := func(f float64) float64 {
		if len(p.lat) == 0 {
			return -1
		}
		return float64(p.lat[min(len(p.lat)-1, int(f*float64(len(p.lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(len(p.lat)), name+"-pings-ok")
	b.ReportMetric(float64(p.refused), name+"-pings-refused")
	b.ReportMetric(q(0.5), name+"-ping-p50-ms")
	b.ReportMetric(q(0.99), name+"-ping-p99-ms")
}

func reportCounts(b *testing.B, attempts, refused, executed int64, pid int) {
	b.ReportMetric(float64(attempts), "attempts")
	b.ReportMetric(float64(refused), "refused")
	b.ReportMetric(float64(executed), "executed")
	b.ReportMetric(float64(vmRSS(b, pid)), "rss-KiB")
}

// flood runs attack n times on workers goroutines, with a legitimate
// client of the same uid pinging beside them in a process of its own (as
// lmn-heal would be).
func flood(b *testing.B, e env, n, workers int, attack func(i int) error) (refused, executed int64, p *child) {
	p = startChild(b, "", pingerEnv, e.socket+" "+e.key)
	var wg sync.WaitGroup
	var next, ref, ran atomic.Int64
	for range workers {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if err := attack(int(i)); err == nil {
					ran.Add(1)
				} else if errors.Is(err, privproto.ErrRefused) || errors.Is(err, privproto.ErrRateLimited) {
					ref.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return ref.Load(), ran.Load(), p
}

func daemonUp(b *testing.B, e env, extraEnv ...string) *exec.Cmd {
	cmd := startDaemon(b, e, extraEnv...)
	waitFor(b, "the daemon", func() bool { return client(b, e).Ping(context.Background()) == nil })
	return cmd
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// BenchmarkAttackRefusalFlood: 18 000 refused requests of 5 KB frames whose
// parameters JSON escapes six-fold (the 18 383 in 20 s grew the
// audit log by 577 MB).
func BenchmarkAttackRefusalFlood(b *testing.B) {
	e := newEnv(b, "")
	var stderr countingWriter
	cmd := startDaemonTo(b, e, &stderr)
	waitFor(b, "the daemon", func() bool { return client(b, e).Ping(context.Background()) == nil })
	params := map[string]string{}
	for i := range privproto.MaxParams {
		params["k"+strconv.Itoa(i)] = strings.Repeat("<", action.MaxValueLen)
	}
	c := client(b, e)
	before, errBefore := fileSize(e.audit), stderr.n.Load()
	const n = 18000
	for b.Loop() {
		refused, executed, p := flood(b, e, n, 4, func(int) error {
			_, err := c.Do(context.Background(), action.Request{Action: "restart_unit", Params: params})
			return err
		})
		reportCounts(b, n, refused, executed, cmd.Process.Pid)
		p.stop(b).report(b, "same-uid")
	}
	b.ReportMetric(float64(fileSize(e.audit)-before), "audit-bytes")
	b.ReportMetric(float64(stderr.n.Load()-errBefore), "stderr-bytes")
}

// BenchmarkAttackLockFlood: with the budget spent, 10 000 refused requests
// on distinct targets (before: 10 000 new lock files).
func BenchmarkAttackLockFlood(b *testing.B) {
	dir := b.TempDir()
	tool := standIn(b, dir, "systemctl", "[ \"$1\" = show ] && printf 'LoadState=loaded\\nActiveState=failed\\n'\nexit 0\n")
	e := newEnv(b, `,"rate_limits":{"overall":{"max":1,"window":"1h"}},"env":{"systemctl":["`+tool+`"],"proc_root":"`+filepath.Join(dir, "proc")+`"}`)
	cmd := daemonUp(b, e)
	c := client(b, e)
	const n = 10000
	for b.Loop() {
		refused, executed, p := flood(b, e, n, 4, func(i int) error {
			_, err := c.Do(context.Background(), action.Request{Action: "restart_unit", Params: map[string]string{"unit": "u" + strconv.Itoa(i) + ".service"}})
			return err
		})
		reportCounts(b, n, refused, executed, cmd.Process.Pid)
		p.stop(b).report(b, "same-uid")
	}
	ents, _ := os.ReadDir(e.audit + ".locks")
	b.ReportMetric(float64(len(ents)), "lock-files")
}

// BenchmarkAttackForgedPremise: restarts of healthy units a forged issue
// names (the stand-in manager says each is active and loaded), and of a
// mount and a scope.
func BenchmarkAttackForgedPremise(b *testing.B) {
	dir := b.TempDir()
	ran := filepath.Join(dir, "restarted")
	tool := standIn(b, dir, "systemctl", "if [ \"$1\" = show ]; then printf 'LoadState=loaded\\nActiveState=active\\n'; exit 0; fi\necho \"$@\" >> "+ran+"\n")
	e := newEnv(b, `,"rate_limits":{"overall":{"max":0},"per_action":{"max":0},"per_target":{"max":0}},"env":{"systemctl":["`+tool+`"],"proc_root":"`+filepath.Join(dir, "proc")+`"}`)
	cmd := daemonUp(b, e)
	units := []string{"nix-daemon.service", "firewall.service", "getty@tty1.service", "home.mount", "docker.service", "session-1.scope"}
	c := client(b, e)
	for b.Loop() {
		refused, executed, p := flood(b, e, 100*len(units), 2, func(i int) error {
			_, err := c.Do(context.Background(), action.Request{Action: "restart_unit", Params: map[string]string{"unit": units[i%len(units)]}})
			return err
		})
		reportCounts(b, int64(100*len(units)), refused, executed, cmd.Process.Pid)
		p.stop(b).report(b, "same-uid")
	}
	calls, _ := os.ReadFile(ran)
	b.ReportMetric(float64(strings.Count(string(calls), "restart")), "manager-restarts")
}

// BenchmarkAttackKill9: kill -9 the daemon at a random point of an action
// whose helper never ends, 100 times; each restart must close the intent
// with unknown_outcome and no helper may survive.
func BenchmarkAttackKill9(b *testing.B) {
	dir := b.TempDir()
	pids := filepath.Join(dir, "helpers")
	tool := standIn(b, dir, "journalctl", "echo $$ >> "+pids+"; exec sleep 60\n")
	e := newEnv(b, `,"rate_limits":{"overall":{"max":0},"per_action":{"max":0},"per_target":{"max":0}},"env":{"journalctl":["`+tool+`"],"proc_root":"`+filepath.Join(dir, "proc")+`"}`)
	const n = 100
	for b.Loop() {
		for i := range n {
			cmd := daemonUp(b, e)
			go client(b, e).Do(context.Background(), action.Request{Action: "journal_vacuum", Params: map[string]string{"size": "1G"}})
			time.Sleep(time.Duration(i%20) * time.Millisecond) // a point mid-action, intent written or not yet
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
		}
	}
	cmd := daemonUp(b, e) // the start after the last kill
	code, out, _ := runArgs(b, "verify-audit", e.audit)
	b.ReportMetric(float64(n), "kills")
	audit, _ := os.ReadFile(e.audit)
	b.ReportMetric(float64(strings.Count(string(audit), `"event":"intent"`)), "intents")
	b.ReportMetric(float64(strings.Count(string(audit), `"event":"unknown_outcome"`)), "unknown-outcome")
	b.ReportMetric(float64(strings.Count(out, "has no outcome")), "open-after-restart")
	if code != 0 {
		b.Errorf("verify-audit: %s", out)
	}
	alive := 0
	raw, _ := os.ReadFile(pids)
	for _, f := range strings.Fields(string(raw)) {
		if pid, _ := strconv.Atoi(f); running(pid) {
			alive++
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	b.ReportMetric(float64(alive), "helpers-alive")
	b.ReportMetric(float64(vmRSS(b, cmd.Process.Pid)), "rss-KiB")
}

type countingWriter struct{ n atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n.Add(int64(len(p))); return len(p), nil }
