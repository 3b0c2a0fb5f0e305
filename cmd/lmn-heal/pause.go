package main

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/lmn-heal/lmn/internal/heal"
)

// How lmn-heal notices the pause file: a record looks for it if the last
// look is older than pauseRecheck (a stat per record at most every 50 ms,
// nothing on a replay's hot path); between records a ticker looks every
// pauseEvery; and an action about to start looks once more itself, so
// none starts after the file appears.
const (
	pauseEvery   = 250 * time.Millisecond
	pauseRecheck = 50 * time.Millisecond
)

// readPause returns the pause the file says, or nil when there is none.
// A file that exists but cannot be read still pauses: when in doubt, lmn
// does nothing.
func readPause(path string) *heal.Pause {
	if path == "" {
		return nil
	}
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	p := &heal.Pause{File: path}
	if err != nil {
		p.Reason = "cannot read it: " + err.Error()
		return p
	}
	p.Since = fi.ModTime()
	if f, err := os.Open(path); err == nil {
		b, _ := io.ReadAll(io.LimitReader(f, 200))
		f.Close()
		p.Reason = strings.Join(strings.Fields(string(b)), " ")
	}
	return p
}

// watchPause follows the pause file until ctx is done: the engine pauses
// when it appears and resumes, starting what was held, when it goes.
func (h *healer) watchPause(ctx context.Context) {
	t := time.NewTicker(h.cfg.pauseEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.checkPause()
		}
	}
}

func (h *healer) checkPause() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pauseLocked()
}

// pauseLocked looks at the pause file and tells the engine when it
// changed. Called with h.mu held.
func (h *healer) pauseLocked() {
	h.pauseChecked = time.Now()
	p := readPause(h.cfg.pauseFile)
	if was := h.eng.Paused(); (p == nil) == (was == nil) && (p == nil || p.Reason == was.Reason) {
		return
	}
	if p != nil {
		h.log.Warn("healing paused", "file", p.File, "reason", p.Reason)
	} else {
		h.log.Info("healing resumed", "file", h.cfg.pauseFile)
	}
	h.eng.SetPause(p)
	if err := h.flushEngine(false); err != nil {
		h.log.Warn("write", "err", err)
	}
	h.out.Flush()
}

// heldBack reports whether job must not run because the pause file
// exists now, and if so gives it back to the engine. Called with h.mu
// held.
func (h *healer) heldBack(job heal.Job) bool {
	p := readPause(h.cfg.pauseFile)
	if p == nil {
		return false
	}
	h.eng.Hold(job.ID, p)
	if err := h.flushEngine(false); err != nil {
		h.log.Warn("write", "err", err)
	}
	return true
}
