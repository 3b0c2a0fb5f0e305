package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/lmn-heal/lmn/internal/heal"
)

// loadState reads the state file into eng. A missing file is a first
// run; a corrupt one is reported and the run starts fresh.
func loadState(eng *heal.Engine, path string, log *slog.Logger) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err == nil {
		err = eng.LoadState(data)
	}
	if err != nil {
		log.Warn("state file unusable, starting fresh", "file", path, "err", err)
	}
}

// save writes the state file atomically. Called with h.mu held. A dry run
// writes nothing.
func (h *healer) save() {
	h.lastSave = h.cfg.now()
	if h.cfg.stateFile == "" || h.cfg.dryRun {
		return
	}
	data, err := h.eng.MarshalState()
	if err == nil {
		err = writeAtomic(h.cfg.stateFile, data)
	}
	if err != nil {
		h.log.Warn("state not saved", "file", h.cfg.stateFile, "err", err)
	}
}

// writeAtomic writes data to a temporary file beside path, syncs it and
// renames it over path, so a reader sees the old or the new file whole.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write state %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
