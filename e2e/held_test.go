package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/ptytest"
)

// Escape sequences lmn-dash writes to enter and leave the alternate screen
// (internal/dash/term).
const (
	altScreenOn  = "\x1b[?1049h"
	altScreenOff = "\x1b[?1049l"
)

// TestWarningsHeldWhileDashboard is issue 15's lost warning: lmn-collect's
// "failed units are not reported", written while lmn-dash's dashboard has
// the terminal, is shown after the dashboard closes, not drawn onto the
// alternate screen and lost with it.
func TestWarningsHeldWhileDashboard(t *testing.T) {
	skipShort(t)
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd is the service manager here: lmn-collect --units system has no warning to give")
	}
	master, slave := ptytest.Open(t)
	ptytest.SetSize(t, master, 120, 40)
	var mu sync.Mutex
	var screen bytes.Buffer
	go func() {
		b := make([]byte, 32<<10)
		for {
			n, err := master.Read(b)
			mu.Lock()
			screen.Write(b[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	shown := func() string {
		mu.Lock()
		defer mu.Unlock()
		return screen.String()
	}
	waitFor := func(what string, ok func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok(shown()) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s on the terminal:\n%q", what, shown())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// lmn-dash first, so that the dashboard surely has the terminal when
	// lmn-collect warns (a shell starts both at once).
	dash := exec.Command(bin(t, "lmn-dash"))
	dash.Env = append(os.Environ(), "TERM=xterm-256color", "NO_COLOR=")
	dash.Stdin, dash.Stdout, dash.Stderr = r, slave, slave
	dash.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 1}
	if err := dash.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	dashDone := make(chan struct{})
	go func() { dash.Wait(); close(dashDone) }()
	t.Cleanup(func() { dash.Process.Kill(); <-dashDone })
	waitFor("alternate screen", func(s string) bool { return strings.Contains(s, altScreenOn) })

	collect := exec.Command(bin(t, "lmn-collect"), "--units", "system", "--interval", "30s")
	collect.Stdout, collect.Stderr = w, slave
	if err := collect.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	collectDone := make(chan struct{})
	go func() { collect.Wait(); close(collectDone) }()
	t.Cleanup(func() { collect.Process.Kill(); <-collectDone })
	// The units warning comes with the first sample, which the dashboard
	// then shows.
	waitFor("first sample on the dashboard", func(s string) bool { return strings.Contains(s, "Mem avail") })
	time.Sleep(500 * time.Millisecond)

	master.Write([]byte("q"))
	for name, done := range map[string]chan struct{}{"lmn-dash": dashDone, "lmn-collect": collectDone} {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s still runs 10 s after q", name)
		}
	}
	const warning = "failed units are not reported"
	waitFor("warning", func(s string) bool { return strings.Contains(s, warning) })
	out := shown()
	off := strings.LastIndex(out, altScreenOff)
	if off < 0 {
		t.Fatalf("lmn-dash never left the alternate screen:\n%q", out)
	}
	if at := strings.Index(out, warning); at < off {
		t.Errorf("the warning was drawn onto the dashboard (at byte %d, the dashboard closed at %d), lost with it", at, off)
	}
}
