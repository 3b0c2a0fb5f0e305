package pipe

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// MaxHeld is how many lines a Log keeps while it holds; older ones are
// counted and dropped.
const MaxHeld = 100

// holdPoll is how often a Log that holds lines looks whether the terminal
// is back in canonical mode.
const holdPoll = 200 * time.Millisecond

// Log is where a stage writes its diagnostics instead of stderr. While
// stderr is a terminal that a full-screen program (lmn-dash, less) has
// taken out of canonical mode, each write is held, and the held writes go
// out in order once the terminal is back in canonical mode (when that
// program closed) or at Flush. Each write should be one whole line, as
// log/slog's handlers write them.
type Log struct {
	f     *os.File
	fd    int // -1: f is not a terminal, never hold
	mu    sync.Mutex
	held  [][]byte
	lost  int
	watch bool // a goroutine waits for the terminal to come back
}

// Hold returns a Log writing to f.
func Hold(f *os.File) *Log {
	l := &Log{f: f, fd: -1}
	if sc, err := f.SyscallConn(); err == nil {
		sc.Control(func(d uintptr) {
			if _, err := unix.IoctlGetTermios(int(d), unix.TCGETS); err == nil {
				l.fd = int(d)
			}
		})
	}
	return l
}

// taken reports whether the terminal is out of canonical mode.
func (l *Log) taken() bool {
	if l.fd < 0 {
		return false
	}
	t, err := unix.IoctlGetTermios(l.fd, unix.TCGETS)
	return err == nil && t.Lflag&unix.ICANON == 0
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.held) == 0 && !l.taken() {
		return l.f.Write(p)
	}
	if len(l.held) == MaxHeld {
		l.held = l.held[1:]
		l.lost++
	}
	l.held = append(l.held, bytes.Clone(p))
	if !l.watch {
		l.watch = true
		go l.wait()
	}
	return len(p), nil
}

// wait writes the held lines once the terminal is given back.
func (l *Log) wait() {
	for {
		time.Sleep(holdPoll)
		if !l.taken() {
			l.Flush()
			return
		}
	}
}

// Flush writes the held lines, whatever the terminal's mode: call it
// before the stage exits.
func (l *Log) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost > 0 {
		fmt.Fprintf(l.f, "(%d earlier lines dropped while the terminal was held)\n", l.lost)
	}
	for _, p := range l.held {
		l.f.Write(p)
	}
	l.held, l.lost, l.watch = nil, 0, false
}
