package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/cli"
	"github.com/lmn-heal/lmn/internal/privd"
	"github.com/lmn-heal/lmn/internal/privproto"
)

// asMainEnv makes the test binary run main() with its arguments, so tests
// can start the whole daemon as a subprocess.
const asMainEnv = "LMN_PRIVD_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) != "" {
		main()
	}
	os.Exit(m.Run())
}

// env is a temporary setup: key, config, audit log, proc tree, socket.
type env struct {
	dir, key, config, audit, socket, proc string
}

func newEnv(t testing.TB, extra string) env {
	t.Helper()
	dir := t.TempDir()
	e := env{dir: dir, key: filepath.Join(dir, "hmac.key"), config: filepath.Join(dir, "config.json"),
		audit: filepath.Join(dir, "audit.log"), socket: filepath.Join(dir, "privd.sock"), proc: filepath.Join(dir, "proc")}
	if err := privproto.WriteKey(e.key); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(e.proc, "sys/vm"), 0o755)
	os.WriteFile(filepath.Join(e.proc, "sys/vm/drop_caches"), nil, 0o644)
	cfg := `{"clients":{"uids":[` + strconv.Itoa(os.Getuid()) + `]},"audit_log":` + strconv.Quote(e.audit) +
		`,"socket":{"path":` + strconv.Quote(e.socket) + `},"env":{"proc_root":` + strconv.Quote(e.proc) + `}` + extra + `}`
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func runArgs(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	c, err := parseArgs(args, &out, &errb)
	if err != nil {
		return cli.Code(err), out.String(), errb.String()
	}
	code := run(context.Background(), c, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// startDaemon runs `lmn-privd serve` as a subprocess.
func startDaemon(t testing.TB, e env, extraEnv ...string) *exec.Cmd {
	t.Helper()
	var stderr bytes.Buffer
	t.Cleanup(func() { // after the daemon is killed and waited for (cleanups run last first)
		if t.Failed() {
			t.Logf("daemon stderr:\n%s", stderr.String())
		}
	})
	return startDaemonTo(t, e, &stderr, extraEnv...)
}

// startDaemonTo runs `lmn-privd serve` as a subprocess writing its stderr
// to stderr.
func startDaemonTo(t testing.TB, e env, stderr io.Writer, extraEnv ...string) *exec.Cmd {
	t.Helper()
	self, _ := os.Executable()
	cmd := exec.Command(self, "serve", "--config", e.config, "--key-file", e.key)
	cmd.Env = append(append(os.Environ(), asMainEnv+"=1"), extraEnv...)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

func client(t testing.TB, e env) *privproto.Client {
	key, err := privproto.LoadKey(e.key)
	if err != nil {
		t.Fatal(err)
	}
	return &privproto.Client{Socket: e.socket, Key: key, Timeout: 5 * time.Second}
}

// waitFor polls cond: the subprocess daemon runs on its own clock.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestServeNotifyPingAndSIGTERM(t *testing.T) {
	e := newEnv(t, "")
	notify := filepath.Join(e.dir, "notify.sock")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cmd := startDaemon(t, e, "NOTIFY_SOCKET="+notify, "WATCHDOG_USEC=200000")
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, err := nc.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "READY=1") || !strings.Contains(string(buf[:n]), "STATUS=serving on") {
		t.Fatalf("notify: %q, %v", buf[:n], err)
	}
	if n, err := nc.Read(buf); err != nil || string(buf[:n]) != "WATCHDOG=1" {
		t.Errorf("watchdog: %q, %v", buf[:n], err)
	}
	code, out, _ := runArgs(t, "ping", "--listen", e.socket, "--key-file", e.key)
	if code != 0 || !strings.HasPrefix(out, "ok ") {
		t.Errorf("ping: %d %q", code, out)
	}
	if _, err := client(t, e).Do(context.Background(), action.Request{Action: "drop_caches", Params: map[string]string{"level": "1"}}); err != nil {
		t.Fatal(err)
	}
	for msg := ""; msg != "STATUS=serving: 1 actions run, 0 requests refused"; {
		n, err := nc.Read(buf)
		if err != nil {
			t.Fatalf("no STATUS after an action (last %q): %v", msg, err)
		}
		msg = string(buf[:n])
	}
	if fi, err := os.Stat(e.socket); err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket: %v %v", fi, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	var last string
	for last != "STOPPING=1\nSTATUS=stopping" { // watchdog messages may come first
		n, err := nc.Read(buf)
		if err != nil {
			t.Fatalf("no STOPPING=1 (last %q): %v", last, err)
		}
		last = string(buf[:n])
	}
	if _, err := os.Lstat(e.socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after shutdown: %v", err)
	}
}

func TestKill9DuringActionLeavesIntent(t *testing.T) {
	dir := t.TempDir()
	// A real helper that never finishes, standing in for journalctl.
	tool := standIn(t, dir, "journalctl", "exec sleep 60\n")
	e := newEnv(t, `,"env":{"journalctl":["`+tool+`"],"proc_root":"`+filepath.Join(dir, "proc")+`"}`)
	daemon := startDaemon(t, e)
	waitFor(t, "socket", func() bool { _, err := os.Stat(e.socket); return err == nil })
	go client(t, e).Do(context.Background(), action.Request{Action: "journal_vacuum", Params: map[string]string{"size": "1G"}})
	waitFor(t, "intent line", func() bool {
		b, _ := os.ReadFile(e.audit)
		return bytes.Contains(b, []byte(`"event":"intent"`))
	})
	daemon.Process.Signal(syscall.SIGKILL)
	daemon.Wait()
	b, _ := os.ReadFile(e.audit)
	if !bytes.Contains(b, []byte(`"event":"intent"`)) || bytes.Contains(b, []byte(`"event":"result"`)) || !bytes.Contains(b, []byte(`"action":"journal_vacuum"`)) {
		t.Errorf("audit after kill -9:\n%s", b)
	}
	code, out, _ := runArgs(t, "verify-audit", e.audit)
	if code != 0 || !strings.Contains(out, "has no outcome") || !strings.Contains(out, "1 open intents") {
		t.Errorf("verify-audit after kill -9: %d %s", code, out)
	}
	// The next start closes it: nobody holds its target any more.
	startDaemon(t, e)
	waitFor(t, "the next daemon", func() bool { return client(t, e).Ping(context.Background()) == nil })
	b, _ = os.ReadFile(e.audit)
	if !bytes.Contains(b, []byte(`"event":"unknown_outcome"`)) {
		t.Errorf("no unknown_outcome line after the restart:\n%s", b)
	}
	if code, out, _ := runArgs(t, "verify-audit", e.audit); code != 0 || !strings.Contains(out, "0 open intents") {
		t.Errorf("verify-audit after the restart: %d %s", code, out)
	}
	t.Logf("kill -9 mid-action: intent line on disk, no result line, chain intact; closed as unknown_outcome at the next start")
}

func TestExecSubcommand(t *testing.T) {
	e := newEnv(t, `,"rate_limits":{"overall":{"max":2,"window":"5m"}}`)
	code, out, _ := runArgs(t, "--config", e.config, "exec", "drop_caches", "level=2")
	var r privproto.Response
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || !r.OK {
		t.Fatalf("exec: %d %q", code, out)
	}
	if b, _ := os.ReadFile(filepath.Join(e.proc, "sys/vm/drop_caches")); string(b) != "2\n" {
		t.Errorf("drop_caches = %q", b)
	}
	if code, out, _ := runArgs(t, "--config", e.config, "exec", "kill_process", "pid=1", "start_time=1"); code != 1 || !strings.Contains(out, `"refused"`) {
		t.Errorf("exec kill pid 1: %d %q", code, out)
	}
	if code, _, _ := runArgs(t, "--config", e.config, "exec", "drop_caches", "level"); code != 2 {
		t.Errorf("exec without =: %d", code)
	}
	// The limit is shared through the audit log: one more, then refused.
	runArgs(t, "--config", e.config, "exec", "drop_caches", "level=1")
	code, out, _ = runArgs(t, "--config", e.config, "exec", "drop_caches", "level=3")
	if code != 1 || !strings.Contains(out, "rate_limited") || !strings.Contains(out, "retry_after_ms") {
		t.Errorf("third exec: %d %q", code, out)
	}
	if code, out, _ := runArgs(t, "verify-audit", e.audit); code != 0 {
		t.Errorf("verify-audit: %s", out)
	}
}

func TestVerifyAuditReportsLine(t *testing.T) {
	e := newEnv(t, "")
	for range 3 {
		runArgs(t, "--config", e.config, "exec", "drop_caches", "level=1")
	}
	b, _ := os.ReadFile(e.audit)
	lines := bytes.SplitAfter(b, []byte("\n"))
	lines[2] = bytes.Replace(lines[2], []byte(`"level":"1"`), []byte(`"level":"3"`), 1)
	os.WriteFile(e.audit, bytes.Join(lines, nil), 0o600)
	code, out, _ := runArgs(t, "verify-audit", e.audit)
	if code != 1 || !strings.Contains(out, "line 4:") {
		t.Errorf("verify-audit of a tampered log: %d %q", code, out)
	}
}

func TestUsageAndConfigErrors(t *testing.T) {
	e := newEnv(t, "")
	bad := filepath.Join(e.dir, "bad.json")
	os.WriteFile(bad, []byte(`{"rate_limits":{"per_target":{"window":"soon"}}}`), 0o600)
	if code, _, stderr := runArgs(t, "serve", "--config", bad, "--key-file", e.key); code != 2 || !strings.Contains(stderr, "rate_limits.per_target.window") {
		t.Errorf("bad config: %d %q", code, stderr)
	}
	world := filepath.Join(e.dir, "world.key")
	os.WriteFile(world, bytes.Repeat([]byte{1}, 32), 0o644)
	os.Chmod(world, 0o644)
	if code, _, stderr := runArgs(t, "serve", "--config", e.config, "--key-file", world); code != 2 || !strings.Contains(stderr, "others") {
		t.Errorf("world-readable key: %d %q", code, stderr)
	}
	for _, args := range [][]string{{"frobnicate"}, {"keygen"}, {"exec"}, {"serve", "extra"}, {"--nope"}} {
		if code, _, _ := runArgs(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, out, _ := runArgs(t, "--version"); code != 0 || out != "dev\n" {
		t.Errorf("--version: %d %q", code, out)
	}
	if code, _, stderr := runArgs(t, "restart"); code != 2 || !strings.Contains(stderr, `lmn-privd: unknown subcommand "restart"`) {
		t.Errorf("unknown subcommand: exit %d, stderr %q", code, stderr)
	}
	code, out, _ := runArgs(t, "print-config")
	var c privd.Config
	if err := json.Unmarshal([]byte(out), &c); err != nil || code != 0 || c.RateLimits.Overall.Max != 10 {
		t.Errorf("print-config: %d %v", code, err)
	}
	if code, _, _ := runArgs(t, "keygen", e.key); code != 1 {
		t.Errorf("keygen over an existing key: exit %d, want 1", code)
	}
}

func TestExecTakesNoFlagsAfterTheSubcommand(t *testing.T) {
	e := newEnv(t, "")
	evil := filepath.Join(e.dir, "evil.json")
	pwned := filepath.Join(e.dir, "pwned")
	os.WriteFile(evil, []byte(`{"env":{"resolvectl":["/bin/sh","-c","touch `+pwned+`"]}}`), 0o666)
	os.Chmod(evil, 0o666)
	c, err := parseArgs([]string{"--config", e.config, "exec", "--config", evil, "flush_dns"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.config != e.config || c.args[0] != "--config" {
		t.Fatalf("flag after exec was parsed: %+v", c)
	}
	if code, out, _ := runArgs(t, "--config", e.config, "exec", "--config", evil, "flush_dns"); code != 2 {
		t.Errorf("exec --config: %d %q", code, out)
	}
	// Through sudo, a configuration others can write is refused.
	t.Setenv("SUDO_UID", "1000")
	if code, _, stderr := runArgs(t, "--config", evil, "exec", "noop"); code != 2 || !strings.Contains(stderr, "owned by root") {
		t.Errorf("sudo exec with a world-writable config: %d %q", code, stderr)
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Error("the flag after exec ran a command")
	}
}

func TestExecProtectsItsCallers(t *testing.T) {
	e := newEnv(t, "")
	// A fixture stat for our parent (what sudo would be) naming a parent
	// that does not exist, so a failed protection could signal nothing.
	ppid := strconv.Itoa(os.Getppid())
	os.MkdirAll(filepath.Join(e.proc, ppid), 0o755)
	os.WriteFile(filepath.Join(e.proc, ppid, "stat"), []byte(ppid+" (sudo) S 4000000 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 77 0 0"), 0o644)
	for _, pid := range []string{ppid, "4000000", strconv.Itoa(os.Getpid())} {
		code, out, _ := runArgs(t, "--config", e.config, "exec", "kill_process", "pid="+pid, "start_time=77")
		if code != 1 || !strings.Contains(out, `"code":"refused"`) || !strings.Contains(out, "protected") {
			t.Errorf("exec kill_process pid=%s: %d %q", pid, code, out)
		}
	}
}

func TestSocketActivation(t *testing.T) {
	e := newEnv(t, "")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: e.socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	// As systemd does between fork and exec: LISTEN_PID is the pid the
	// daemon will have, so the shell sets it and execs.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"`, self, "serve", "--config", e.config, "--key-file", e.key)
	cmd.Env = append(os.Environ(), asMainEnv+"=1")
	cmd.ExtraFiles = []*os.File{f}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ctx := context.Background()
	ln.SetUnlinkOnClose(false)
	ln.Close() // from here only the daemon holds the socket
	waitFor(t, "ping over the passed socket", func() bool { return client(t, e).Ping(ctx) == nil })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v", err)
	}
	if !strings.Contains(stderr.String(), `listen="socket activation"`) {
		t.Errorf("daemon did not use the passed socket:\n%s", stderr.String())
	}
	if _, err := os.Lstat(e.socket); err != nil {
		t.Errorf("the socket unit's socket was removed: %v", err)
	}
}

// Through sudo the caller's PATH is not trusted: a relative command in the
// configuration (the default "resolvectl" and "nscd") must not be looked
// up in a directory the caller chose, or the caller runs its own program
// as root.
func TestSudoExecIgnoresCallersPath(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: through sudo, exec accepts only a root-owned configuration")
	}
	e := newEnv(t, "")
	evilDir, trusted := filepath.Join(e.dir, "evil"), filepath.Join(e.dir, "trusted")
	for _, d := range []string{evilDir, trusted} {
		os.MkdirAll(d, 0o755)
		for _, tool := range []string{"resolvectl", "nscd"} {
			script := "#!/bin/sh\n: > " + filepath.Join(d, "ran-"+tool) + "\n"
			if err := os.WriteFile(filepath.Join(d, tool), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	old := trustedPath
	trustedPath = trusted // stands in for the system directories, so no real resolvectl runs
	t.Cleanup(func() { trustedPath = old })
	t.Setenv("PATH", evilDir)
	t.Setenv("SUDO_UID", "1000")
	code, out, stderr := runArgs(t, "--config", e.config, "exec", "flush_dns")
	if _, err := os.Stat(filepath.Join(evilDir, "ran-resolvectl")); err == nil {
		t.Errorf("sudo exec ran resolvectl from the caller's PATH (exit %d %q %q)", code, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(trusted, "ran-resolvectl")); err != nil || code != 0 {
		t.Errorf("sudo exec did not run resolvectl from the trusted PATH: exit %d %q %q", code, out, stderr)
	}
}

// With a terminal (use_pty, the default of sudo 1.9.14 and Debian's
// sudoers), sudo runs the command under a second sudo, its monitor: the
// real caller is then three levels up and must be protected as well.
func TestExecProtectsCallerBehindSudoMonitor(t *testing.T) {
	e := newEnv(t, "")
	ppid := strconv.Itoa(os.Getppid())
	chain := []struct{ pid, comm, parent string }{
		{ppid, "sudo", "4000001"}, {"4000001", "sudo", "4000002"}, {"4000002", "lmn-heal", "4000003"},
	}
	for _, p := range chain {
		os.MkdirAll(filepath.Join(e.proc, p.pid), 0o755)
		stat := p.pid + " (" + p.comm + ") S " + p.parent + " 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 77 0 0"
		os.WriteFile(filepath.Join(e.proc, p.pid, "stat"), []byte(stat), 0o644)
	}
	for _, p := range chain {
		code, out, _ := runArgs(t, "--config", e.config, "exec", "kill_process", "pid="+p.pid, "start_time=77")
		if code != 1 || !strings.Contains(out, `"code":"refused"`) || !strings.Contains(out, "protected") {
			t.Errorf("exec kill_process pid=%s (%s): %d %q", p.pid, p.comm, code, out)
		}
	}
}
