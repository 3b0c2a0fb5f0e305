package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lmn-heal/lmn/internal/dash"
	"github.com/lmn-heal/lmn/internal/dash/frame"
	"github.com/lmn-heal/lmn/internal/dash/term"
	"github.com/lmn-heal/lmn/internal/record"
)

// drawer draws at most maxFPS frames a second, and only when something
// changed. Records keep flowing into the model while a slow terminal takes
// a frame; the next frame shows the latest state, so frames are dropped,
// never records.
type drawer struct {
	min   time.Duration
	last  time.Time
	dirty bool
	timer *time.Timer
}

func newDrawer(maxFPS int) *drawer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &drawer{min: time.Second / time.Duration(max(maxFPS, 1)), timer: t, dirty: true}
}

// due reports whether to draw now; if not, it arms the timer for when.
func (d *drawer) due() bool {
	if !d.dirty {
		return false
	}
	if wait := d.min - time.Since(d.last); wait > 0 {
		d.timer.Reset(wait)
		return false
	}
	d.dirty = false
	d.last = time.Now()
	return true
}

func rich(ctx context.Context, cfg config, rd *reader, live *dash.Live, out *os.File, logs *logBuffer, log *slog.Logger) int {
	sess, err := term.Start(cfg.tty, out)
	if err != nil {
		log.Warn("no full-screen terminal, drawing plain frames", "err", err)
		return simple(ctx, cfg, rd, live, out, out, log)
	}
	logs.hold()
	defer logs.release()
	defer sess.Restore() // runs during a panic too; release prints held logs after
	winch, tstp := make(chan os.Signal, 1), make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	signal.Notify(tstp, unix.SIGTSTP)
	defer signal.Stop(winch)
	defer signal.Stop(tstp)
	tick := time.NewTicker(time.Second) // freshness moves even when the stream is quiet
	defer tick.Stop()

	d := newDrawer(cfg.maxFPS)
	o := frame.Options{Rich: true, CRLF: true}
	o.Width, o.Height = size(cfg, out)
	ended, done := false, rd.done
	var buf []byte
	for {
		if d.due() {
			o.Now, o.Ended = cfg.now(), ended
			live.View(func(m *dash.Model) { buf = frame.Render(append(buf[:0], term.Home...), m, o) })
			if _, err := out.Write(buf); err != nil {
				return writeFailed(err, log)
			}
		}
		select {
		case <-ctx.Done():
			return 0
		case p := <-rd.panicked:
			panic(p)
		case <-done:
			ended, done, d.dirty = true, nil, true
			if rd.err != nil {
				log.Error("input", "err", rd.err)
			}
		case <-live.Changed():
			d.dirty = d.dirty || !o.Paused
		case <-tick.C: // only if no frame came with a record this last second
			d.dirty = d.dirty || (!o.Paused && time.Since(d.last) > 900*time.Millisecond)
		case <-d.timer.C:
		case <-winch:
			o.Width, o.Height = size(cfg, out)
			buf = append(buf[:0], "\x1b[2J"...)
			out.Write(buf)
			d.dirty = true
		case <-tstp:
			suspend(ctx, sess, log)
			o.Width, o.Height = size(cfg, out)
			d.dirty = true
		case k := <-sess.Keys():
			if !key(k, &o) {
				return 0
			}
			d.dirty = true
		}
	}
}

// writeFailed is the exit code after a frame could not be written: a
// closed output (EPIPE) ends lmn-dash quietly, like every lmn binary.
func writeFailed(err error, log *slog.Logger) int {
	if record.IsBrokenPipe(err) {
		return 0
	}
	log.Error("write frame", "err", err)
	return 1
}

// key applies a key press to the frame options; false means quit.
func key(k byte, o *frame.Options) bool {
	switch k {
	case 'q', 'Q', 3: // 3 is Ctrl-C, should the terminal not turn it into SIGINT
		return false
	case 'p', 'P', ' ':
		o.Paused = !o.Paused
	case '?', 'h':
		o.Help = !o.Help
	}
	return true
}

// suspend handles Ctrl-Z: give the terminal back, stop, and take it again
// once continued (fg).
func suspend(ctx context.Context, sess *term.Session, log *slog.Logger) {
	if err := sess.Suspend(); err != nil {
		log.Warn("suspend", "err", err)
	}
	cont := make(chan os.Signal, 1)
	signal.Notify(cont, unix.SIGCONT)
	defer signal.Stop(cont)
	// SIGSTOP cannot be caught; the stop takes effect shortly after kill
	// returns, so wait for the SIGCONT that ends it.
	unix.Kill(os.Getpid(), unix.SIGSTOP)
	select {
	case <-cont:
	case <-ctx.Done():
		return
	}
	if err := sess.Resume(); err != nil {
		log.Warn("resume", "err", err)
	}
}

// simple writes one plain frame once the first sample or event came, then
// only what changes (the header's facts, each new event as a line), at
// most once a second, and a last whole frame at end of input: a frame a second
// would fill the scrollback. No keys are read, so none are listed.
func simple(ctx context.Context, cfg config, rd *reader, live *dash.Live, stdout io.Writer, out *os.File, log *slog.Logger) int {
	d := newDrawer(1)
	d.dirty = false
	o := frame.Options{NoKeys: true}
	var buf []byte
	framed := false // the first whole frame is out
	var summary string
	var seen uint64
	draw := func() error {
		o.Width, o.Height = size(cfg, out)
		o.Now = cfg.now()
		live.View(func(m *dash.Model) {
			switch {
			case !framed && m.Sample == nil && m.EventCount == 0 && !o.Ended:
				buf = buf[:0] // nothing worth a frame yet
			case !framed || o.Ended:
				buf = append(frame.Render(buf[:0], m, o), "\n\n"...)
				framed = true
				_, summary, seen = frame.Changes(nil, m, "", 0)
			default:
				buf, summary, seen = frame.Changes(buf[:0], m, summary, seen)
			}
		})
		if len(buf) == 0 {
			return nil
		}
		_, err := stdout.Write(buf)
		return err
	}
	for {
		if d.due() {
			if err := draw(); err != nil {
				return writeFailed(err, log)
			}
		}
		select {
		case <-ctx.Done():
			return 0
		case p := <-rd.panicked:
			panic(p)
		case <-rd.done:
			o.Ended = true
			if err := draw(); err != nil {
				return writeFailed(err, log)
			}
			return rd.result(log)
		case <-live.Changed():
			d.dirty = true
		case <-d.timer.C:
		}
	}
}

// logBuffer passes log lines to stderr, except while the full-screen
// dashboard holds the terminal: then it keeps the latest ones and prints
// them once the terminal is restored.
type logBuffer struct {
	mu    sync.Mutex
	w     io.Writer
	held  bool
	lines [][]byte
	lost  int
}

func newLogBuffer(w io.Writer) *logBuffer { return &logBuffer{w: w} }

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held {
		return l.w.Write(p)
	}
	if len(l.lines) == 50 {
		l.lines = l.lines[1:]
		l.lost++
	}
	l.lines = append(l.lines, bytes.Clone(p))
	return len(p), nil
}

func (l *logBuffer) hold() {
	l.mu.Lock()
	l.held = true
	l.mu.Unlock()
}

func (l *logBuffer) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held = false
	if l.lost > 0 {
		slog.New(slog.NewTextHandler(l.w, nil)).Warn("log lines dropped while the dashboard was shown", "count", l.lost)
	}
	for _, p := range l.lines {
		l.w.Write(p)
	}
	l.lines, l.lost = nil, 0
}
