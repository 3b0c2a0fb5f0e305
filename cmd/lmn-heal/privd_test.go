package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jsonconfig "github.com/lmn-heal/lmn/internal/config" // lmn-heal has a config of its own
	"github.com/lmn-heal/lmn/internal/privd"
	"github.com/lmn-heal/lmn/internal/privproto"
	"github.com/lmn-heal/lmn/internal/record"
)

// daemon is a real lmn-privd server, in this process, on a socket in a
// temporary directory, acting on a temporary sysfs and with `true` as its
// systemctl, so nothing it does reaches this machine.
type daemon struct {
	socket, keyFile, audit, sys string
}

func startDaemon(t *testing.T, limits privd.RateLimits) *daemon {
	t.Helper()
	dir := t.TempDir()
	d := &daemon{socket: filepath.Join(dir, "privd.sock"), keyFile: filepath.Join(dir, "hmac.key"),
		audit: filepath.Join(dir, "audit.log"), sys: filepath.Join(dir, "sys")}
	pol := filepath.Join(d.sys, "devices/system/cpu/cpufreq/policy0")
	if err := os.MkdirAll(pol, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(pol, "scaling_available_governors"), []byte("powersave schedutil\n"), 0o644)
	os.WriteFile(filepath.Join(pol, "scaling_governor"), []byte("schedutil\n"), 0o644)
	if err := privproto.WriteKey(d.keyFile); err != nil {
		t.Fatal(err)
	}
	key, err := privproto.LoadKey(d.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := privd.DefaultConfig()
	cfg.Clients.UIDs = []int{os.Getuid()}
	cfg.AuditLog = d.audit
	cfg.RateLimits = limits
	yes := []string{"true"}
	cfg.Env = privd.EnvConfig{SysRoot: d.sys, ProcRoot: d.sys, Systemctl: yes, Journalctl: yes, NixGC: yes, Resolvectl: yes, Nscd: yes}
	// `true` cannot say a unit failed: lmn-privd takes the test's word for every unit.
	cfg.Premise.RestartActive = []string{"*"}
	srv, err := privd.New(cfg, key, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: d.socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); wg.Wait(); srv.Close() })
	return d
}

func (d *daemon) governor(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.sys, "devices/system/cpu/cpufreq/policy0/scaling_governor"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func (d *daemon) config(t *testing.T, args ...string) config {
	t.Helper()
	return testConfig(t, append([]string{"--tiers", "privd,advise", "--privd-socket", d.socket, "--key-file", d.keyFile}, args...)...)
}

func loose() privd.RateLimits {
	return privd.RateLimits{Overall: privd.Limit{Max: 1000, Window: jsonconfig.Duration(time.Minute)}}
}

// stream builds an input stream: each entry is "offset kind args".
func stream(t *testing.T, lines ...string) []byte {
	t.Helper()
	return streamAt(t, time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC), lines...)
}

// streamAt is stream with its offsets from t0.
func streamAt(t *testing.T, t0 time.Time, lines ...string) []byte {
	t.Helper()
	var b strings.Builder
	for _, l := range lines {
		f := strings.Fields(l)
		d, err := time.ParseDuration(f[0])
		if err != nil {
			t.Fatal(err)
		}
		ts := t0.Add(d)
		var v any
		switch f[1] {
		case "sample":
			v = record.Sample{Header: record.NewHeader(record.KindSample, "lmn-collect", "h", ts)}
		case "issue": // offset issue rule key=value state [severity]
			k, val, _ := strings.Cut(f[3], "=")
			subj := map[string]string{k: val}
			if k == "unit" {
				subj["scope"] = "system"
			}
			sev := record.SeverityWarning
			if len(f) > 5 {
				sev = f[5]
			}
			v = record.Issue{Header: record.NewHeader(record.KindIssue, "lmn-detect", "h", ts), ID: f[2] + "-" + val,
				Rule: f[2], Subject: subj, State: f[4], Severity: sev, Since: record.Time{Time: t0}}
		}
		j, _ := json.Marshal(v)
		b.Write(j)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

func TestPrivdTierAndRestore(t *testing.T) {
	d := startDaemon(t, loose())
	in := stream(t,
		"0s issue temperature sensor=thermal_zone0 firing",
		"1m sample",
		"2m issue temperature sensor=thermal_zone0 resolved",
		"6m sample",
		"7m sample")
	out, stderr, code := runWith(t, d.config(t), in)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var phases []string
	for _, h := range heals(t, out) {
		phases = append(phases, h.Action+":"+h.Phase+":"+h.Tier+":"+h.Outcome)
	}
	want := "set_cpu_governor:started::,set_cpu_governor:succeeded:privd:,set_cpu_governor:verified::recovered,set_cpu_governor:restored:privd:"
	if got := strings.Join(phases, ","); got != want {
		t.Fatalf("records:\n got %s\nwant %s", got, want)
	}
	if g := d.governor(t); g != "schedutil" {
		t.Errorf("governor after restore = %s", g)
	}
}

func TestPrivdDownFallsThroughToAdvice(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, "--privd-socket", filepath.Join(dir, "none.sock"), "--key-file", filepath.Join(dir, "none.key"),
		"--sudo", "never", "--tiers", "privd,sudo,advise")
	in := stream(t, "0s issue unit_failed unit=nginx.service firing")
	out, stderr, code := runWith(t, cfg, in)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	hs := heals(t, out)
	if len(hs) != 2 || hs[1].Phase != record.PhaseAdvised {
		t.Fatalf("records = %+v", hs)
	}
	a := hs[1]
	want := map[string]string{"unprivileged": "not allowed by --tiers", "privd": "no key (key file missing)",
		"sudo": "not allowed by --sudo never", "fallback": "not allowed by --tiers"}
	for k, v := range want {
		if a.Denied[k] != v {
			t.Errorf("denied[%s] = %q, want %q", k, a.Denied[k], v)
		}
	}
	if a.Advice != "run as root: systemctl restart -- nginx.service" || a.Tier != record.TierAdvise {
		t.Errorf("advice = %q tier %q", a.Advice, a.Tier)
	}
}

func TestPrivdRateLimitedReported(t *testing.T) {
	d := startDaemon(t, privd.RateLimits{Overall: privd.Limit{Max: 1, Window: jsonconfig.Duration(time.Hour)}})
	var lines []string
	for i := range 5 {
		lines = append(lines, fmt.Sprintf("0s issue unit_failed unit=u%d.service firing", i))
	}
	for m := 1; m <= 30; m++ {
		lines = append(lines, fmt.Sprintf("%dm sample", m))
	}
	out, stderr, code := runWith(t, d.config(t), stream(t, lines...))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var ran, limited int
	for _, h := range heals(t, out) {
		switch {
		case h.Phase == record.PhaseSucceeded && h.Tier == record.TierPrivd:
			ran++
		case h.Phase == record.PhaseAdvised && strings.HasPrefix(h.Denied["privd"], "rate limited (retry in "):
			limited++
		}
	}
	// u0 restarted; u1…u4 advised; u0's second step advised too. Each
	// once: thirty minutes of samples bring no retries.
	if ran != 1 || limited != 5 {
		t.Errorf("ran %d, rate limited %d; want 1 and 5\n%s", ran, limited, out)
	}
	audit, err := os.ReadFile(d.audit)
	if err != nil {
		t.Fatal(err)
	}
	// One action (intent + result) and one refusal: the other four
	// requests were not sent while lmn-privd said to wait.
	if n := strings.Count(string(audit), "\n"); n != 3 {
		t.Errorf("audit log has %d lines, want 3:\n%s", n, audit)
	}
}

// TestStateSplitRun: two runs with --state give the same heal records as
// one run over the whole stream.
func TestStateSplitRun(t *testing.T) {
	d := startDaemon(t, loose())
	first := []string{
		"0s issue unit_failed unit=a.service firing",
		"0s issue unit_failed unit=b.service firing",
		"1m sample",
		"2m sample",
	}
	second := []string{
		"3m sample",
		"4m issue unit_failed unit=a.service resolved",
		"5m sample",
		"6m issue unit_failed unit=a.service firing",
		"7m sample",
		"40m sample",
	}
	whole, _, code := runWith(t, d.config(t), stream(t, append(first, second...)...))
	if code != 0 {
		t.Fatal("whole run failed")
	}
	state := filepath.Join(t.TempDir(), "heal.state")
	out1, _, c1 := runWith(t, d.config(t, "--state", state), stream(t, first...))
	out2, stderr, c2 := runWith(t, d.config(t, "--state", state), stream(t, second...))
	if c1 != 0 || c2 != 0 {
		t.Fatalf("split runs: %d %d: %s", c1, c2, stderr)
	}
	norm := func(out string) string {
		var s []string
		for _, h := range heals(t, out) {
			h.DurationMS = nil
			b, _ := json.Marshal(h)
			s = append(s, string(b))
		}
		return strings.Join(s, "\n")
	}
	if a, b := norm(whole), norm(out1+out2); a != b {
		t.Errorf("split run differs:\nwhole:\n%s\nsplit:\n%s", a, b)
	}
	if strings.Count(norm(whole), "\n") < 8 {
		t.Errorf("too few records to compare:\n%s", norm(whole))
	}
	// A corrupt state file: reported, and the run starts fresh.
	os.WriteFile(state, []byte("{not json"), 0o600)
	_, stderr, code = runWith(t, d.config(t, "--state", state), stream(t, first...))
	if code != 0 || !strings.Contains(stderr, "starting fresh") {
		t.Errorf("corrupt state: exit %d, %s", code, stderr)
	}
}

func TestDryRunWritesNoState(t *testing.T) {
	state := filepath.Join(t.TempDir(), "heal.state")
	_, _, code := runWith(t, testConfig(t, "--dry-run", "--state", state), stream(t, "0s issue unit_failed unit=a.service firing"))
	if code != 0 {
		t.Fatal(code)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("dry run wrote %s (%v)", state, err)
	}
}

func TestStormDryRun(t *testing.T) {
	var lines []string
	for i := range 1000 {
		lines = append(lines, fmt.Sprintf("0s issue unit_failed unit=u%d.service firing", i))
		lines = append(lines, "0s issue unit_failed unit=same.service firing")
	}
	lines = append(lines, "10m sample", "20m sample")
	out, _, code := runWith(t, testConfig(t, "--dry-run"), stream(t, lines...))
	if code != 0 {
		t.Fatal(code)
	}
	planned := 0
	for _, h := range heals(t, out) {
		if h.Phase == record.PhasePlanned {
			planned++
		}
	}
	// The default budget: 20 actions an hour, whatever fires.
	if planned != 20 {
		t.Errorf("planned %d actions for 1001 firing issues, want the budget of 20", planned)
	}
}
