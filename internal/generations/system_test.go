package generations_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lmn-heal/lmn/internal/generations"
	"github.com/lmn-heal/lmn/internal/generations/gentest"
)

func TestNumber(t *testing.T) {
	for name, want := range map[string]int{
		"system-1-link": 1, "system-42-link": 42, "system-999999999-link": 999999999,
		"system-0-link": 0, "system-01-link": 0, "system--1-link": 0, "system-1": 0, "system-link": 0,
		"system-1-link.tmp": 0, "other-1-link": 0, "system-1a-link": 0, "system-1000000000-link": 0,
		"system": 0, "": 0, "system--link": 0,
	} {
		if got := generations.Number(name, "system"); got != want {
			t.Errorf("Number(%q) = %d, want %d", name, got, want)
		}
	}
}

func FuzzNumber(f *testing.F) {
	for _, s := range []string{"system-1-link", "system-0-link", "system--link", "system-9999999999-link", "system-1-lin"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		n := generations.Number(name, "system")
		if n < 0 || n > 999999999 {
			t.Fatalf("Number(%q) = %d", name, n)
		}
		if n > 0 && name != "system-"+itoa(n)+"-link" {
			t.Fatalf("Number(%q) = %d, but that generation's link is named otherwise", name, n)
		}
	})
}

func itoa(n int) string {
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// A profile of three generations, 2 current, the machine running 3 after
// a `nixos-rebuild test` and booted from 1: every link is read, and the
// stray files of a profile directory are skipped.
func TestReadSystem(t *testing.T) {
	r := gentest.New(t)
	for n := 1; n <= 3; n++ {
		r.Add(t, n, "")
	}
	r.SetProfile(t, 2)
	r.SetRunning(t, 3)
	r.SetBooted(t, 1)
	for _, junk := range []string{"system.lock", "per-user", "default-1-link", "system-x-link"} {
		os.WriteFile(filepath.Join(filepath.Dir(r.Profile), junk), nil, 0o644)
	}
	sys, err := generations.Read(r.Profile, r.Run)
	if err != nil {
		t.Fatal(err)
	}
	if len(sys.Generations) != 3 || sys.Generations[0].N != 1 || sys.Generations[2].N != 3 {
		t.Fatalf("generations %+v", sys.Generations)
	}
	if sys.Current != 2 || sys.Running != r.StorePath(3) || sys.Booted != r.StorePath(1) || sys.RunningGeneration() != 3 {
		t.Errorf("current %d running %q (%d) booted %q", sys.Current, sys.Running, sys.RunningGeneration(), sys.Booted)
	}
	if g, ok := sys.Find(2); !ok || g.StorePath != r.StorePath(2) || g.Made.IsZero() {
		t.Errorf("Find(2) = %+v, %v", g, ok)
	}
	if _, ok := sys.Find(4); ok {
		t.Error("Find(4) found a generation")
	}
	if sys.Link(2) != r.Profile+"-2-link" {
		t.Errorf("Link(2) = %s", sys.Link(2))
	}
	if p, err := sys.Generations[0].Activation(); err != nil || p != filepath.Join(r.StorePath(1), "bin/switch-to-configuration") {
		t.Errorf("Activation = %q, %v", p, err)
	}
}

func TestReadSystemRefusesWhatItCannotRead(t *testing.T) {
	r := gentest.New(t)
	if _, err := generations.Read(r.Profile, r.Run); err == nil || !strings.Contains(err.Error(), r.Profile) {
		t.Errorf("no profile: %v", err)
	}
	r.Add(t, 1, "")
	r.SetProfile(t, 1)
	sys, err := generations.Read(r.Profile, r.Run)
	if err != nil || sys.Running != "" || sys.RunningGeneration() != 0 {
		t.Errorf("no run links: %+v %v", sys, err)
	}
	// A link whose store path was collected is listed, but is nothing to
	// switch to.
	os.RemoveAll(r.StorePath(1))
	if _, err := sys.Generations[0].Activation(); err == nil || !strings.Contains(err.Error(), "collected") {
		t.Errorf("collected store path: %v", err)
	}
}

func TestSwitchProfile(t *testing.T) {
	r := gentest.New(t)
	r.Add(t, 1, "")
	r.Add(t, 2, "")
	r.SetProfile(t, 2)
	sys, err := generations.Read(r.Profile, r.Run)
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.SwitchProfile(1); err != nil {
		t.Fatal(err)
	}
	if got := r.ProfileTarget(t); got != "system-1-link" {
		t.Errorf("profile -> %q, want the relative system-1-link nix-env writes", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(r.Profile))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "system system-1-link system-2-link" {
		t.Errorf("profile directory holds %v: a temporary link or lock file was left", names)
	}
	// sys still says 2 is current: the profile moved since, so nothing is done.
	if err := sys.SwitchProfile(2); !errors.Is(err, generations.ErrChanged) || r.ProfileTarget(t) != "system-1-link" {
		t.Errorf("stale view: %v, profile %s", err, r.ProfileTarget(t))
	}
	if err := sys.SwitchProfile(7); err == nil {
		t.Error("switched to a generation that is not there")
	}
}
