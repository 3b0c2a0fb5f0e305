package action

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/generations"
)

// switch_generation and mark_generation_good act on the NixOS system
// generations (internal/generations). switch_generation is lmn's rollback:
// it points the system profile at another generation and runs that
// generation's switch-to-configuration, and records the system it left as
// rejected. mark_generation_good records the running generation as the
// last known-good one, which a garbage collection must keep.
//
// The profile is switched by the atomic symlink change nix-env
// --switch-generation makes (under Nix's profile lock), done here rather
// than by running nix-env: it needs no Nix daemon round trip and no nix-env
// in the broker's sandbox, and it is the same one rename(2) on a test's
// temporary root as on a real machine. The activation runs as a transient
// unit of the service manager (systemd-run --wait), as nixos-rebuild runs
// it, outside lmn-privd's sandbox and process tree: an activation that
// restarts lmn-privd itself must not kill itself half way.

// generationTarget is the target of both actions: one at a time, and
// rate-limited together.
const generationTarget = "system-profile"

// switchTimeout bounds the wait for an activation; the activation itself
// is never interrupted (it runs in its own unit).
const switchTimeout = 10 * time.Minute

// exitUnitsFailed is switch-to-configuration's status when the switch was
// made but some units failed to start: the gate judges those, not this.
const exitUnitsFailed = 4

// PrivdOnly reports whether the named action keeps lmn-privd's record of
// generations, and so runs only through lmn-privd (its socket or `exec`):
// the unprivileged tier never tries it, even as root.
func PrivdOnly(name string) bool {
	return name == "switch_generation" || name == "mark_generation_good"
}

func checkGeneration(s string) error {
	if strings.ContainsAny(s, "/.~") {
		return errors.New("a generation number such as 41, not a path")
	}
	if s == "" || len(s) > 9 || strings.Trim(s, "0123456789") != "" || s[0] == '0' {
		return errors.New("want a generation number such as 41")
	}
	return nil
}

// genPlan is a checked request: the system as read and the generation
// asked for.
type genPlan struct {
	sys        generations.System
	to         generations.Generation
	activation string
}

// planGeneration reads the system and finds the generation p names,
// refusing one that is not in the profile or whose store path is gone.
func planGeneration(env Env, p map[string]string) (genPlan, error) {
	if env.Generations.Record == "" {
		return genPlan{}, fmt.Errorf("%w: no record of rejected generations is kept here (generations.record): this action runs only through lmn-privd", ErrDenied)
	}
	sys, err := generations.Read(env.NixProfile, env.RunRoot)
	if err != nil {
		return genPlan{}, fmt.Errorf("%w: %w", ErrFailed, err)
	}
	n, _ := strconv.Atoi(p["generation"])
	to, ok := sys.Find(n)
	if !ok {
		return genPlan{}, fmt.Errorf("%w: %s", ErrInvalid, missing(sys, n))
	}
	activation, err := to.Activation()
	if err != nil {
		return genPlan{}, fmt.Errorf("%w: generation %d does not exist any more: %w", ErrInvalid, n, err)
	}
	if sys.Running == "" {
		return genPlan{}, fmt.Errorf("%w: cannot tell what runs: %s/current-system is not a link", ErrFailed, env.RunRoot)
	}
	return genPlan{sys: sys, to: to, activation: activation}, nil
}

// missing says why generation n is not in the profile.
func missing(sys generations.System, n int) string {
	gens := sys.Generations
	if len(gens) == 0 {
		return fmt.Sprintf("the profile %s has no generations", sys.Profile)
	}
	if n < gens[0].N || n > gens[len(gens)-1].N {
		return fmt.Sprintf("generation %d is outside the profile's list (%d..%d)", n, gens[0].N, gens[len(gens)-1].N)
	}
	ns := make([]string, len(gens))
	for i, g := range gens {
		ns[i] = strconv.Itoa(g.N)
	}
	return fmt.Sprintf("generation %d does not exist (deleted; the profile has %s)", n, strings.Join(ns, ", "))
}

// checkSwitch refuses the current generation, and, unless a person
// overrides, what the record's bounds refuse.
func checkSwitch(env Env, pl genPlan, rec generations.Record, now time.Time) error {
	if pl.to.StorePath == pl.sys.Running && pl.sys.Current == pl.to.N {
		return fmt.Errorf("%w: generation %d is the current one: it runs and the profile points at it", ErrInvalid, pl.to.N)
	}
	if env.AllowRejected {
		return nil
	}
	if err := rec.Check(pl.sys, pl.to, now, env.Generations.MaxPerDay); err != nil {
		hint := ""
		if errors.Is(err, generations.ErrRejected) {
			hint = fmt.Sprintf("; a person may override: lmn-privd --allow-rejected exec switch_generation generation=%d", pl.to.N)
		}
		return fmt.Errorf("%w: %w%s", ErrDenied, err, hint)
	}
	return nil
}

// planWithRecord is planGeneration and the record as it is now, for
// validation (the actions themselves read it again under its lock).
func planWithRecord(env Env, p map[string]string) (genPlan, generations.Record, error) {
	pl, err := planGeneration(env, p)
	if err != nil {
		return pl, generations.Record{}, err
	}
	rec, err := generations.Load(env.Generations.Record)
	if err != nil {
		return pl, rec, fmt.Errorf("%w: the record of generations cannot be read, so its bounds cannot be kept: %w", ErrFailed, err)
	}
	return pl, rec, nil
}

func validateSwitch(env Env, p map[string]string) error {
	pl, rec, err := planWithRecord(env, p)
	if err != nil {
		return err
	}
	return checkSwitch(env, pl, rec, time.Now())
}

// runSwitchGeneration writes the record first (the running system
// rejected, the rollback counted), as an intent line is written before an
// action: a switch that then fails still counts. Then it switches the
// profile and runs the activation.
func runSwitchGeneration(ctx context.Context, env Env, p map[string]string) (Result, error) {
	var pl genPlan
	var notes []string
	err := generations.Update(env.Generations.Record, func(rec *generations.Record) error {
		var err error
		if pl, err = planGeneration(env, p); err != nil {
			return err
		}
		now := time.Now()
		if err := checkSwitch(env, pl, *rec, now); err != nil {
			return err
		}
		if env.AllowRejected {
			if rec.Vouch(pl.to) {
				notes = append(notes, fmt.Sprintf("rejection of generation %d lifted by a person", pl.to.N))
			}
			return nil
		}
		rec.NoteRollback(pl.sys, pl.to, now)
		notes = append(notes, "rejected "+pl.sys.Running)
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	if err := pl.sys.SwitchProfile(pl.to.N); err != nil {
		return Result{Output: strings.Join(notes, "; ")}, fmt.Errorf("%w: %w", ErrFailed, err)
	}
	notes = append(notes, fmt.Sprintf("profile at generation %d", pl.to.N))
	return activate(ctx, env, pl, notes)
}

// activationUnit names the transient unit an activation runs in.
func activationUnit(n int) string { return "lmn-switch-generation-" + strconv.Itoa(n) + ".service" }

// activate runs the generation's switch-to-configuration in a transient
// unit and waits for it. The unit is Type=simple: its start job is done at
// the fork, so systemd-run --wait always reports how the process ended (its
// exit status, 4 for "some units failed"). With Type=exec a process that
// ended before the job was done failed the job instead, and systemd-run
// said "Job failed" (exit 1) for a switch that was made: a race a quick
// activation lost now and then. A program that cannot be executed still
// fails, with status 203.
func activate(ctx context.Context, env Env, pl genPlan, notes []string) (Result, error) {
	unit := activationUnit(pl.to.N)
	argv := with(env.SystemdRun, "--unit="+unit, "--description=lmn: switch to system generation "+strconv.Itoa(pl.to.N),
		"--service-type=simple", "--wait", "--collect", "--", pl.activation, "switch")
	out, err := runCommand(ctx, env, argv)
	var exit *exec.ExitError
	switch {
	case err == nil:
		notes = append(notes, unit+": switch-to-configuration switch done")
	case ctx.Err() != nil:
		notes = append(notes, unit+" still running: journalctl -u "+unit)
		return Result{Output: strings.Join(notes, "; ")}, fmt.Errorf("%w: waiting for the activation: %w", ErrFailed, err)
	case errors.As(err, &exit) && exit.ExitCode() == exitUnitsFailed:
		notes = append(notes, unit+": switched, some units failed to start (exit 4): the gate judges them")
	default:
		notes = append(notes, "the activation failed: journalctl -u "+unit)
		return Result{Output: strings.Join(notes, "; ")}, fmt.Errorf("%w: %w", ErrFailed, err)
	}
	if out != "" {
		notes = append(notes, out)
	}
	return Result{Output: strings.Join(notes, "; ")}, nil
}

func switchCommand(env Env, p map[string]string) string {
	link := generations.System{Profile: env.NixProfile}.Link(atoi(p["generation"]))
	return shellJoin("nix-env", "--profile", env.NixProfile, "--switch-generation", p["generation"]) + " && " +
		shellJoin(link+"/bin/switch-to-configuration", "switch")
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// checkGood allows only the running generation to be marked, and a
// rejected one only by a person.
func checkGood(env Env, pl genPlan, rec generations.Record) error {
	if pl.to.StorePath != pl.sys.Running {
		return fmt.Errorf("%w: generation %d is not what runs (%s/current-system is %s): only a running system is judged", ErrInvalid, pl.to.N, env.RunRoot, pl.sys.Running)
	}
	if e, ok := rec.Rejection(pl.to.StorePath); ok && !env.AllowRejected {
		return fmt.Errorf("%w: generation %d was rejected at %s: %s", ErrDenied, pl.to.N, e.At.UTC().Format(time.RFC3339), e.Reason)
	}
	return nil
}

func validateGood(env Env, p map[string]string) error {
	pl, rec, err := planWithRecord(env, p)
	if err != nil {
		return err
	}
	return checkGood(env, pl, rec)
}

func runMarkGood(ctx context.Context, env Env, p map[string]string) (Result, error) {
	var pl genPlan
	err := generations.Update(env.Generations.Record, func(rec *generations.Record) error {
		var err error
		if pl, err = planGeneration(env, p); err != nil {
			return err
		}
		if err := checkGood(env, pl, *rec); err != nil {
			return err
		}
		rec.MarkGood(pl.to, time.Now())
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Output: fmt.Sprintf("generation %d (%s) is the last known-good one", pl.to.N, pl.to.StorePath)}, nil
}

func init() {
	param := Param{Name: "generation", Required: true, Doc: "a system generation number, e.g. 41", check: checkGeneration}
	register(&definition{
		spec: Spec{Name: "switch_generation", Timeout: switchTimeout, Params: []Param{param},
			Doc: "roll the system to another generation: record the running one as rejected, point the system profile at " +
				"GENERATION and run its switch-to-configuration switch (systemd-run); never to a rejected generation, " +
				"at most once from any system, at most max_per_day a day"},
		validate: validateSwitch,
		run:      runSwitchGeneration,
		target:   fixed(generationTarget),
		command:  switchCommand,
	})
	register(&definition{
		spec: Spec{Name: "mark_generation_good", Timeout: 10 * time.Second, Params: []Param{param},
			Doc: "record the running generation GENERATION as the last known-good one (a garbage collection must keep it)"},
		validate: validateGood,
		run:      runMarkGood,
		target:   fixed(generationTarget),
		command: func(env Env, p map[string]string) string {
			return shellJoin("lmn-privd", "exec", "mark_generation_good", "generation="+p["generation"])
		},
	})
}
