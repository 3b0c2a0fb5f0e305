package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lmn-heal/lmn/internal/alertmanager"
	"github.com/lmn-heal/lmn/internal/alertmanager/amtest"
	"github.com/lmn-heal/lmn/internal/record"
)

// alertPolicy restarts nginx.service for NginxDown and clears a failed
// state for ResetMe (not disruptive).
const alertPolicy = `{"extend": true, "alertmanager": {"silence_while_verifying": %s},
 "breaker": {"backoff": "1ms", "max_backoff": "1ms"},
 "ladders": [
  {"name": "nginx_down", "rules": ["alertmanager"], "match": {"alertname": "NginxDown"},
   "steps": [{"actions": [{"action": "restart_unit", "params": {"unit": "{{unit}}"}}], "verify": "%s"}],
   "advice": "nginx keeps failing"},
  {"name": "reset", "rules": ["alertmanager"], "match": {"alertname": "ResetMe"},
   "steps": [{"actions": [{"action": "reset_failed_unit", "params": {"unit": "{{unit}}"}}], "verify": "1m"}],
   "advice": "reset did not help"}]}`

func writePolicy(t *testing.T, silence, verify string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(p, []byte(fmt.Sprintf(alertPolicy, silence, verify)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// alertIssue is the issue lmn-detect writes for an alert.
func alertIssue(t *testing.T, ts time.Time, state string, labels map[string]string) []byte {
	t.Helper()
	is := alertmanager.Issue(alertmanager.Alert{Status: state, Labels: labels, StartsAt: fixedNow}, "healer", ts)
	b, err := json.Marshal(is)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func nginxDown(host string) map[string]string {
	return map[string]string{"alertname": "NginxDown", "instance": host + ":9113", "unit": "nginx.service"}
}

// TestMaintenanceHolds runs lmn-heal against a real Alertmanager: a
// maintenance silence for this host holds the restart (advice saying so,
// nothing run); one for another host does not; a non-disruptive action is
// not held.
func TestMaintenanceHolds(t *testing.T) {
	am := amtest.Start(t, amtest.Options{Config: "route:\n  receiver: none\nreceivers:\n- name: none\n"})
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	systemctl := filepath.Join(dir, "systemctl")
	// Stands in for systemctl and records what it was asked: no unit of
	// this machine may be touched.
	if err := os.WriteFile(systemctl, []byte("#!/bin/sh\necho \"$@\" >> "+ran+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	run1 := func(t *testing.T, labels map[string]string) []record.Heal {
		os.Remove(ran)
		cfg := testConfig(t, "--tiers", "unprivileged,advise", "--systemctl", systemctl,
			"--alertmanager-url", am.URL, "--policy", writePolicy(t, "false", "1m"))
		cfg.host = "web1"
		out, stderr, code := runWith(t, cfg, alertIssue(t, fixedNow, alertmanager.StatusFiring, labels))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		return heals(t, out)
	}
	id := am.Silence(t, time.Hour, "kernel upgrade", "lmn=maintenance", "host=web1")
	hs := run1(t, nginxDown("web1"))
	if len(hs) != 2 || hs[1].Phase != record.PhaseAdvised || !strings.Contains(hs[1].Advice, "held: a maintenance window") ||
		!strings.Contains(hs[1].Advice, id) || !strings.Contains(hs[1].Advice, "kernel upgrade") ||
		!strings.Contains(hs[1].Advice, "systemctl restart -- nginx.service") {
		t.Fatalf("heal records %+v; want started, then advice naming the silence", hs)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Errorf("systemctl ran during maintenance: %s", readFile(t, ran))
	}
	reset := map[string]string{"alertname": "ResetMe", "unit": "nginx.service"}
	if hs := run1(t, reset); len(hs) < 2 || hs[1].Phase != record.PhaseSucceeded {
		t.Errorf("reset_failed_unit is not disruptive, so not held: %+v", hs)
	}
	if b, _ := os.ReadFile(ran); !strings.Contains(string(b), "reset-failed -- nginx.service") {
		t.Errorf("systemctl asked %q; want reset-failed", b)
	}

	// A maintenance window for web2 holds nothing on web1.
	if err := expire(am, id); err != nil {
		t.Fatal(err)
	}
	am.Silence(t, time.Hour, "web2 only", "lmn=maintenance", "host=web2")
	if hs := run1(t, nginxDown("web1")); len(hs) < 2 || hs[1].Phase != record.PhaseSucceeded {
		t.Errorf("web2's maintenance held web1: %+v", hs)
	}
	if b, _ := os.ReadFile(ran); !strings.Contains(string(b), "restart -- nginx.service") {
		t.Errorf("systemctl asked %q; want the restart", b)
	}
}

func expire(am *amtest.Alertmanager, id string) error {
	c, err := alertmanager.NewClient(am.URL, 5*time.Second)
	if err != nil {
		return err
	}
	return c.Expire(context.Background(), id)
}

// TestAlertmanagerUnreachable: without an answer the action runs as if
// lmn-heal had no Alertmanager, and stderr says so.
func TestAlertmanagerUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close() // nothing answers there now
	cfg := testConfig(t, "--tiers", "unprivileged,advise", "--systemctl", "/bin/true",
		"--alertmanager-url", url, "--policy", writePolicy(t, "false", "1m"))
	cfg.host = "web1"
	out, stderr, code := runWith(t, cfg, alertIssue(t, fixedNow, alertmanager.StatusFiring, nginxDown("web1")))
	hs := heals(t, out)
	if code != 0 || len(hs) < 2 || hs[1].Phase != record.PhaseSucceeded {
		t.Fatalf("exit %d, heals %+v; want the restart to run", code, hs)
	}
	if !strings.Contains(stderr, "alertmanager unreachable: acting as without it") || !strings.Contains(out, `"alertmanager_url":"`+url) {
		t.Errorf("stderr %q, start record lacks the URL", stderr)
	}
	cfg = testConfig(t, "--alertmanager-url", "ftp://x")
	if _, stderr, code := runWith(t, cfg, nil); code != 2 || !strings.Contains(stderr, "--alertmanager-url") {
		t.Errorf("a bad URL: exit %d, %q; want 2", code, stderr)
	}
}

// TestUnreachableSaidOncePerMinute, on synctest's clock.
func TestUnreachableSaidOncePerMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		l := &amLink{log: slog.New(slog.NewTextHandler(&buf, nil)), now: time.Now, warnEvery: time.Minute}
		for range 5 {
			l.unreachable("check", io.EOF)
		}
		time.Sleep(59 * time.Second)
		l.unreachable("check", io.EOF)
		if n := strings.Count(buf.String(), "unreachable"); n != 1 {
			t.Fatalf("said %d times within a minute:\n%s", n, buf.String())
		}
		time.Sleep(time.Second)
		l.unreachable("check", io.EOF)
		if n := strings.Count(buf.String(), "unreachable"); n != 2 || !strings.Contains(buf.String(), "failures_since_last_said=5") {
			t.Fatalf("after a minute:\n%s", buf.String())
		}
	})
}

// TestSilenceWhileVerifying against a real Alertmanager: once the restart
// succeeded the alert is silenced; when Alertmanager sees the alert
// resolve, lmn-heal expires the silence at once (so the resolve can reach
// lmn-detect); a silence of a second episode is expired when the outcome
// is known.
func TestSilenceWhileVerifying(t *testing.T) {
	am := amtest.Start(t, amtest.Options{Config: "route:\n  receiver: none\nreceivers:\n- name: none\n"})
	client, _ := alertmanager.NewClient(am.URL, 5*time.Second)
	cfg := testConfig(t, "--tiers", "unprivileged,advise", "--systemctl", "/bin/true",
		"--alertmanager-url", am.URL, "--policy", writePolicy(t, "true", "10m"))
	cfg.host, cfg.inline, cfg.now, cfg.amPoll = "web1", false, time.Now, 100*time.Millisecond
	labels := nginxDown("web1")
	pushAlert := func(resolved bool) {
		a := map[string]any{"labels": labels, "startsAt": time.Now().Add(-time.Minute).UTC()}
		if resolved {
			a["endsAt"] = time.Now().UTC()
		}
		b, _ := json.Marshal([]any{a})
		am.Post(t, "/api/v2/alerts", string(b))
	}
	ours := func() (active, expired int) {
		all, err := client.Silences(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range all {
			if strings.HasPrefix(s.CreatedBy, "lmn-heal@web1") {
				if s.Active() {
					active++
				} else if s.Status != nil && s.Status.State == "expired" {
					expired++
				}
			}
		}
		return
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		if !amtest.Wait(context.Background(), 20*time.Second, cond) {
			t.Fatalf("no %s within 20s", what)
		}
	}

	pushAlert(false)
	in, w := io.Pipe()
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(context.Background(), cfg, in, out, errOut) }()
	w.Write(alertIssue(t, time.Now(), alertmanager.StatusFiring, labels))
	waitFor("silence while verifying", func() bool { a, _ := ours(); return a == 1 })
	pushAlert(true) // Prometheus says it resolved
	waitFor("expiry once the alert resolved", func() bool { a, e := ours(); return a == 0 && e == 1 })
	w.Write(alertIssue(t, time.Now(), alertmanager.StatusResolved, labels))

	// A second episode: silenced again, expired when the outcome is known.
	pushAlert(false)
	w.Write(alertIssue(t, time.Now(), alertmanager.StatusFiring, labels))
	waitFor("a second silence", func() bool { a, _ := ours(); return a == 1 })
	w.Write(alertIssue(t, time.Now(), alertmanager.StatusResolved, labels))
	waitFor("expiry at the outcome", func() bool { a, e := ours(); return a == 0 && e == 2 })
	w.Close()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	recovered := 0
	for _, h := range heals(t, out.String()) {
		if h.Phase == record.PhaseVerified && h.Outcome == record.OutcomeRecovered {
			recovered++
		}
	}
	if recovered != 2 || !strings.Contains(errOut.String(), "expired the silence") {
		t.Errorf("recovered %d times; want 2\n%s", recovered, errOut)
	}
}
