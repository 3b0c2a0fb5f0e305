package collect

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lmn-heal/lmn/internal/generations"
	"github.com/lmn-heal/lmn/internal/generations/gentest"
	"github.com/lmn-heal/lmn/internal/record"
)

func nixCollector(r *gentest.Root, rec string) (*Collector, *bytes.Buffer) {
	var log bytes.Buffer
	c := &Collector{nix: nixReader{root: r.Nix, run: r.Run, record: rec},
		warn: warner{log: slog.New(slog.NewTextHandler(&log, nil)), active: map[string]bool{}}}
	return c, &log
}

// kernel gives generation n's store path a kernel link to the kernel k.
func kernel(t *testing.T, r *gentest.Root, n int, k string) {
	t.Helper()
	if err := os.Symlink("/nix/store/"+k+"/bzImage", filepath.Join(r.StorePath(n), "kernel")); err != nil {
		t.Fatal(err)
	}
}

// TestNixTellsSwitchTestAndReboot: the nix group says what the profile,
// /run/current-system and /run/booted-system point to, so that a switch
// (the profile and what runs move together), a test (what runs moves
// alone) and a new kernel waiting for a reboot are told apart.
func TestNixTellsSwitchTestAndReboot(t *testing.T) {
	r := gentest.New(t)
	r.Add(t, 1, "")
	r.Add(t, 2, "")
	kernel(t, r, 1, "k1-linux-6.6.60")
	kernel(t, r, 2, "k1-linux-6.6.60")
	r.SetProfile(t, 1)
	r.SetRunning(t, 1)
	r.SetBooted(t, 1)
	c, log := nixCollector(r, "")
	read := func() record.Nix {
		t.Helper()
		g := c.nixGroup()
		if g == nil {
			t.Fatalf("no nix group: %s", log)
		}
		return *g
	}
	if g := read(); g.SystemGeneration != 1 || g.CurrentGeneration != 1 || g.System != r.StorePath(1) ||
		g.CurrentSystem != r.StorePath(1) || g.BootedSystem != r.StorePath(1) || g.RebootPending || g.Generations != 2 {
		t.Errorf("booted generation 1: %+v", g)
	}
	r.SetRunning(t, 2) // nixos-rebuild test: the profile stays
	if g := read(); g.SystemGeneration != 1 || g.CurrentGeneration != 2 || g.CurrentSystem != r.StorePath(2) || g.RebootPending {
		t.Errorf("a test of generation 2: %+v", g)
	}
	r.SetProfile(t, 2) // nixos-rebuild switch
	if g := read(); g.SystemGeneration != 2 || g.CurrentGeneration != 2 || g.System != g.CurrentSystem {
		t.Errorf("a switch to generation 2: %+v", g)
	}
	// A system that is no generation of the profile (a test of a new
	// configuration) has no current generation.
	other := filepath.Join(r.Nix, "store", "zzz-nixos-system-test")
	os.MkdirAll(other, 0o755)
	os.Remove(filepath.Join(r.Run, "current-system"))
	os.Symlink(other, filepath.Join(r.Run, "current-system"))
	if g := read(); g.CurrentGeneration != 0 || g.CurrentSystem != other {
		t.Errorf("a test of a configuration outside the profile: %+v", g)
	}
	// Generation 3 brings a new kernel: pending until it boots.
	r.Add(t, 3, "")
	kernel(t, r, 3, "k2-linux-6.6.62")
	r.SetProfile(t, 3)
	r.SetRunning(t, 3)
	if g := read(); g.SystemGeneration != 3 || g.Generations != 3 || !g.RebootPending {
		t.Errorf("a switch to a new kernel: %+v", g)
	}
	r.SetBooted(t, 3)
	if g := read(); g.RebootPending {
		t.Errorf("booted the new kernel: %+v", g)
	}
	if log.Len() != 0 {
		t.Errorf("warnings: %s", log)
	}
}

// TestNixRecord: lmn-privd's record of generations is in the group; a
// missing file is no record, and a bad one is warned of and left out,
// the rest of the group kept.
func TestNixRecord(t *testing.T) {
	r := gentest.New(t)
	r.Add(t, 1, "")
	r.Add(t, 2, "")
	r.SetProfile(t, 1)
	r.SetRunning(t, 1)
	path := filepath.Join(r.Dir, "generations.json")
	c, log := nixCollector(r, path)
	if g := c.nixGroup(); g == nil || g.KnownGood != nil || g.Rejected != nil {
		t.Fatalf("without a record: %+v", g)
	}
	sys, err := generations.Read(r.Profile, r.Run)
	if err != nil {
		t.Fatal(err)
	}
	err = generations.Update(path, func(rec *generations.Record) error {
		sys.Running = r.StorePath(2)
		rec.NoteRollback(sys, generations.Generation{N: 1, StorePath: r.StorePath(1)}, sys.Generations[0].Made)
		rec.MarkGood(generations.Generation{N: 1, StorePath: r.StorePath(1)}, sys.Generations[0].Made)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	g := c.nixGroup()
	if g == nil || g.KnownGood == nil || g.KnownGood.Generation != 1 || len(g.Rejected) != 1 ||
		g.Rejected[0] != (record.NixSystem{Generation: 2, StorePath: r.StorePath(2)}) {
		t.Fatalf("with a record: %+v", g)
	}
	if err := os.WriteFile(path, []byte(`{"rejected": [{"store_path": "relative"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	g = c.nixGroup()
	if g == nil || g.SystemGeneration != 1 || g.KnownGood != nil || g.Rejected != nil {
		t.Errorf("with a bad record: %+v", g)
	}
	if !strings.Contains(log.String(), "rejected[0].store_path") {
		t.Errorf("the bad record is not warned of by its field: %s", log)
	}
}
