package action

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// nix_gc deletes old generations of the system profile, but never one a
// rollback needs, then collects the store paths nothing refers to any
// more. nix-collect-garbage --delete-older-than is not used: it deletes
// by age alone, in every profile, and can take the generation the machine
// booted from.

var ageRE = regexp.MustCompile(`^[0-9]{1,5}d$`)

func checkAge(s string) error {
	if !ageRE.MatchString(s) {
		return errors.New("want a number of days, e.g. 14d")
	}
	if n, _ := strconv.Atoi(strings.TrimSuffix(s, "d")); n < 1 {
		return errors.New("at least 1d")
	}
	return nil
}

const (
	defaultGCAge  = "14d"
	defaultGCKeep = 5
	maxGCKeep     = 1000
)

func checkKeep(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxGCKeep {
		return fmt.Errorf("want a whole number of generations from 1 to %d", maxGCKeep)
	}
	return nil
}

// nixTools returns the nix-env and nix-store to run: env's own, else the
// ones beside an absolute NixGC (the NixOS module names the Nix package's
// nix-collect-garbage), else by name on PATH.
func nixTools(env Env) (nixEnv, nixStore []string) {
	beside := func(name string) []string {
		if len(env.NixGC) == 1 && filepath.IsAbs(env.NixGC[0]) {
			return []string{filepath.Join(filepath.Dir(env.NixGC[0]), name)}
		}
		return []string{name}
	}
	nixEnv, nixStore = env.NixEnv, env.NixStore
	if len(nixEnv) == 0 {
		nixEnv = beside("nix-env")
	}
	if len(nixStore) == 0 {
		nixStore = beside("nix-store")
	}
	return nixEnv, nixStore
}

// generation is one generation of a profile: its number, the store path
// its link points at, and when it was made (the link's mtime, as nix-env
// --list-generations shows it).
type generation struct {
	N    int
	Path string
	Made time.Time
}

// nixPlan is what nix_gc deletes, and why it keeps each generation it
// keeps.
type nixPlan struct {
	Delete []int
	Keep   map[int][]string
}

// planNixGC decides which generations of env.NixProfile to delete at now:
// those older than older_than, except the current one (what boots next),
// the booted one and the running one (/run/booted-system and
// /run/current-system), the rollback target (the newest before the
// current) and the newest `keep`. A profile it cannot read whole, or whose
// current generation it cannot tell, deletes nothing.
func planNixGC(env Env, p map[string]string, now time.Time) (nixPlan, error) {
	gens, current, err := listGenerations(env.NixProfile)
	if err != nil {
		return nixPlan{}, err
	}
	keepN := defaultGCKeep
	if s, ok := p["keep"]; ok {
		keepN, _ = strconv.Atoi(s)
	}
	age := p["older_than"]
	if age == "" {
		age = defaultGCAge
	}
	days, _ := strconv.Atoi(strings.TrimSuffix(age, "d"))
	plan := nixPlan{Keep: map[int][]string{}}
	keep := func(n int, why string) {
		if n > 0 {
			plan.Keep[n] = append(plan.Keep[n], why)
		}
	}
	keep(current, "current")
	keep(byPath(gens, filepath.Join(env.RunRoot, "booted-system")), "booted")
	keep(byPath(gens, filepath.Join(env.RunRoot, "current-system")), "running")
	for i := len(gens) - 1; i >= 0; i-- {
		if gens[i].N < current {
			keep(gens[i].N, "rollback")
			break
		}
	}
	for i := len(gens) - 1; i >= 0 && i >= len(gens)-keepN; i-- {
		keep(gens[i].N, "newest "+strconv.Itoa(keepN))
	}
	cut := now.Add(-time.Duration(days) * 24 * time.Hour)
	for _, g := range gens {
		switch {
		case plan.Keep[g.N] != nil:
		case g.Made.Before(cut):
			plan.Delete = append(plan.Delete, g.N)
		default:
			keep(g.N, "younger than "+age)
		}
	}
	return plan, nil
}

// listGenerations reads profile's generation links (profile-N-link beside
// it), oldest first, and the number of the one profile points at.
func listGenerations(profile string) ([]generation, int, error) {
	cur, err := os.Readlink(profile)
	if err != nil {
		return nil, 0, fmt.Errorf("profile %s: %w", profile, err)
	}
	name := filepath.Base(profile)
	current := generationNumber(filepath.Base(cur), name)
	if current == 0 {
		return nil, 0, fmt.Errorf("profile %s points at %q, not a generation: nothing is deleted", profile, cur)
	}
	dir := filepath.Dir(profile)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("profile %s: %w", profile, err)
	}
	var gens []generation
	for _, e := range entries {
		n := generationNumber(e.Name(), name)
		if n == 0 {
			continue
		}
		link := filepath.Join(dir, e.Name())
		target, err := os.Readlink(link)
		if err != nil {
			return nil, 0, fmt.Errorf("generation %d: %w", n, err)
		}
		fi, err := os.Lstat(link)
		if err != nil {
			return nil, 0, fmt.Errorf("generation %d: %w", n, err)
		}
		gens = append(gens, generation{N: n, Path: target, Made: fi.ModTime()})
	}
	slices.SortFunc(gens, func(a, b generation) int { return a.N - b.N })
	return gens, current, nil
}

// generationNumber returns N for "profile-N-link", else 0.
func generationNumber(file, profile string) int {
	s, ok := strings.CutPrefix(file, profile+"-")
	if !ok {
		return 0
	}
	s, ok = strings.CutSuffix(s, "-link")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0
	}
	return n
}

// byPath returns the generation whose store path the link at link points
// at, or 0.
func byPath(gens []generation, link string) int {
	target, err := os.Readlink(link)
	if err != nil {
		return 0
	}
	for _, g := range gens {
		if g.Path == target {
			return g.N
		}
	}
	return 0
}

// kept describes the kept generations: "7 (running, rollback), 8 (current)".
func (p nixPlan) kept() string {
	ns := make([]int, 0, len(p.Keep))
	for n := range p.Keep {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = fmt.Sprintf("%d (%s)", n, strings.Join(p.Keep[n], ", "))
	}
	return strings.Join(parts, ", ")
}

func (p nixPlan) deleteArgs(env Env) []string {
	args := []string{"--profile", env.NixProfile, "--delete-generations"}
	for _, n := range p.Delete {
		args = append(args, strconv.Itoa(n))
	}
	return with(env.NixEnv, args...)
}

func runNixGC(ctx context.Context, env Env, p map[string]string) (Result, error) {
	plan, err := planNixGC(env, p, time.Now())
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrFailed, err)
	}
	var out []string
	if len(plan.Delete) > 0 {
		if o, err := runCommand(ctx, env, plan.deleteArgs(env)); err != nil {
			return Result{Output: o}, err
		}
		out = append(out, fmt.Sprintf("deleted generations %v", plan.Delete))
	} else {
		out = append(out, "no generation to delete")
	}
	out = append(out, "kept "+plan.kept())
	o, err := runCommand(ctx, env, with(env.NixStore, "--gc"))
	if lines := strings.Split(strings.TrimSpace(o), "\n"); lines[len(lines)-1] != "" {
		out = append(out, lines[len(lines)-1])
	}
	return Result{Output: strings.Join(out, "; ")}, err
}

// nixGCCommand is what nix_gc would run now, for advice: the generations
// it would delete, then the collection.
func nixGCCommand(env Env, p map[string]string) string {
	gc := shellJoin(with(env.NixStore, "--gc")...)
	plan, err := planNixGC(env, p, time.Now())
	if err != nil || len(plan.Delete) == 0 {
		return gc
	}
	return shellJoin(plan.deleteArgs(env)...) + " && " + gc
}

func init() {
	register(&definition{
		spec: Spec{Name: "nix_gc", Timeout: 30 * time.Minute, Destructive: true,
			Doc: "delete system generations older than AGE, except the current, booted, running and rollback ones " +
				"and the newest KEEP (nix-env --delete-generations), then nix-store --gc",
			Params: []Param{
				{Name: "older_than", Doc: "age in days, e.g. 14d (default 14d); younger generations are kept", check: checkAge},
				{Name: "keep", Doc: "the newest generations always kept (default 5, at least 1)", check: checkKeep},
			}},
		run:     runNixGC,
		target:  fixed("nix-store"),
		command: nixGCCommand,
	})
}
