package privd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/generations"
)

func TestGenerationConfig(t *testing.T) {
	env := DefaultConfig().ActionEnv()
	if env.NixProfile != "/nix/var/nix/profiles/system" || env.RunRoot != "/run" || env.Generations != generations.DefaultPolicy() || env.SystemdRun[0] != "systemd-run" {
		t.Errorf("defaults: profile %s run %s %+v %v", env.NixProfile, env.RunRoot, env.Generations, env.SystemdRun)
	}
	c, err := ParseConfig("t.json", []byte(`{"env":{"nix_root":"/tmp/nix"}}`))
	if err != nil || c.ActionEnv().NixProfile != "/tmp/nix/var/nix/profiles/system" {
		t.Errorf("nix_root: %v", err)
	}
	// Empty: the defaults, as for the other roots.
	c, err = ParseConfig("t.json", []byte(`{"env":{"nix_root":"","run_root":"","systemd_run":[]}}`))
	if err != nil || c.ActionEnv().NixProfile != "" {
		t.Errorf("empty roots: %v", err)
	}
	for in, field := range map[string]string{
		`{"generations":{"record":"generations.json"}}`: "generations.record",
		`{"generations":{"max_per_day":99}}`:            "generations.max_per_day",
		`{"env":{"nix_root":"nix"}}`:                    "env.nix_root",
		`{"env":{"run_root":"run"}}`:                    "env.run_root",
		`{"env":{"systemd_run":[""]}}`:                  "env.systemd_run",
	} {
		_, err := ParseConfig("t.json", []byte(in))
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != field {
			t.Errorf("%s: %v, want field %s", in, err, field)
		}
	}
}

// The status line says what the record holds, for `systemctl status`.
func TestGenerationStatus(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Generations.Record = filepath.Join(t.TempDir(), "generations.json")
	s := &Server{cfg: cfg}
	if got := s.generationStatus(); got != "" {
		t.Errorf("empty record: %q", got)
	}
	generations.Update(cfg.Generations.Record, func(r *generations.Record) error {
		r.Rejected = append(r.Rejected, generations.Rejection{Generation: 7, StorePath: "/nix/store/x"})
		r.MarkGood(generations.Generation{N: 6, StorePath: "/nix/store/y"}, time.Now())
		return nil
	})
	if got := s.generationStatus(); got != "; 1 generations rejected, generation 6 known good" {
		t.Errorf("status %q", got)
	}
	os.WriteFile(cfg.Generations.Record, []byte("{"), 0o644)
	if got := s.generationStatus(); !strings.Contains(got, "unreadable") {
		t.Errorf("bad record: %q", got)
	}
}
