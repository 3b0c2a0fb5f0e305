package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"

	"github.com/lmn-heal/lmn/internal/dash"
	"github.com/lmn-heal/lmn/internal/dash/frame"
	"github.com/lmn-heal/lmn/internal/dash/metrics"
	"github.com/lmn-heal/lmn/internal/dash/term"
	"github.com/lmn-heal/lmn/internal/record"
)

// run is lmn-dash without the process: tests call it.
func run(ctx context.Context, cfg config, stdin io.Reader, stdout, stderr io.Writer) int {
	logs := newLogBuffer(stderr)
	log := slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	live := dash.NewLive()
	served := make(chan error, 1)
	if cfg.listen != "" {
		ln, err := net.Listen("tcp", cfg.listen)
		if err != nil {
			log.Error("metrics: listen", "addr", cfg.listen, "err", err)
			return 1
		}
		log.Info("serving metrics", "addr", ln.Addr().String())
		if cfg.onListen != nil {
			cfg.onListen(ln.Addr().String())
		}
		go func() { served <- metrics.Serve(ctx, ln, metrics.Handler(live, version, cfg.now)) }()
	}

	rd := startReader(stdin, live, log)
	var code int
	switch out := terminalOf(stdout); {
	case cfg.headless:
		code = waitHeadless(ctx, rd, served, log)
	case cfg.once:
		code = once(ctx, cfg, rd, live, stdout, out, log)
	case out != nil && !cfg.simplePreferred():
		code = rich(ctx, cfg, rd, live, out, logs, log)
	default:
		code = simple(ctx, cfg, rd, live, stdout, out, log)
	}
	cancel()
	if cfg.listen != "" {
		if err := <-served; err != nil && code == 0 {
			log.Error("metrics", "err", err)
			code = 1
		}
	}
	return code
}

// simplePreferred reports whether the user asked for plain output.
func (c config) simplePreferred() bool {
	return c.simple || c.getenv("NO_COLOR") != "" || c.getenv("TERM") == "dumb"
}

// terminalOf returns stdout as a file if it is a terminal.
func terminalOf(w io.Writer) *os.File {
	if f, ok := w.(*os.File); ok && term.IsTerminal(f.Fd()) {
		return f
	}
	return nil
}

// reader feeds the model from the stream in its own goroutine, so drawing
// never holds up the pipe.
type reader struct {
	done     chan struct{}
	err      error // set before done closes; nil at end of input
	panicked chan any
}

func startReader(in io.Reader, live *dash.Live, log *slog.Logger) *reader {
	rd := &reader{done: make(chan struct{}), panicked: make(chan any, 1)}
	go func() {
		defer func() {
			if p := recover(); p != nil {
				rd.panicked <- p // re-raised on the main goroutine, which restores the terminal
			}
		}()
		r := record.NewReader(in, nil)
		r.OnReject = func(err error) {
			live.SetRejected(r.Rejected()) // the header counts it before the log line shows
			log.Warn("rejected line", "err", err)
		}
		for {
			line, err := r.Next()
			if err != nil {
				live.SetRejected(r.Rejected())
				if !errors.Is(err, io.EOF) && !record.Stopped(err) {
					rd.err = fmt.Errorf("read stdin: %w", err)
				}
				close(rd.done)
				return
			}
			if err := live.Apply(line, r.Rejected()); err != nil {
				log.Warn("invalid record", "line", line.N, "err", err)
			}
		}
	}()
	return rd
}

// result turns the reader's end into an exit code; call it only after done
// is closed.
func (rd *reader) result(log *slog.Logger) int {
	if rd.err != nil {
		log.Error("input", "err", rd.err)
		return 1
	}
	return 0
}

func waitHeadless(ctx context.Context, rd *reader, served chan error, log *slog.Logger) int {
	select {
	case <-ctx.Done():
		return 0
	case p := <-rd.panicked:
		panic(p)
	case <-rd.done:
		log.Info("end of input")
		return rd.result(log)
	case err := <-served:
		served <- err
		return 1
	}
}

// size is the frame size: the terminal's, else COLUMNS wide (default 80)
// and as tall as the content.
func size(cfg config, out *os.File) (int, int) {
	if out != nil {
		if w, h, err := term.Size(out.Fd()); err == nil {
			return w, h
		}
	}
	if n, err := strconv.Atoi(cfg.getenv("COLUMNS")); err == nil && n > 0 {
		return n, 0
	}
	return 80, 0
}

func once(ctx context.Context, cfg config, rd *reader, live *dash.Live, stdout io.Writer, out *os.File, log *slog.Logger) int {
	ended := false
	select {
	case <-ctx.Done():
	case p := <-rd.panicked:
		panic(p)
	case <-rd.done:
		ended = true
	}
	w, _ := size(cfg, out)
	o := frame.Options{Width: w, Rich: out != nil && !cfg.simplePreferred(), Now: cfg.now(), Ended: true}
	var buf []byte
	live.View(func(m *dash.Model) { buf = frame.Render(nil, m, o) })
	buf = append(buf, '\n')
	if _, err := stdout.Write(buf); err != nil {
		return writeFailed(err, log)
	}
	if !ended {
		return 0
	}
	return rd.result(log)
}
