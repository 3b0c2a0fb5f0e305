// Package term is lmn-dash's terminal: whether a file is a terminal and how
// big, and a full-screen session on the controlling terminal (/dev/tty, as
// stdin carries the stream) that reads keys without echo and always puts
// the terminal back the way it found it.
package term

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Escape sequences written when a session starts and ends.
const (
	// Enter switches to the alternate screen, hides the cursor and clears.
	Enter = "\x1b[?1049h\x1b[?25l\x1b[2J"
	// Exit resets colours, shows the cursor and leaves the alternate screen.
	Exit = "\x1b[0m\x1b[?25h\x1b[?1049l"
	// Home moves the cursor to the top left, where each frame starts.
	Home = "\x1b[H"
)

// IsTerminal reports whether fd is a terminal.
func IsTerminal(fd uintptr) bool {
	_, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
	return err == nil
}

// Size returns the width and height of the terminal fd.
func Size(fd uintptr) (width, height int, err error) {
	ws, err := unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0, fmt.Errorf("terminal size: %w", err)
	}
	if ws.Col == 0 || ws.Row == 0 {
		return 0, 0, errors.New("terminal size: terminal reports 0x0")
	}
	return int(ws.Col), int(ws.Row), nil
}

// Session is a full-screen session: the terminal at Path in cbreak mode
// (no echo, no line buffering; Ctrl-C still signals), frames drawn to out on
// the alternate screen.
type Session struct {
	out   io.Writer
	tty   *os.File // non-blocking, so a pending key read can be ended
	fd    int
	saved unix.Termios
	raw   unix.Termios
	once  sync.Once
	keys  chan byte
	done  chan struct{}
}

// Start opens the terminal at path (normally /dev/tty), saves its mode,
// switches it to cbreak mode and writes Enter to out.
func Start(path string, out io.Writer) (*Session, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	saved, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: read terminal mode: %w", path, err)
	}
	raw := *saved
	raw.Lflag &^= unix.ECHO | unix.ICANON | unix.IEXTEN
	raw.Iflag &^= unix.IXON | unix.ICRNL
	raw.Cc[unix.VMIN] = 1
	raw.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: set cbreak mode: %w", path, err)
	}
	s := &Session{out: out, tty: os.NewFile(uintptr(fd), path), fd: fd, saved: *saved, raw: raw,
		keys: make(chan byte, 16), done: make(chan struct{})}
	if _, err := io.WriteString(out, Enter); err != nil {
		s.Restore()
		return nil, fmt.Errorf("enter full screen: %w", err)
	}
	go s.readKeys()
	return s, nil
}

// Keys delivers key presses. Keys arriving faster than they are taken are
// dropped.
func (s *Session) Keys() <-chan byte { return s.keys }

func (s *Session) readKeys() {
	defer close(s.done)
	buf := make([]byte, 64)
	for {
		n, err := s.tty.Read(buf)
		for _, b := range buf[:n] {
			select {
			case s.keys <- b:
			default:
			}
		}
		if err != nil {
			return
		}
	}
}

// Suspend gives the terminal back for a while (before the process stops
// on Ctrl-Z): Exit is written and the saved mode restored.
func (s *Session) Suspend() error {
	_, werr := io.WriteString(s.out, Exit)
	return errors.Join(werr, unix.IoctlSetTermios(s.fd, unix.TCSETS, &s.saved))
}

// Resume takes the terminal again after Suspend.
func (s *Session) Resume() error {
	serr := unix.IoctlSetTermios(s.fd, unix.TCSETS, &s.raw)
	_, werr := io.WriteString(s.out, Enter)
	return errors.Join(serr, werr)
}

// Restore writes Exit and puts the terminal mode back. It is safe to call
// more than once and from a deferred function during a panic.
func (s *Session) Restore() error {
	var err error
	s.once.Do(func() {
		_, werr := io.WriteString(s.out, Exit)
		serr := unix.IoctlSetTermios(s.fd, unix.TCSETS, &s.saved)
		s.tty.SetReadDeadline(time.Now())
		select {
		case <-s.done:
		case <-time.After(time.Second):
		}
		s.tty.Close()
		err = errors.Join(werr, serr)
		if err != nil {
			err = fmt.Errorf("restore terminal: %w", err)
		}
	})
	return err
}
