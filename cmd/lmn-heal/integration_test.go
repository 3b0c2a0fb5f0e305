package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
)

// live runs lmn-heal as on a live pipe: run in a goroutine, the test
// writing records to its stdin and reading heal records from its stdout.
// The test plays lmn-detect: it writes the issue records itself, from the
// real state of the real (sandboxed) service manager.
type live struct {
	t     *testing.T
	in    *io.PipeWriter
	heals chan record.Heal
	done  chan int
}

func startLive(t *testing.T, cfg config) *live {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	l := &live{t: t, in: inW, heals: make(chan record.Heal, 100), done: make(chan int, 1)}
	cfg.inline = false
	stderr := &lockedBuffer{}
	go func() {
		code := run(context.Background(), cfg, inR, outW, stderr)
		outW.Close()
		l.done <- code
	}()
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			var h record.Heal
			if json.Unmarshal(sc.Bytes(), &h) == nil && h.Kind == record.KindHeal {
				l.heals <- h
			}
		}
		close(l.heals)
	}()
	t.Cleanup(func() {
		inW.Close()
		select {
		case <-l.done:
		case <-time.After(30 * time.Second):
			t.Error("lmn-heal did not end after its input closed")
		}
		if t.Failed() {
			t.Logf("lmn-heal's stderr:\n%s", stderr.String())
		}
	})
	return l
}

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *live) write(v any) {
	l.t.Helper()
	b, _ := json.Marshal(v)
	if _, err := l.in.Write(append(b, '\n')); err != nil {
		l.t.Fatal(err)
	}
}

func (l *live) issue(unit, state string) {
	l.write(record.Issue{Header: record.NewHeader(record.KindIssue, "lmn-detect", "h", time.Now()),
		ID: "unit-" + unit, Rule: "unit_failed", Subject: map[string]string{"unit": unit, "scope": "user"},
		State: state, Severity: record.SeverityWarning, Since: record.Time{Time: time.Now()}})
}

func (l *live) sample() {
	l.write(record.Sample{Header: record.NewHeader(record.KindSample, "lmn-collect", "h", time.Now())})
}

// next returns the next heal record, writing a sample every 200ms so that
// stream time moves as in a live pipe. It fails after timeout.
func (l *live) next(timeout time.Duration) record.Heal {
	l.t.Helper()
	deadline := time.After(timeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case h, ok := <-l.heals:
			if !ok {
				l.t.Fatal("lmn-heal's output ended")
			}
			return h
		case <-tick.C:
			l.sample()
		case <-deadline:
			l.t.Fatalf("no heal record within %v", timeout)
		}
	}
}

// expect reads heal records until one has phase; it returns it.
func (l *live) expect(phase string, timeout time.Duration) record.Heal {
	l.t.Helper()
	for {
		h := l.next(timeout)
		l.t.Logf("heal: step %d %s %s tier=%s outcome=%s err=%s", h.Step, h.Action, h.Phase, h.Tier, h.Outcome, h.Error)
		if h.Phase == phase {
			return h
		}
	}
}

func sandboxConfig(t *testing.T, m *sdtest.Manager, args ...string) config {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("service manager log:\n%s", m.Log())
		}
	})
	dir := t.TempDir()
	args = append([]string{"--privd-socket", filepath.Join(dir, "none.sock"), "--key-file", filepath.Join(dir, "none.key"),
		"--sudo", "never", "--tiers", "unprivileged,privd,sudo,advise"}, args...)
	cfg := testConfig(t, args...)
	cfg.userctl = m.Systemctl()
	cfg.extraEnv = m.Env()
	cfg.now = time.Now
	return cfg
}

func TestUserUnitRecovered(t *testing.T) {
	m := sdtest.Start(t)
	dir := t.TempDir()
	// Crashes on its first start only, like a service that lost a race
	// at boot.
	m.WriteUnit(t, "lmn-app.service", "[Service]\nType=simple\nExecStart=/bin/sh -c 'if [ -e "+dir+
		"/crashed ]; then exec sleep 600; fi; touch "+dir+"/crashed; exit 1'\n")
	m.Command(t.Context(), "start", "lmn-app.service").Run()
	waitUnit(t, m, "lmn-app.service", "failed")

	l := startLive(t, sandboxConfig(t, m))
	l.issue("lmn-app.service", record.StateFiring)
	started := l.expect(record.PhaseStarted, 10*time.Second)
	if started.Action != "restart_unit" || started.Params["unit"] != "lmn-app.service" {
		t.Fatalf("started = %+v", started)
	}
	done := l.expect(record.PhaseSucceeded, 30*time.Second)
	if done.Tier != record.TierUnprivileged || done.DurationMS == nil {
		t.Fatalf("succeeded = %+v", done)
	}
	for _, tier := range []string{record.TierPrivd, record.TierSudo, record.TierFallback, record.TierAdvise} {
		if _, ok := done.Denied[tier]; ok {
			t.Errorf("tier %s passed over although a lower tier acted: %v", tier, done.Denied)
		}
	}
	waitUnit(t, m, "lmn-app.service", "active")
	l.issue("lmn-app.service", record.StateResolved)
	v := l.expect(record.PhaseVerified, 10*time.Second)
	if v.Outcome != record.OutcomeRecovered {
		t.Errorf("outcome = %q, want recovered", v.Outcome)
	}
}

func TestUserUnitBreaker(t *testing.T) {
	m := sdtest.Start(t)
	dir := t.TempDir()
	starts := filepath.Join(dir, "starts")
	m.WriteUnit(t, "lmn-broken.service", "[Service]\nType=simple\nExecStart=/bin/sh -c 'echo x >> "+starts+"; sleep 0.2; exit 1'\n")
	m.Command(t.Context(), "start", "lmn-broken.service").Run()
	waitUnit(t, m, "lmn-broken.service", "failed")

	policy := filepath.Join(dir, "policy.json")
	step := `{"actions": [{"action": "restart_unit", "params": {"unit": "{{unit}}"}}], "verify": "1s"}`
	os.WriteFile(policy, []byte(`{"breaker": {"max_attempts": 2, "window": "10m", "backoff": "0s", "max_backoff": "0s",
		"cooldown": "3s", "reset_after": "1h"}, "ladders": [{"name": "u", "rules": ["unit_failed"],
		"steps": [`+strings.Repeat(step+",", 4)+step+`], "advice": "fix {{unit}}"}]}`), 0o644)
	l := startLive(t, sandboxConfig(t, m, "--policy", policy))
	l.issue("lmn-broken.service", record.StateFiring)

	for i := 1; i <= 2; i++ {
		s := l.expect(record.PhaseSucceeded, 30*time.Second)
		if s.Step != i || s.Attempt != i || s.Tier != record.TierUnprivileged {
			t.Fatalf("restart %d: %+v", i, s)
		}
		if v := l.expect(record.PhaseVerified, 10*time.Second); v.Outcome != record.OutcomeNotRecovered {
			t.Fatalf("restart %d outcome %q", i, v.Outcome)
		}
	}
	g := l.expect(record.PhaseGaveUp, 10*time.Second)
	if b, err := json.Marshal(g); err == nil {
		t.Logf("gave_up record: %s", b)
	}
	if !strings.Contains(g.Advice, "systemctl --user restart -- lmn-broken.service") {
		t.Errorf("advice does not name the user-scope command: %q", g.Advice)
	}
	if g.RetryAt == nil || !strings.Contains(g.Advice, "fix lmn-broken.service") || g.Step != 3 {
		t.Fatalf("gave_up = %+v", g)
	}
	// After the cool-down: one half-open retry, then the breaker opens
	// again for twice as long.
	s := l.expect(record.PhaseStarted, 15*time.Second)
	if s.TS.Before(g.RetryAt.Time) || s.Step != 3 {
		t.Fatalf("retry %+v came before %v", s, g.RetryAt)
	}
	l.expect(record.PhaseSucceeded, 30*time.Second)
	if v := l.expect(record.PhaseVerified, 10*time.Second); v.Outcome != record.OutcomeNotRecovered {
		t.Fatalf("retry outcome %q", v.Outcome)
	}
	g2 := l.expect(record.PhaseGaveUp, 10*time.Second)
	if got := g2.RetryAt.Sub(g2.TS.Time); got < 5*time.Second {
		t.Errorf("second cool-down %v, want 6s (doubled)", got)
	}
	b, _ := os.ReadFile(starts)
	if n := strings.Count(string(b), "x"); n != 4 {
		t.Errorf("unit started %d times, want 4 (1 by the test + 3 by lmn-heal)", n)
	}
}

// waitUnit polls the real manager until unit's ActiveState is want.
// Polling an external process, not timing our own logic.
func waitUnit(t *testing.T, m *sdtest.Manager, unit, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		active, _, _ := m.State(t, unit)
		if active == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %s, want %s", unit, active, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
