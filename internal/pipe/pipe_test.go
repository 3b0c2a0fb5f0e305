package pipe

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lmn-heal/lmn/internal/ptytest"
)

func TestWatchEndsWhenReaderCloses(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := Watch(context.Background(), w)
	defer cancel()
	select {
	case <-ctx.Done():
		t.Fatal("context ended while the pipe still has a reader")
	case <-time.After(50 * time.Millisecond):
	}
	r.Close()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("context not ended after the pipe's reader closed")
	}
}

func TestWatchLeavesFilesAlone(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := Watch(context.Background(), f)
	select {
	case <-ctx.Done():
		t.Fatal("a regular file's context ended by itself")
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	<-ctx.Done()
}

// TestWatchCancelStopsGoroutine: the poll ends when the context does, so
// a watch does not outlive it.
func TestWatchCancelStopsGoroutine(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	before := runtime.NumGoroutine()
	for range 20 {
		_, cancel := Watch(context.Background(), w)
		cancel()
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after 20 cancelled watches, %d before", n, before)
	}
}

func setCanonical(t *testing.T, f *os.File, on bool) {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if on {
		tio.Lflag |= unix.ICANON
	} else {
		tio.Lflag &^= unix.ICANON
	}
	if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
}

// pollable returns f through the runtime poller, for read deadlines.
func pollable(t *testing.T, f *os.File) *os.File {
	t.Helper()
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	nf := os.NewFile(uintptr(fd), f.Name())
	t.Cleanup(func() { nf.Close() })
	return nf
}

// readAvailable reads what the terminal shows within d.
func readAvailable(t *testing.T, master *os.File, d time.Duration) string {
	t.Helper()
	master.SetReadDeadline(time.Now().Add(d))
	var out bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := master.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			return out.String()
		}
	}
}

// TestHoldWhileTerminalTaken: a warning written while a full-screen
// program has the terminal (out of canonical mode) is not drawn onto its
// screen; it shows once the terminal is given back.
func TestHoldWhileTerminalTaken(t *testing.T) {
	master, slave := ptytest.Open(t)
	master = pollable(t, master)
	log := Hold(slave)

	fmt.Fprintln(log, "before")
	if got := readAvailable(t, master, 200*time.Millisecond); !bytes.Contains([]byte(got), []byte("before")) {
		t.Fatalf("a canonical terminal got %q, want the line at once", got)
	}
	setCanonical(t, slave, false) // lmn-dash takes the terminal
	fmt.Fprintln(log, "warning one")
	fmt.Fprintln(log, "warning two")
	if got := readAvailable(t, master, 3*holdPoll); got != "" {
		t.Fatalf("the held terminal got %q, want nothing until it is given back", got)
	}
	setCanonical(t, slave, true) // lmn-dash closed
	got := readAvailable(t, master, 5*holdPoll)
	if !bytes.Contains([]byte(got), []byte("warning one")) || !bytes.Contains([]byte(got), []byte("warning two")) {
		t.Fatalf("after the terminal came back it showed %q, want both held lines", got)
	}
}

// TestHoldFlush: lines still held when the stage exits are written then.
func TestHoldFlush(t *testing.T) {
	master, slave := ptytest.Open(t)
	master = pollable(t, master)
	log := Hold(slave)
	setCanonical(t, slave, false)
	for i := range MaxHeld + 3 {
		fmt.Fprintf(log, "line %d\n", i)
	}
	log.Flush()
	got := readAvailable(t, master, 500*time.Millisecond)
	for _, want := range []string{"3 earlier lines dropped", "line 3\r\n", fmt.Sprintf("line %d", MaxHeld+2)} {
		if !bytes.Contains([]byte(got), []byte(want)) {
			t.Errorf("flushed %q, want %q in it", got, want)
		}
	}
}

func TestHoldNotATerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	log := Hold(w)
	fmt.Fprintln(log, "straight through")
	w.Close()
	buf := make([]byte, 64)
	n, _ := r.Read(buf)
	if string(buf[:n]) != "straight through\n" {
		t.Fatalf("read %q", buf[:n])
	}
}
