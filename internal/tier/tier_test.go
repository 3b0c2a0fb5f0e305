package tier

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/config"
	"github.com/lmn-heal/lmn/internal/heal"
	"github.com/lmn-heal/lmn/internal/privd"
	"github.com/lmn-heal/lmn/internal/privproto"
	"github.com/lmn-heal/lmn/internal/record"
)

// sysTree makes a temporary sysfs with one cpufreq policy.
func sysTree(t *testing.T, gov string) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "devices/system/cpu/cpufreq/policy0")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "scaling_available_governors"), []byte("performance powersave schedutil\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "scaling_governor"), []byte(gov+"\n"), 0o644)
	return root
}

func governor(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "devices/system/cpu/cpufreq/policy0/scaling_governor"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// safeEnv is an action.Env that cannot touch this machine: temporary
// roots, and `false` for every command.
func safeEnv(sys string) action.Env {
	no := []string{"false"}
	return action.Env{SysRoot: sys, ProcRoot: sys, Systemctl: no, Journalctl: no, NixGC: no, Resolvectl: no, Nscd: no,
		Units: action.DefaultUnitPolicy()}
}

// FuzzParseTiers: --tiers never panics; what it accepts is a non-empty
// list of known tiers, each once.
func FuzzParseTiers(f *testing.F) {
	for _, s := range []string{"unprivileged,privd,sudo,fallback,advise", "advise", " privd , ,privd", "", "root", ","} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tiers, err := ParseTiers(s)
		if err != nil {
			return
		}
		if len(tiers) == 0 {
			t.Fatalf("ParseTiers(%q) accepted no tier", s)
		}
		seen := map[string]bool{}
		for _, tr := range tiers {
			if seen[tr] || !slices.Contains(Order, tr) {
				t.Fatalf("ParseTiers(%q) = %v: unknown or repeated %q", s, tiers, tr)
			}
			seen[tr] = true
		}
	})
}

func TestParseTiers(t *testing.T) {
	got, err := ParseTiers("advise, privd,privd")
	if err != nil || strings.Join(got, ",") != "advise,privd" {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{"", "root", "privd,,x"} {
		if _, err := ParseTiers(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestAdviseOnly(t *testing.T) {
	l := &Runner{Tiers: []string{record.TierAdvise}, Env: safeEnv(t.TempDir()), UserEnv: safeEnv(t.TempDir())}
	l.UserEnv.Systemctl = []string{"systemctl", "--user"}
	r := l.Run(t.Context(), heal.Job{Action: "restart_unit", Params: map[string]string{"unit": "a.service"}, Scope: "user"})
	if r.Tier != record.TierAdvise || r.Advice != "run: systemctl --user restart -- a.service" {
		t.Errorf("result = %+v", r)
	}
	for _, tier := range []string{record.TierUnprivileged, record.TierPrivd, record.TierSudo, record.TierFallback} {
		if r.Denied[tier] != "not allowed by --tiers" {
			t.Errorf("denied[%s] = %q", tier, r.Denied[tier])
		}
	}
}

func TestUnprivilegedGovernorAndRestore(t *testing.T) {
	sys := sysTree(t, "schedutil")
	l := &Runner{Tiers: Order, Env: safeEnv(sys), Root: true}
	r := l.Run(t.Context(), heal.Job{Action: "set_cpu_governor", Params: map[string]string{"governor": "powersave"}, Restore: true})
	if r.Tier != record.TierUnprivileged || r.Err != "" || governor(t, sys) != "powersave" {
		t.Fatalf("result = %+v, governor %s", r, governor(t, sys))
	}
	if r.Undo == nil || r.Undo.Params["policy"] != "policy0:schedutil" {
		t.Fatalf("undo = %+v", r.Undo)
	}
	r = l.Run(t.Context(), heal.Job{Action: r.Undo.Action, Params: r.Undo.Params, Undo: true})
	if r.Err != "" || governor(t, sys) != "schedutil" {
		t.Errorf("restore: %+v, governor %s", r, governor(t, sys))
	}
}

func TestUnprivilegedNeedsRoot(t *testing.T) {
	l := &Runner{Tiers: []string{record.TierUnprivileged, record.TierAdvise}, Env: safeEnv(t.TempDir())}
	r := l.Run(t.Context(), heal.Job{Action: "drop_caches", Params: map[string]string{"level": "1"}})
	if r.Tier != record.TierAdvise || r.Denied[record.TierUnprivileged] != "needs root" {
		t.Errorf("result = %+v", r)
	}
	if !strings.HasPrefix(r.Advice, "run as root: sync; echo 1 > ") {
		t.Errorf("advice = %q", r.Advice)
	}
}

func TestFailedActionStopsTiers(t *testing.T) {
	// `false` as systemctl: the action runs and fails; no higher tier is
	// tried, since it would fail the same way.
	l := &Runner{Tiers: Order, Env: safeEnv(t.TempDir()), Root: true}
	r := l.Run(t.Context(), heal.Job{Action: "restart_unit", Params: map[string]string{"unit": "a.service"}})
	if r.Tier != record.TierUnprivileged || r.Err == "" {
		t.Errorf("result = %+v", r)
	}
	// A unit the policy protects is refused, not advised away.
	r = l.Run(t.Context(), heal.Job{Action: "restart_unit", Params: map[string]string{"unit": "sshd.service"}})
	if r.Err == "" || !strings.Contains(r.Err, "denied") {
		t.Errorf("protected unit: %+v", r)
	}
}

func TestPermissionError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{os.ErrPermission, true},
		{errors.New("systemctl restart -- a.service: exit status 1: Failed to restart a.service: Access denied"), true},
		{errors.New("exit status 1: Failed to restart a.service: Interactive authentication required."), true},
		{errors.New("exit status 1: Job for a.service failed because the control process exited with error code."), false},
	} {
		if got := permissionError(tc.err); got != tc.want {
			t.Errorf("%v: %v", tc.err, got)
		}
	}
}

// daemon is a real lmn-privd server on a socket in a temporary directory.
type daemon struct {
	socket, audit string
	key           []byte
	cfg           privd.Config
}

func startDaemon(t *testing.T, sys string, limits privd.RateLimits) *daemon {
	t.Helper()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "hmac.key")
	if err := privproto.WriteKey(keyFile); err != nil {
		t.Fatal(err)
	}
	key, err := privproto.LoadKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := privd.DefaultConfig()
	cfg.Clients.UIDs = []int{os.Getuid()}
	cfg.AuditLog = filepath.Join(dir, "audit.log")
	cfg.Socket.Path = filepath.Join(dir, "privd.sock")
	cfg.RateLimits = limits
	cfg.Env = privd.EnvConfig{SysRoot: sys, ProcRoot: sys, Systemctl: []string{"false"}, Journalctl: []string{"false"},
		NixGC: []string{"false"}, Resolvectl: []string{"false"}, Nscd: []string{"false"}}
	srv, err := privd.New(cfg, key, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: cfg.Socket.Path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); wg.Wait(); srv.Close() })
	return &daemon{socket: cfg.Socket.Path, audit: cfg.AuditLog, key: key, cfg: cfg}
}

func auditLines(t *testing.T, d *daemon) int {
	t.Helper()
	b, err := os.ReadFile(d.audit)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

func loose() privd.RateLimits {
	return privd.RateLimits{Overall: privd.Limit{Max: 100, Window: config.Duration(time.Minute)}}
}

func TestPrivdTierRuns(t *testing.T) {
	sys := sysTree(t, "performance")
	d := startDaemon(t, sys, loose())
	l := &Runner{Tiers: []string{record.TierPrivd, record.TierAdvise}, Env: safeEnv(t.TempDir()),
		Privd: &privproto.Client{Socket: d.socket, Key: d.key}}
	r := l.Run(t.Context(), heal.Job{Action: "set_cpu_governor", Params: map[string]string{"governor": "powersave"}, Restore: true})
	if r.Tier != record.TierPrivd || r.Err != "" || governor(t, sys) != "powersave" {
		t.Fatalf("result = %+v, governor %s", r, governor(t, sys))
	}
	if r.Undo == nil || r.Undo.Params["policy"] != "policy0:performance" {
		t.Errorf("undo = %+v", r.Undo)
	}
	if r.Denied[record.TierUnprivileged] != "not allowed by --tiers" {
		t.Errorf("denied = %v", r.Denied)
	}
}

func TestPrivdDownFallsThrough(t *testing.T) {
	dir := t.TempDir()
	key := make([]byte, privproto.KeyLen)
	l := &Runner{Tiers: Order, Env: safeEnv(dir), Sudo: SudoNever,
		Privd: &privproto.Client{Socket: filepath.Join(dir, "gone.sock"), Key: key}}
	r := l.Run(t.Context(), heal.Job{Action: "journal_vacuum", Params: map[string]string{"size": "500M"}})
	want := map[string]string{
		record.TierUnprivileged: "needs root",
		record.TierPrivd:        "no socket",
		record.TierSudo:         "not allowed by --sudo never",
		record.TierFallback:     "no user-space alternative for journal_vacuum",
	}
	if r.Tier != record.TierAdvise || len(r.Denied) != len(want) {
		t.Fatalf("result = %+v", r)
	}
	for k, v := range want {
		if r.Denied[k] != v {
			t.Errorf("denied[%s] = %q, want %q", k, r.Denied[k], v)
		}
	}
	// No key at all: the reason says so.
	l.Privd, l.KeyErr = nil, errors.New("key file missing")
	r = l.Run(t.Context(), heal.Job{Action: "journal_vacuum", Params: map[string]string{"size": "500M"}})
	if r.Denied[record.TierPrivd] != "no key (key file missing)" {
		t.Errorf("denied[privd] = %q", r.Denied[record.TierPrivd])
	}
}

func TestPrivdRateLimitedNotRetried(t *testing.T) {
	sys := sysTree(t, "performance")
	d := startDaemon(t, sys, privd.RateLimits{Overall: privd.Limit{Max: 1, Window: config.Duration(10 * time.Minute)}})
	l := &Runner{Tiers: []string{record.TierPrivd, record.TierAdvise}, Env: safeEnv(t.TempDir()),
		Privd: &privproto.Client{Socket: d.socket, Key: d.key}}
	// noop is lmn-privd's ping and not counted: use a real action on
	// the temporary sysfs.
	gov := heal.Job{Action: "set_cpu_governor", Params: map[string]string{"governor": "powersave"}}
	if r := l.Run(t.Context(), gov); r.Tier != record.TierPrivd || r.Err != "" {
		t.Fatalf("first: %+v", r)
	}
	r := l.Run(t.Context(), gov)
	if r.Tier != record.TierAdvise || !strings.HasPrefix(r.Denied[record.TierPrivd], "rate limited (retry in ") {
		t.Fatalf("second: %+v", r)
	}
	before := auditLines(t, d)
	for range 20 {
		r = l.Run(t.Context(), gov)
	}
	if n := auditLines(t, d); n != before {
		t.Errorf("lmn-privd was asked again while rate limited: audit %d → %d lines", before, n)
	}
	if !strings.HasPrefix(r.Denied[record.TierPrivd], "rate limited (retry in ") {
		t.Errorf("later: %+v", r)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if privdBin != "" {
		os.RemoveAll(filepath.Dir(privdBin))
	}
	os.Exit(code)
}

var (
	privdBin     string
	privdBinErr  error
	privdBinOnce sync.Once
)

// buildPrivd builds cmd/lmn-privd into a temporary directory once.
func buildPrivd(t *testing.T) string {
	t.Helper()
	privdBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lmn-heal-tier-")
		if err != nil {
			privdBinErr = err
			return
		}
		privdBin = filepath.Join(dir, "lmn-privd")
		out, err := exec.Command("go", "build", "-o", privdBin, "../../cmd/lmn-privd").CombinedOutput()
		if err != nil {
			privdBinErr = errors.New(string(out))
		}
	})
	if privdBinErr != nil {
		t.Fatalf("build lmn-privd: %v", privdBinErr)
	}
	return privdBin
}

// sudoWorks skips unless `sudo -n` runs commands here without a password.
func sudoWorks(t *testing.T) {
	t.Helper()
	if err := exec.Command("sudo", "-n", "true").Run(); err != nil {
		t.Skipf("sudo -n does not work here (%v): the sudo tier cannot be exercised", err)
	}
}

func TestSudoTierRunsPrivdExec(t *testing.T) {
	sudoWorks(t)
	sys := sysTree(t, "performance")
	d := startDaemon(t, sys, loose()) // only for its config; exec shares the audit log
	cfgFile := filepath.Join(t.TempDir(), "privd.json")
	writeConfig(t, cfgFile, d.cfg)
	// The daemon's socket is gone: the ladder falls through to sudo.
	l := &Runner{Tiers: []string{record.TierPrivd, record.TierSudo, record.TierAdvise}, Env: safeEnv(t.TempDir()),
		Privd: &privproto.Client{Socket: filepath.Join(t.TempDir(), "gone.sock"), Key: d.key},
		Sudo:  SudoNoninteractive, SudoArgv: []string{"sudo"}, PrivdArgv: []string{buildPrivd(t), "--config", cfgFile}}
	r := l.Run(t.Context(), heal.Job{Action: "set_cpu_governor", Params: map[string]string{"governor": "powersave"}, Restore: true})
	if r.Tier != record.TierSudo || r.Err != "" || governor(t, sys) != "powersave" {
		t.Fatalf("result = %+v, governor %s", r, governor(t, sys))
	}
	if r.Denied[record.TierPrivd] != "no socket" {
		t.Errorf("denied = %v", r.Denied)
	}
	if r.Undo == nil || r.Undo.Params["policy"] != "policy0:performance" {
		t.Errorf("undo = %+v", r.Undo)
	}
	if auditLines(t, d) < 2 {
		t.Error("sudo lmn-privd exec wrote no audit lines")
	}
}

func TestSudoNeedsPassword(t *testing.T) {
	sudoWorks(t)
	if os.Getuid() != 0 {
		t.Skip("needs root to run sudo as another user")
	}
	// The real sudo, run as nobody, who may not use it without a password.
	l := &Runner{Tiers: []string{record.TierSudo, record.TierAdvise}, Env: safeEnv(t.TempDir()), Sudo: SudoNoninteractive,
		SudoArgv: []string{"sudo", "-u", "nobody", "sudo"}, PrivdArgv: []string{"true"}}
	r := l.Run(t.Context(), heal.Job{Action: "noop"})
	if r.Tier != record.TierAdvise || r.Denied[record.TierSudo] != "sudo needs a password" {
		t.Errorf("result = %+v", r)
	}
}

func TestSudoPromptWithoutTerminal(t *testing.T) {
	l := &Runner{Tiers: []string{record.TierSudo, record.TierAdvise}, Env: safeEnv(t.TempDir()), Sudo: SudoPrompt,
		SudoArgv: []string{"sudo"}, PrivdArgv: []string{"true"}, TTY: filepath.Join(t.TempDir(), "no-tty")}
	r := l.Run(t.Context(), heal.Job{Action: "noop"})
	if r.Denied[record.TierSudo] != "no terminal to ask for the sudo password" {
		t.Errorf("result = %+v", r)
	}
}

func writeConfig(t *testing.T, path string, cfg privd.Config) {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSudoRateLimitedNotRetried(t *testing.T) {
	sudoWorks(t)
	sys := sysTree(t, "performance")
	d := startDaemon(t, sys, privd.RateLimits{Overall: privd.Limit{Max: 1, Window: config.Duration(time.Hour)}})
	cfgFile := filepath.Join(t.TempDir(), "privd.json")
	writeConfig(t, cfgFile, d.cfg)
	l := &Runner{Tiers: []string{record.TierSudo, record.TierAdvise}, Env: safeEnv(t.TempDir()), Sudo: SudoNoninteractive,
		SudoArgv: []string{"sudo"}, PrivdArgv: []string{buildPrivd(t), "--config", cfgFile}}
	job := heal.Job{Action: "set_cpu_governor", Params: map[string]string{"governor": "powersave"}}
	if r := l.Run(t.Context(), job); r.Tier != record.TierSudo || r.Err != "" {
		t.Fatalf("first: %+v", r)
	}
	r := l.Run(t.Context(), job)
	if r.Tier != record.TierAdvise || !strings.HasPrefix(r.Denied[record.TierSudo], "rate limited (retry in ") {
		t.Fatalf("second: %+v", r)
	}
	before := auditLines(t, d)
	r = l.Run(t.Context(), job)
	if n := auditLines(t, d); n != before || !strings.HasPrefix(r.Denied[record.TierSudo], "rate limited (retry in ") {
		t.Errorf("asked again while rate limited: audit %d → %d lines, %+v", before, n, r)
	}
}

// switch_generation is never run by the unprivileged tier, even as root:
// its bounds live in lmn-privd's record. And what lmn-heal sends lmn-privd
// is built from the request alone, always `exec ACTION k=v…`: no request
// can become the --allow-rejected that only a person's command line sets
// before `exec` (and over the socket there is no field for it at all).
func TestGenerationActionsNeedPrivd(t *testing.T) {
	l := &Runner{Tiers: []string{record.TierUnprivileged, record.TierAdvise}, Env: safeEnv(t.TempDir()), Root: true}
	r := l.Run(t.Context(), heal.Job{Action: "switch_generation", Params: map[string]string{"generation": "1"}})
	if r.Tier != record.TierAdvise || !strings.Contains(r.Denied[record.TierUnprivileged], "only lmn-privd") {
		t.Errorf("result = %+v", r)
	}
	args := execArgs(action.Request{Action: "switch_generation", Params: map[string]string{"generation": "1", "--allow-rejected": "x"}})
	if args[0] != "exec" || slices.Contains(args, "--allow-rejected") {
		t.Errorf("execArgs = %q", args)
	}
}
