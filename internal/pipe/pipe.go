// Package pipe is a stage's place in an interactive pipe such as
// `lmn-collect | lmn-detect | lmn-heal | lmn-dash`: it notices at once that
// the stage's downstream has gone (Watch), and keeps the stage's
// diagnostics off a terminal that a full-screen program holds (Hold).
//
// Without Watch a stage learns that nobody reads its stdout only at its
// next write, which for lmn-collect at --interval 30s is up to 30 s after
// the user pressed q, and every stage upstream waits its turn after it.
// Without Hold the warnings of the stages are drawn onto lmn-dash's
// alternate screen and lost when it closes.
package pipe

import (
	"context"
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// Watch returns a context that is also cancelled once nothing can read f
// any more: f is the write end of a pipe whose every read end is closed.
// The kernel reports that as POLLERR on the write end, so a stage waiting
// for its next tick or a quiet input ends then, not at its next write.
// Only pipes are watched; for anything else the context is parent's. Call
// the returned function once the context is no longer needed.
func Watch(parent context.Context, f *os.File) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return ctx, cancel
	}
	var fd int
	if sc, err := f.SyscallConn(); err != nil || sc.Control(func(d uintptr) { fd = int(d) }) != nil {
		return ctx, cancel
	}
	// wake ends the poll when the context ends first, so the goroutine
	// does not outlive it.
	var wake [2]int
	if err := unix.Pipe2(wake[:], unix.O_CLOEXEC); err != nil {
		return ctx, cancel
	}
	woken := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		unix.Write(wake[1], []byte{0})
		close(woken)
	})
	go func() {
		defer unix.Close(wake[0])
		defer unix.Close(wake[1])
		gone := readerGone(fd, wake[0])
		// wake closes only once the write to it is done or will never
		// happen: a write after the close could land in whatever file
		// took the descriptor's number.
		if !stop() {
			<-woken
		}
		if gone {
			cancel()
		}
	}()
	return ctx, cancel
}

// readerGone waits until the pipe fd has no reader (true) or wake is
// readable (false).
func readerGone(fd, wake int) bool {
	fds := []unix.PollFd{{Fd: int32(fd)}, {Fd: int32(wake), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false
		}
		if fds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
			return fds[0].Revents&unix.POLLNVAL == 0
		}
		if fds[1].Revents != 0 {
			return false
		}
	}
}

// Stage is what every binary of the pipe wraps around its run: a context
// that also ends when nothing reads stdout any more (Watch), and stderr
// held while a full-screen program has the terminal (Hold). Call end
// before exiting: it writes what is held.
func Stage(ctx context.Context, stdout, stderr *os.File) (_ context.Context, log *Log, end func()) {
	ctx, cancel := Watch(ctx, stdout)
	log = Hold(stderr)
	return ctx, log, func() {
		cancel()
		log.Flush()
	}
}
