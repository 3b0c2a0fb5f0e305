package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/privproto"
)

// standIn writes an executable shell script named name into dir and
// returns its path: a real program in place of journalctl or systemctl.
func standIn(t testing.TB, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// The daemon's environment holds what systemd gives it: the credential
// directory with the key, the notify socket, the watchdog interval. A
// helper it runs (a real subprocess standing in for journalctl) must see
// none of it, only PATH and the C locale.
func TestHelpersGetAMinimalEnvironment(t *testing.T) {
	dir := t.TempDir()
	tool := standIn(t, dir, "journalctl", "env | sort\n")
	e := newEnv(t, `,"env":{"journalctl":["`+tool+`"],"proc_root":"`+filepath.Join(dir, "proc")+`"}`)
	notify := filepath.Join(e.dir, "notify.sock")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	startDaemon(t, e, "NOTIFY_SOCKET="+notify, "WATCHDOG_USEC=30000000", "CREDENTIALS_DIRECTORY="+e.dir,
		"LMN_SECRET_TOKEN=hunter2")
	waitFor(t, "socket", func() bool { _, err := os.Stat(e.socket); return err == nil })
	res, err := client(t, e).Do(context.Background(), action.Request{Action: "journal_vacuum", Params: map[string]string{"size": "1G"}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(res.Output, "\n") {
		name, _, _ := strings.Cut(line, "=")
		names = append(names, name)
	}
	// sh itself adds PWD (and SHLVL, _ on some shells): not inherited.
	got := strings.Join(names, " ")
	for _, leak := range []string{"CREDENTIALS_DIRECTORY", "NOTIFY_SOCKET", "WATCHDOG_USEC", "LMN_SECRET_TOKEN", asMainEnv, "HOME"} {
		if strings.Contains(got, leak) {
			t.Errorf("the helper saw %s: its environment is %q", leak, res.Output)
		}
	}
	if !strings.Contains(res.Output, "PATH=") || !strings.Contains(res.Output, "LC_ALL=C") {
		t.Errorf("the helper lacks PATH or LC_ALL: %q", res.Output)
	}
}

// A helper that is running when the daemon is killed with SIGKILL dies
// with it (Pdeathsig): nothing the daemon started outlives it to act
// without an audit line closing it. The helper is a real subprocess
// standing in for journalctl that never finishes.
func TestHelperDiesWithTheDaemon(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "helper.pid")
	tool := standIn(t, dir, "journalctl", "echo $$ > "+pidFile+".tmp; mv "+pidFile+".tmp "+pidFile+"; exec sleep 60\n")
	e := newEnv(t, `,"env":{"journalctl":["`+tool+`"],"proc_root":"`+filepath.Join(dir, "proc")+`"}`)
	daemon := startDaemon(t, e)
	waitFor(t, "socket", func() bool { _, err := os.Stat(e.socket); return err == nil })
	go client(t, e).Do(context.Background(), action.Request{Action: "journal_vacuum", Params: map[string]string{"size": "1G"}})
	var pid int
	waitFor(t, "the helper's pid", func() bool {
		b, err := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	daemon.Process.Signal(syscall.SIGKILL)
	daemon.Wait()
	waitFor(t, "the helper to die with the daemon", func() bool { return !running(pid) })
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// The kill switch end to end: `lmn-privd pause` (as root: straight into the
// audit log; otherwise over the socket) makes the running daemon refuse the
// next action, `resume` (root) lets it act again, and both are in the
// audit chain.
func TestPauseAndResume(t *testing.T) {
	e := newEnv(t, "")
	startDaemon(t, e)
	waitFor(t, "socket", func() bool { _, err := os.Stat(e.socket); return err == nil })
	drop := action.Request{Action: "drop_caches", Params: map[string]string{"level": "1"}}
	code, out, stderr := runArgs(t, "--config", e.config, "--key-file", e.key, "pause", "--reason", "disk swap at 14:00")
	if code != 0 || !strings.Contains(out, "paused") {
		t.Fatalf("pause: %d %q %q", code, out, stderr)
	}
	_, err := client(t, e).Do(context.Background(), drop)
	if !errors.Is(err, privproto.ErrPaused) || !strings.Contains(err.Error(), "disk swap at 14:00") {
		t.Errorf("an action after the pause: %v, want refused as paused", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("resume needs root")
	}
	if code, out, stderr := runArgs(t, "--config", e.config, "resume"); code != 0 || !strings.Contains(out, "resumed") {
		t.Fatalf("resume: %d %q %q", code, out, stderr)
	}
	if _, err := client(t, e).Do(context.Background(), drop); err != nil {
		t.Errorf("an action after resume: %v", err)
	}
	b, _ := os.ReadFile(e.audit)
	if !bytes.Contains(b, []byte(`"event":"pause"`)) || !bytes.Contains(b, []byte(`"event":"resume"`)) || !bytes.Contains(b, []byte(`"via":"local"`)) {
		t.Errorf("audit:\n%s", b)
	}
	if code, out, _ := runArgs(t, "verify-audit", e.audit); code != 0 {
		t.Errorf("verify-audit: %s", out)
	}
}
