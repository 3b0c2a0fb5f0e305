package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lmn-heal/lmn/internal/dash/term"
	"github.com/lmn-heal/lmn/internal/ptytest"
)

// screen collects what the program writes to the terminal.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
	// lflag is the terminal's local mode before lmn-dash started.
	lflag uint32
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor waits until the output holds want after offset from.
func (s *screen) waitFor(t *testing.T, from int, want string) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if out := s.String(); len(out) >= from {
			if i := strings.Index(out[from:], want); i >= 0 {
				return from + i + len(want)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %q on the terminal within 20s; got:\n%q", want, s.String())
	return 0
}

// dashInPTY runs the real lmn-dash (this test binary re-executed) with the
// pty as its controlling terminal and stdout, and the recorded stream on a
// pipe that stays open.
func dashInPTY(t *testing.T, env []string, args ...string) (*exec.Cmd, *os.File, *os.File, *screen) {
	t.Helper()
	master, slave := openPTY120x40(t)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append([]string{"LMN_DASH_BE_MAIN=1", "TERM=xterm-256color", "PATH=" + os.Getenv("PATH")}, env...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 1}
	// Read before the start: lmn-dash may switch to cbreak at once.
	scr := &screen{lflag: lflag(t, slave)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	go func() {
		b := make([]byte, 32<<10)
		for {
			n, err := master.Read(b)
			scr.mu.Lock()
			scr.buf.Write(b[:n])
			scr.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	data, err := os.ReadFile(stream)
	if err != nil {
		t.Fatal(err)
	}
	go in.Write(data)
	t.Cleanup(func() { in.Close() })
	return cmd, master, slave, scr
}

func lflag(t *testing.T, f *os.File) uint32 {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag
}

func waitExit(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("lmn-dash: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("lmn-dash did not exit")
	}
}

// TestTerminalRestored quits by q, SIGTERM and SIGINT; each time the
// terminal mode comes back and the exit sequences are written.
func TestTerminalRestored(t *testing.T) {
	for _, how := range []string{"q", "SIGTERM", "SIGINT"} {
		t.Run(how, func(t *testing.T) {
			cmd, master, slave, scr := dashInPTY(t, nil)
			before := scr.lflag
			at := scr.waitFor(t, 0, term.Enter)
			scr.waitFor(t, at, "disk_fill_trend")
			if l := lflag(t, slave); l&(unix.ICANON|unix.ECHO) != 0 {
				t.Errorf("terminal not in cbreak mode while running: lflag %#x", l)
			}
			switch how {
			case "q":
				master.Write([]byte("q"))
			case "SIGTERM":
				cmd.Process.Signal(syscall.SIGTERM)
			case "SIGINT":
				cmd.Process.Signal(syscall.SIGINT)
			}
			waitExit(t, cmd)
			scr.waitFor(t, at, term.Exit)
			if l := lflag(t, slave); l != before {
				t.Errorf("terminal mode not restored: lflag %#x, was %#x", l, before)
			}
		})
	}
}

// TestTerminalResize: SIGWINCH redraws at the new size, and below 80×24
// the dashboard says so.
func TestTerminalResize(t *testing.T) {
	cmd, master, _, scr := dashInPTY(t, nil)
	at := scr.waitFor(t, 0, "120x40")
	ptytest.SetSize(t, master, 100, 30)
	at = scr.waitFor(t, at, "100x30")
	ptytest.SetSize(t, master, 60, 20)
	at = scr.waitFor(t, at, "too small: 60x20")
	master.Write([]byte("?"))
	ptytest.SetSize(t, master, 90, 30)
	scr.waitFor(t, at, "Keys (read from the terminal")
	master.Write([]byte("q"))
	waitExit(t, cmd)
}

// TestTerminalPlain: NO_COLOR and TERM=dumb give plain frames even on a
// terminal: no escape sequences at all, no alternate screen.
func TestTerminalPlain(t *testing.T) {
	for _, env := range []string{"NO_COLOR=1", "TERM=dumb"} {
		t.Run(env, func(t *testing.T) {
			cmd, _, _, scr := dashInPTY(t, []string{env})
			scr.waitFor(t, 0, "disk_fill_trend")
			cmd.Process.Signal(syscall.SIGTERM)
			waitExit(t, cmd)
			out := scr.String()
			if strings.ContainsRune(out, '\x1b') {
				t.Errorf("escape sequence in plain mode: %q", out[:min(len(out), 200)])
			}
			// No keys are read in plain mode: none are listed.
			if strings.Contains(out, "q quit") || !strings.Contains(out, "Ctrl-C quits") {
				t.Errorf("plain mode's footer lists keys it does not read:\n%s", out)
			}
		})
	}
}

// TestOnceRich: --once on a terminal prints one coloured frame in the
// normal screen (no alternate screen, the frame stays) and exits.
func TestOnceRich(t *testing.T) {
	master, slave := openPTY120x40(t)
	f, err := os.Open(stream)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	scr := &screen{}
	go func() {
		b := make([]byte, 64<<10)
		for {
			n, err := master.Read(b)
			scr.mu.Lock()
			scr.buf.Write(b[:n])
			scr.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	cfg := testConfig(nil)
	cfg.once = true
	var errOut bytes.Buffer
	if code := run(t.Context(), cfg, f, slave, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	scr.waitFor(t, 0, "\x1b[1;31m✗ CRIT")
	if out := scr.String(); strings.Contains(out, "\x1b[?1049h") {
		t.Errorf("--once switched to the alternate screen")
	}
}

// TestStdinTerminal: with no pipe in front, lmn-dash says how to use it.
func TestStdinTerminal(t *testing.T) {
	_, slave := openPTY120x40(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{"LMN_DASH_BE_MAIN=1"}
	cmd.Stdin = slave
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(errOut.String(), "pipe the stream in") {
		t.Errorf("exit %v, stderr %q; want 2 and a hint", err, errOut.String())
	}
}

// procState returns the state letter of pid from /proc/pid/stat.
func procState(t *testing.T, pid int) byte {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndexByte(b, ')')
	return b[i+2]
}

// TestTerminalSuspend: Ctrl-Z (SIGTSTP) gives the terminal back in its
// own mode while stopped; SIGCONT takes it again and redraws.
func TestTerminalSuspend(t *testing.T) {
	cmd, master, slave, scr := dashInPTY(t, nil)
	before := scr.lflag
	at := scr.waitFor(t, 0, "disk_fill_trend")
	cmd.Process.Signal(syscall.SIGTSTP)
	at = scr.waitFor(t, at, term.Exit)
	for deadline := time.Now().Add(20 * time.Second); procState(t, cmd.Process.Pid) != 'T'; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not stopped after SIGTSTP")
		}
	}
	if l := lflag(t, slave); l != before {
		t.Errorf("terminal mode while stopped: lflag %#x, want %#x", l, before)
	}
	cmd.Process.Signal(syscall.SIGCONT)
	at = scr.waitFor(t, at, term.Enter)
	scr.waitFor(t, at, "Firing issues")
	if l := lflag(t, slave); l&(unix.ICANON|unix.ECHO) != 0 {
		t.Errorf("cbreak mode not taken again: lflag %#x", l)
	}
	master.Write([]byte("q"))
	waitExit(t, cmd)
}

// openPTY120x40 opens a pseudo-terminal of 120 columns and 40 rows.
func openPTY120x40(t *testing.T) (master, slave *os.File) {
	master, slave = ptytest.Open(t)
	ptytest.SetSize(t, master, 120, 40)
	return master, slave
}
