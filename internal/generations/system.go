// Package generations is lmn's view of a NixOS machine's system
// generations: the links of the system profile, what /run/current-system
// and /run/booted-system point to, the one switch lmn makes between them,
// and lmn's record of what it judged (the generations it rejected, the
// rollbacks it made, the last one known good).
//
// lmn-privd's switch_generation and mark_generation_good write through this
// package, and whatever else needs these facts (a garbage collection that
// must keep the known-good generation, lmn-collect) reads them here, so
// "the current generation" or "the last known-good one" means one thing.
//
// A profile is a symlink "system" -> "system-42-link" in its directory,
// each "system-N-link" -> a store path; the same layout under any root, so
// tests use a temporary tree.
package generations

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Generation is one generation of the system profile.
type Generation struct {
	N         int
	StorePath string    // where its link points
	Made      time.Time // the link's modification time (nix-env --list-generations)
}

// System is what the system profile and the run directory say, read at
// one moment.
type System struct {
	// Profile is the profile link, e.g. /nix/var/nix/profiles/system.
	Profile string
	// Generations are the profile's generations, oldest first.
	Generations []Generation
	// Current is the generation the profile points to: what boots next
	// and what a rollback starts from. 0 when it points at something else.
	Current int
	// Running and Booted are the store paths /run/current-system and
	// /run/booted-system point to; "" when absent.
	Running, Booted string
}

// maxDigits bounds a generation number (Nix's are ints).
const maxDigits = 9

// Number returns N for the link name "<base>-N-link", else 0. N is decimal
// without a sign or leading zeros, as Nix writes it.
func Number(name, base string) int {
	if len(name) < len(base)+len("--link") || name[:len(base)] != base || name[len(base)] != '-' {
		return 0
	}
	s := name[len(base)+1:]
	if len(s) < len("-link") || s[len(s)-len("-link"):] != "-link" {
		return 0
	}
	s = s[:len(s)-len("-link")]
	if len(s) == 0 || len(s) > maxDigits || s[0] == '0' {
		return 0
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// Read reads the profile's generations and the run directory's
// current-system and booted-system links. A profile that is missing, or a
// generation link that cannot be read, is an error: nothing may be
// decided on half a list.
func Read(profile, runRoot string) (System, error) {
	s := System{Profile: profile}
	dir, base := filepath.Split(profile)
	cur, err := os.Readlink(profile)
	if err != nil {
		return s, fmt.Errorf("system profile %s: %w", profile, err)
	}
	s.Current = Number(filepath.Base(cur), base)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return s, fmt.Errorf("system profile %s: %w", profile, err)
	}
	for _, e := range entries {
		n := Number(e.Name(), base)
		if n == 0 {
			continue
		}
		g, err := readLink(filepath.Join(dir, e.Name()), n)
		if err != nil {
			return s, err
		}
		s.Generations = append(s.Generations, g)
	}
	slices.SortFunc(s.Generations, func(a, b Generation) int { return a.N - b.N })
	s.Running = target(filepath.Join(runRoot, "current-system"))
	s.Booted = target(filepath.Join(runRoot, "booted-system"))
	return s, nil
}

func readLink(link string, n int) (Generation, error) {
	fi, err := os.Lstat(link)
	if err != nil {
		return Generation{}, fmt.Errorf("generation %d: %w", n, err)
	}
	t, err := os.Readlink(link)
	if err != nil {
		return Generation{}, fmt.Errorf("generation %d: %w", n, err)
	}
	return Generation{N: n, StorePath: resolve(link, t), Made: fi.ModTime()}, nil
}

// target is where link points, made absolute; "" when it is not a link.
func target(link string) string {
	t, err := os.Readlink(link)
	if err != nil {
		return ""
	}
	return resolve(link, t)
}

func resolve(link, t string) string {
	if !filepath.IsAbs(t) {
		t = filepath.Join(filepath.Dir(link), t)
	}
	return filepath.Clean(t)
}

// Find returns generation n.
func (s System) Find(n int) (Generation, bool) {
	i := slices.IndexFunc(s.Generations, func(g Generation) bool { return g.N == n })
	if i < 0 {
		return Generation{}, false
	}
	return s.Generations[i], true
}

// ByPath returns the newest generation whose link points at storePath.
func (s System) ByPath(storePath string) (Generation, bool) {
	for i := len(s.Generations) - 1; i >= 0; i-- {
		if storePath != "" && s.Generations[i].StorePath == storePath {
			return s.Generations[i], true
		}
	}
	return Generation{}, false
}

// RunningGeneration is the generation /run/current-system is, or 0 (a
// `nixos-rebuild test` of a configuration never added to the profile).
func (s System) RunningGeneration() int {
	g, _ := s.ByPath(s.Running)
	return g.N
}

// Link is the path of generation n's link.
func (s System) Link(n int) string {
	return filepath.Join(filepath.Dir(s.Profile), filepath.Base(s.Profile)+"-"+strconv.Itoa(n)+"-link")
}

// Activation is generation g's switch-to-configuration, checked to be an
// executable file: a link whose store path was collected is no generation
// to switch to.
func (g Generation) Activation() (string, error) {
	p := filepath.Join(g.StorePath, "bin", "switch-to-configuration")
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("generation %d: its store path %s has no bin/switch-to-configuration (collected, or not a NixOS system)", g.N, g.StorePath)
	case err != nil:
		return "", fmt.Errorf("generation %d: %w", g.N, err)
	case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
		return "", fmt.Errorf("generation %d: %s is not an executable file", g.N, p)
	}
	return p, nil
}
