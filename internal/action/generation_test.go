package action

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lmn-heal/lmn/internal/generations"
	"github.com/lmn-heal/lmn/internal/generations/gentest"
)

// genRoot is a fake Nix root with generations 1..n, the profile at and the
// machine running the newest, and an Env with gentest's stand-in for
// systemd-run: no service manager runs in this test
// (TestSwitchGenerationInSandbox runs the real systemd-run against one).
func genRoot(t *testing.T, n int, bodies map[int]string) (*gentest.Root, Env, string) {
	t.Helper()
	r := gentest.New(t)
	for i := 1; i <= n; i++ {
		r.Add(t, i, bodies[i])
	}
	r.SetProfile(t, n)
	r.SetRunning(t, n)
	env := Env{NixProfile: r.Profile, RunRoot: r.Run, SystemdRun: r.SystemdRun(t),
		Generations: generations.Policy{Record: filepath.Join(r.Dir, "generations.json"), MaxPerDay: 2}}
	return r, env, filepath.Join(r.Dir, "systemd-run.argv")
}

func switchTo(g string) Request {
	return Request{Action: "switch_generation", Params: map[string]string{"generation": g}}
}

// Every refusal the issue names, and each says why.
func TestSwitchGenerationRefuses(t *testing.T) {
	r, env, _ := genRoot(t, 4, nil)
	os.Remove(r.Profile + "-2-link") // deleted by nix-collect-garbage -d
	os.RemoveAll(r.StorePath(3))     // its link kept, its store path collected
	generations.Update(env.Generations.Record, func(rec *generations.Record) error {
		rec.Rejected = append(rec.Rejected, generations.Rejection{Generation: 1, StorePath: r.StorePath(1), Reason: "judged unhealthy"})
		return nil
	})
	for _, c := range []struct {
		gen  string
		want error
		says string
	}{
		{"2", ErrInvalid, "generation 2 does not exist (deleted; the profile has 1, 3, 4)"},
		{"3", ErrInvalid, "generation 3 does not exist any more"},
		{"4", ErrInvalid, "generation 4 is the current one"},
		{r.Profile + "-1-link", ErrInvalid, "not a path"},
		{"../1", ErrInvalid, "not a path"},
		{"9", ErrInvalid, "generation 9 is outside the profile's list (1..4)"},
		{"0", ErrInvalid, "want a generation number"},
		{"-1", ErrInvalid, "want a generation number"},
		{"01", ErrInvalid, "want a generation number"},
		{"1 2", ErrInvalid, "want a generation number"},
		{"1", ErrDenied, "generation 1 (" + r.StorePath(1) + ") was rejected"},
	} {
		err := Validate(env, switchTo(c.gen))
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("generation=%q: %v, want %v saying %q", c.gen, err, c.want, c.says)
		}
	}
	if err := Validate(env, switchTo("1")); !strings.Contains(err.Error(), "lmn-privd --allow-rejected exec switch_generation generation=1") {
		t.Errorf("the refusal does not tell a person how to override: %v", err)
	}
	env.AllowRejected = true
	if err := Validate(env, switchTo("1")); err != nil {
		t.Errorf("a person's override: %v", err)
	}
	env.Generations.Record = ""
	if err := Validate(env, switchTo("1")); !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "only through lmn-privd") {
		t.Errorf("no record kept: %v", err)
	}
	if got := r.Activations(t); len(got) != 0 {
		t.Errorf("a refused request activated %v", got)
	}
}

// 2 breaks; lmn switches back to 1: the record says so before anything
// moves, the profile points at 1, 1's activation ran as "switch" through
// systemd-run, and 2 is never a target again unless a person says so.
func TestSwitchGenerationRollsBack(t *testing.T) {
	r, env, argvLog := genRoot(t, 2, nil)
	res, err := Run(context.Background(), env, switchTo("1"))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.ProfileTarget(t); got != "system-1-link" {
		t.Errorf("profile -> %s", got)
	}
	if got := r.Activations(t); strings.Join(got, " ") != "1_switch" {
		t.Errorf("activations %v", got)
	}
	argv, _ := os.ReadFile(argvLog)
	want := "--unit=lmn-switch-generation-1.service --description=lmn: switch to system generation 1 --service-type=simple --wait --collect -- " +
		filepath.Join(r.StorePath(1), "bin/switch-to-configuration") + " switch\n"
	if string(argv) != want {
		t.Errorf("systemd-run argv\n%q\nwant\n%q", argv, want)
	}
	for _, s := range []string{"rejected " + r.StorePath(2), "profile at generation 1", "switch-to-configuration switch done"} {
		if !strings.Contains(res.Output, s) {
			t.Errorf("output %q lacks %q", res.Output, s)
		}
	}
	rec, err := generations.Load(env.Generations.Record)
	if err != nil || len(rec.Rollbacks) != 1 || rec.Rollbacks[0].From.Generation != 2 || rec.Rollbacks[0].To.Generation != 1 {
		t.Fatalf("record %+v %v", rec, err)
	}
	if _, ok := rec.Rejection(r.StorePath(2)); !ok {
		t.Error("2 not rejected")
	}
	// 1 runs now; lmn never goes back to 2 by itself.
	if _, err := Run(context.Background(), env, switchTo("2")); !errors.Is(err, ErrDenied) {
		t.Errorf("automatic switch to the rejected 2: %v", err)
	}
	// A person may: the rejection is lifted, no rollback is counted.
	env.AllowRejected = true
	res, err = Run(context.Background(), env, switchTo("2"))
	if err != nil || !strings.Contains(res.Output, "rejection of generation 2 lifted by a person") {
		t.Fatalf("override: %q %v", res.Output, err)
	}
	rec, _ = generations.Load(env.Generations.Record)
	if len(rec.Rejected) != 0 || len(rec.Rollbacks) != 1 || r.ProfileTarget(t) != "system-2-link" {
		t.Errorf("after the override: %+v, profile %s", rec, r.ProfileTarget(t))
	}
	// 2 breaks again: lmn rolled back from it once, never twice.
	env.AllowRejected = false
	if err := Validate(env, switchTo("1")); !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "once already") {
		t.Errorf("second rollback from 2: %v", err)
	}
}

// switch-to-configuration's exit 4 (some units failed) is a switch made:
// the gate judges those units. Any other failure fails the action, and the
// profile stays where it was switched to (what boots next is the target).
func TestSwitchGenerationActivationStatus(t *testing.T) {
	r, env, _ := genRoot(t, 3, map[int]string{2: "exit 4", 1: "echo broken >&2; exit 1"})
	res, err := Run(context.Background(), env, switchTo("2"))
	if err != nil || !strings.Contains(res.Output, "some units failed to start (exit 4)") {
		t.Errorf("exit 4: %q %v", res.Output, err)
	}
	r.SetProfile(t, 3) // a person moves on to 3 (nixos-rebuild switch)
	r.SetRunning(t, 3)
	env.AllowRejected = true // lmn rolled back from 3 once already: only a person may
	_, err = Run(context.Background(), env, switchTo("1"))
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "broken") {
		t.Errorf("exit 1: %v", err)
	}
	if r.ProfileTarget(t) != "system-1-link" {
		t.Errorf("profile %s", r.ProfileTarget(t))
	}
}

// Only the running generation can be marked good, and not a rejected one
// by lmn; the mark is the record's KnownGood.
func TestMarkGenerationGood(t *testing.T) {
	r, env, _ := genRoot(t, 3, nil)
	good := func(g string) Request {
		return Request{Action: "mark_generation_good", Params: map[string]string{"generation": g}}
	}
	if err := Validate(env, good("2")); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not what runs") {
		t.Errorf("marking what does not run: %v", err)
	}
	if _, err := Run(context.Background(), env, good("3")); err != nil {
		t.Fatal(err)
	}
	rec, _ := generations.Load(env.Generations.Record)
	if rec.KnownGood == nil || rec.KnownGood.Generation != 3 || rec.KnownGood.StorePath != r.StorePath(3) {
		t.Fatalf("known good %+v", rec.KnownGood)
	}
	if _, err := Run(context.Background(), env, switchTo("2")); err != nil {
		t.Fatal(err)
	}
	r.SetRunning(t, 3) // a person runs the rejected 3 again
	if err := Validate(env, good("3")); !errors.Is(err, ErrDenied) {
		t.Errorf("marking a rejected generation good: %v", err)
	}
}

func TestGenerationCommandAndTarget(t *testing.T) {
	env := Env{NixProfile: "/nix/var/nix/profiles/system"}
	if got := Command(env, switchTo("41")); got != "nix-env --profile /nix/var/nix/profiles/system --switch-generation 41 && /nix/var/nix/profiles/system-41-link/bin/switch-to-configuration switch" {
		t.Errorf("Command = %q", got)
	}
	if Target(switchTo("1")) != "system-profile" || Target(Request{Action: "mark_generation_good"}) != "system-profile" {
		t.Error("the two actions do not share their target")
	}
	if !PrivdOnly("switch_generation") || !PrivdOnly("mark_generation_good") || PrivdOnly("restart_unit") {
		t.Error("PrivdOnly")
	}
}
