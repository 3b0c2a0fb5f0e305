package record

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// NotifyContext returns a context cancelled on SIGINT or SIGTERM. It also
// ignores SIGPIPE, so a write to a closed downstream returns EPIPE (see
// IsBrokenPipe) instead of killing the process.
func NotifyContext(parent context.Context) (context.Context, context.CancelFunc) {
	signal.Ignore(syscall.SIGPIPE)
	return signal.NotifyContext(parent, syscall.SIGINT, syscall.SIGTERM)
}

// Input returns a reader over f whose blocking reads end with
// os.ErrDeadlineExceeded once ctx is done, so a signal stops a binary that
// waits on a quiet pipe. Only pipes need this: reads of regular files do not
// block. The returned function undoes the change to f's file status flags.
func Input(ctx context.Context, f *os.File) (io.Reader, func()) {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return f, func() {}
	}
	fd := int(f.Fd())
	if err := syscall.SetNonblock(fd, true); err != nil {
		return f, func() {}
	}
	// A non-blocking descriptor goes through the runtime poller, which
	// supports read deadlines.
	nf := os.NewFile(uintptr(fd), f.Name())
	stop := context.AfterFunc(ctx, func() { nf.SetReadDeadline(time.Now()) })
	return nf, func() {
		stop()
		syscall.SetNonblock(fd, false)
	}
}

// Stopped reports whether err is how a read ends after Input's context is
// done.
func Stopped(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}
