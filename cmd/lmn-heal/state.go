package main

import (
	"errors"
	"log/slog"
	"os"

	"github.com/lmn-heal/lmn/internal/heal"
	"github.com/lmn-heal/lmn/internal/statefile"
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
	var repaired *heal.RepairError
	if errors.As(err, &repaired) {
		log.Warn("state clock repaired", "file", path, "err", err)
		return
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
		err = statefile.Write(h.cfg.stateFile, data)
	}
	if err != nil {
		h.log.Warn("state not saved", "file", h.cfg.stateFile, "err", err)
	}
	h.saveErr = err
}
