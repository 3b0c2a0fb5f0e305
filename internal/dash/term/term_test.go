package term

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lmn-heal/lmn/internal/ptytest"
)

func termios(t *testing.T, path string) *unix.Termios {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio
}

func TestSessionModeAndKeys(t *testing.T) {
	master, pts := ptytest.Open(t)
	slave := pts.Name()
	before := termios(t, slave)
	if before.Lflag&unix.ICANON == 0 || before.Lflag&unix.ECHO == 0 {
		t.Fatalf("new pty not in canonical echo mode: lflag %#x", before.Lflag)
	}
	var out bytes.Buffer
	s, err := Start(slave, &out)
	if err != nil {
		t.Fatal(err)
	}
	during := termios(t, slave)
	if during.Lflag&(unix.ICANON|unix.ECHO) != 0 || during.Lflag&unix.ISIG == 0 {
		t.Errorf("session mode lflag %#x: want no ICANON, no ECHO, ISIG kept", during.Lflag)
	}
	if _, err := master.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	select {
	case k := <-s.Keys():
		if k != 'q' {
			t.Errorf("key %q, want q", k)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no key within 10s")
	}
	if err := s.Restore(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restore(); err != nil {
		t.Fatalf("second restore: %v", err)
	}
	after := termios(t, slave)
	if after.Lflag != before.Lflag || after.Iflag != before.Iflag {
		t.Errorf("mode not restored: lflag %#x iflag %#x, was %#x %#x", after.Lflag, after.Iflag, before.Lflag, before.Iflag)
	}
	if got := out.String(); got != Enter+Exit {
		t.Errorf("wrote %q, want enter then exit sequences", got)
	}
}

// TestRestoreOnPanic: a deferred Restore puts the terminal back while a
// panic unwinds, as lmn-dash's run does.
func TestRestoreOnPanic(t *testing.T) {
	_, pts := ptytest.Open(t)
	slave := pts.Name()
	before := termios(t, slave)
	var out bytes.Buffer
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v", p)
			}
		}()
		s, err := Start(slave, &out)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Restore()
		panic("boom")
	}()
	if after := termios(t, slave); after.Lflag != before.Lflag {
		t.Errorf("mode not restored after panic: lflag %#x, was %#x", after.Lflag, before.Lflag)
	}
	if !strings.HasSuffix(out.String(), Exit) {
		t.Errorf("exit sequence not written: %q", out.String())
	}
}

func TestSize(t *testing.T) {
	master, pts := ptytest.Open(t)
	slave := pts.Name()
	f, err := os.OpenFile(slave, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !IsTerminal(f.Fd()) {
		t.Fatal("pty slave is not a terminal")
	}
	if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: 133, Row: 41}); err != nil {
		t.Fatal(err)
	}
	w, h, err := Size(f.Fd())
	if err != nil || w != 133 || h != 41 {
		t.Errorf("Size = %d, %d, %v; want 133, 41", w, h, err)
	}
	r, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w2.Close()
	if IsTerminal(r.Fd()) {
		t.Error("a pipe is a terminal")
	}
	if _, _, err := Size(r.Fd()); err == nil {
		t.Error("Size of a pipe: no error")
	}
}

func TestStartErrors(t *testing.T) {
	if _, err := Start("/nonexistent/tty", &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "/nonexistent/tty") {
		t.Errorf("missing tty: %v", err)
	}
	if _, err := Start(os.DevNull, &bytes.Buffer{}); err == nil {
		t.Error("/dev/null accepted as a terminal")
	}
}
