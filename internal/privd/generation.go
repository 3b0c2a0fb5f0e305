package privd

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/lmn-heal/lmn/internal/config"
	"github.com/lmn-heal/lmn/internal/generations"
)

// lmn-privd keeps the record of system generations (internal/generations)
// that switch_generation and mark_generation_good write: it runs as root
// and owns its state directory. The record is world-readable, so
// lmn-collect can put it in the stream.

// DefaultNixRoot is the Nix root on a real machine; tests name a
// temporary one (env.nix_root), as lmn-collect's --nix-root.
const DefaultNixRoot = "/nix"

// nixProfile is the system profile under a Nix root; "" (no root given)
// leaves the action's default, /nix's.
func nixProfile(root string) string {
	if root == "" {
		return ""
	}
	return filepath.Join(root, "var", "nix", "profiles", "system")
}

func (c Config) validateGenerations() error {
	if err := c.Generations.Validate(); err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			return &ConfigError{Field: "generations." + ce.Field, Err: ce.Err}
		}
		return &ConfigError{Field: "generations", Err: err}
	}
	// Empty roots and command take the defaults, as the other env fields'
	// roots do in internal/action.
	for field, p := range map[string]string{"env.nix_root": c.Env.NixRoot, "env.run_root": c.Env.RunRoot} {
		if p != "" && !filepath.IsAbs(p) {
			return &ConfigError{Field: field, Err: fmt.Errorf("%q is not an absolute path", p)}
		}
	}
	if len(c.Env.SystemdRun) > 0 && c.Env.SystemdRun[0] == "" {
		return &ConfigError{Field: "env.systemd_run", Err: errors.New("empty command")}
	}
	return nil
}

// generationStatus is the record's part of the status line: how many
// generations lmn rejected, and which one is known good; nothing on a
// machine where lmn never judged one.
func (s *Server) generationStatus() string {
	if s.cfg.Generations.Record == "" {
		return ""
	}
	rec, err := generations.Load(s.cfg.Generations.Record)
	if err != nil {
		return "; generations record unreadable"
	}
	var st []string
	if n := len(rec.Rejected); n > 0 {
		st = append(st, fmt.Sprintf("%d generations rejected", n))
	}
	if k := rec.KnownGood; k != nil {
		st = append(st, fmt.Sprintf("generation %d known good", k.Generation))
	}
	if len(st) == 0 {
		return ""
	}
	return "; " + strings.Join(st, ", ")
}
