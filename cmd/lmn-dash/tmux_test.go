package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binDir    string
)

// binaries builds lmn-dash, and lmn-collect when it builds, into a
// directory shared by the tests of this run (removed by TestMain).
func binaries(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds binaries: skipped in -short")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lmn-dash-test")
		if err != nil {
			return
		}
		binDir = dir
		for _, b := range [][2]string{{".", "lmn-dash"}, {"../lmn-collect", "lmn-collect"}} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(dir, b[1]), b[0]).CombinedOutput()
			if err != nil {
				t.Logf("go build %s: %v\n%s", b[0], err, out)
			}
		}
	})
	if _, err := os.Stat(filepath.Join(binDir, "lmn-dash")); err != nil {
		t.Fatalf("lmn-dash was not built: %v", err)
	}
	return binDir
}

// TestCollectOnce runs the pipe the issue names, for real:
// lmn-collect --count 3 | lmn-dash --once.
func TestCollectOnce(t *testing.T) {
	dir := binaries(t)
	collect := filepath.Join(dir, "lmn-collect")
	if _, err := os.Stat(collect); err != nil {
		t.Skip("lmn-collect does not build yet")
	}
	c := exec.Command(collect, "--count", "3", "--interval", "200ms")
	d := exec.Command(filepath.Join(dir, "lmn-dash"), "--once")
	d.Env = append(os.Environ(), "COLUMNS=100")
	pipe, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.Stdin = pipe
	var out, errOut strings.Builder
	d.Stdout, d.Stderr = &out, &errOut
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.Run(); err != nil {
		t.Fatalf("lmn-collect: %v", err)
	}
	if err := d.Wait(); err != nil {
		t.Fatalf("lmn-dash --once: %v\n%s", err, errOut.String())
	}
	host, _ := os.Hostname()
	frame := out.String()
	for _, want := range []string{"System", "CPU", "Mem avail", "collect+", "input ended"} {
		if !strings.Contains(frame, want) {
			t.Errorf("frame lacks %q:\n%s", want, frame)
		}
	}
	if host != "" && !strings.Contains(frame, host) {
		t.Errorf("frame lacks the host name %q", host)
	}
}

// TestTmux runs the pipe into lmn-dash inside a real tmux (on a private
// socket, so no user's tmux is touched), checks the panels on the captured
// pane, presses q, and checks that lmn-dash exited 0 and the normal screen
// came back.
func TestTmux(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux not installed")
	}
	dir := binaries(t)
	abs, err := filepath.Abs(stream)
	if err != nil {
		t.Fatal(err)
	}
	// The real collector when it builds; else the recorded stream, kept open.
	source := "(cat '" + abs + "'; sleep 600)"
	panels := []string{"System", "Trends", "Firing issues", "Healing", "Events", "disk_usage"}
	if _, err := os.Stat(filepath.Join(dir, "lmn-collect")); err == nil {
		source = "./lmn-collect --interval 500ms"
		panels = []string{"System", "Trends", "Firing issues", "Healing", "Events", "collect✓", "CPU", "Mem avail"}
	}
	t.Logf("stream: %s", source)
	sock := filepath.Join(dir, "tmux.sock")
	tm := func(args ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-S", sock}, args...)...).CombinedOutput()
		return string(out), err
	}
	script := "cd '" + dir + "' && " + source + " | env -u NO_COLOR TERM=tmux-256color ./lmn-dash; echo \"lmn-dash exited $?\"; sleep 600"
	if out, err := tm("new-session", "-d", "-x", "120", "-y", "40", "-s", "dash", "sh", "-c", script); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { tm("kill-server"); os.Remove(sock) })

	capture := func(want ...string) string {
		t.Helper()
		var pane string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			pane, _ = tm("capture-pane", "-p", "-t", "dash")
			all := true
			for _, w := range want {
				all = all && strings.Contains(pane, w)
			}
			if all {
				return pane
			}
		}
		t.Fatalf("pane never showed %q; last capture:\n%s", want, pane)
		return ""
	}
	pane := capture(panels...)
	if rows := strings.Split(strings.TrimRight(pane, "\n"), "\n"); len(rows) != 40 || !strings.Contains(rows[39], "120x40") {
		t.Errorf("dashboard does not fill the 120x40 pane:\n%s", pane)
	}
	if out, err := tm("send-keys", "-t", "dash", "q"); err != nil {
		t.Fatalf("send-keys: %v %s", err, out)
	}
	pane = capture("lmn-dash exited 0")
	if strings.Contains(pane, "Firing issues") {
		t.Errorf("dashboard still on screen after q (alternate screen not left):\n%s", pane)
	}
}
