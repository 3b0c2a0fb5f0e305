package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/generations"
	"github.com/lmn-heal/lmn/internal/generations/gentest"
	"github.com/lmn-heal/lmn/internal/privproto"
	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
)

// The health-gated generation switch (issue 17), without Nix: a fake Nix
// root (gentest) whose generations' switch-to-configuration scripts write
// a unit of the sandboxed manager and restart it, as a real activation
// does through systemd; the whole pipe, with lmn-detect's
// generation_unhealthy and lmn-heal's built-in rollback ladder, and a real
// lmn-privd that switches the profile and runs the activation as a
// transient unit of that manager (systemd-run --user in the sandbox).

const genUnit = "lmn-e2e-web.service"

// genOK and genBroken are activation bodies: the unit runs, or fails at
// once (and, as switch-to-configuration does when a unit failed to start,
// the activation exits 4).
func genOK(m *sdtest.Manager) string {
	return activationBody(m, "/bin/sleep 600", "")
}

func genBroken(m *sdtest.Manager) string {
	return activationBody(m, "/bin/false",
		"sleep 0.3\nif systemctl --user is-failed --quiet "+genUnit+"; then exit 4; fi")
}

func activationBody(m *sdtest.Manager, exec, after string) string {
	unit := filepath.Join(m.UnitDir(), genUnit)
	return fmt.Sprintf("printf '[Service]\\nExecStart=%s\\n' > '%s'\nsystemctl --user daemon-reload\nsystemctl --user restart %s\n%s",
		exec, unit, genUnit, after)
}

// genMachine is a sandboxed manager, a fake Nix root over it and the pipe
// with lmn-privd.
type genMachine struct {
	m      *sdtest.Manager
	r      *gentest.Root
	rec    string // lmn-privd's record of generations
	p      *Pipe
	client *privproto.Client
	stop   func()
}

// genOpts are the pipe's settings: lmn-detect's settle window and
// lmn-collect's interval ("": their defaults, 60 s and the tests' 200 ms).
type genOpts struct{ settle, interval string }

// startGenMachine runs generation 1 (activated as a person would), then
// the pipe: lmn-collect reading the fake root every 200 ms, lmn-detect
// with the settle window given, lmn-heal with the built-in
// generation_unhealthy ladder and only the privd tier, and lmn-privd.
func startGenMachine(t testing.TB, o genOpts, gen2 func(*sdtest.Manager) string, setup func(*sdtest.Manager)) *genMachine {
	t.Helper()
	skipShort(t)
	g := &genMachine{m: sdtest.Start(t), r: gentest.New(t)}
	g.rec = filepath.Join(g.r.Dir, "generations.json")
	if setup != nil {
		setup(g.m)
	}
	g.r.Add(t, 1, genOK(g.m))
	g.r.Add(t, 2, gen2(g.m))
	g.r.SetProfile(t, 1)
	g.r.SetBooted(t, 1)
	g.activate(t, 1)
	if active := waitActive(t, g.m, genUnit, "active"); active != "active" {
		t.Fatalf("generation 1 does not run %s: %s", genUnit, active)
	}
	env := fmt.Sprintf(`"nix_root": %q, "run_root": %q, "systemd_run": %s,`, g.r.Nix, g.r.Run, jsonList(g.m.SystemdRun()))
	sock, keyFile, _, stop := startPrivdEnv(t, g.m, fmt.Sprintf(`"generations": {"record": %q, "max_per_day": 2},`, g.rec), env)
	g.stop = stop
	key, err := privproto.LoadKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	g.client = &privproto.Client{Socket: sock, Key: key}
	dir := t.TempDir()
	rules := ""
	if o.settle != "" {
		rules = writeFile(t, dir, "rules.json", `{"extend": true, "rules": [{"name": "generation_unhealthy", "settle": "`+o.settle+`"}]}`)
	}
	g.p = sandboxPipe(t, g.m, generationPolicy(t, dir), pipeOpts{
		rules: rules, interval: o.interval,
		heal:    []string{"--tiers", "privd,advise", "--privd-socket", sock, "--key-file", keyFile, "--sudo", "never"},
		collect: []string{"--nix-root", g.r.Nix, "--run-root", g.r.Run, "--generations-record", g.rec},
	})
	waitUnits(t, g.p)
	g.waitRunning(t, 1, 20*time.Second)
	return g
}

// generationPolicy is lmn-heal's built-in generation_unhealthy ladder
// alone, as --print-policy prints it.
func generationPolicy(t testing.TB, dir string) string {
	t.Helper()
	out, err := runCmd(bin(t, "lmn-heal"), "--print-policy")
	if err != nil {
		t.Fatalf("lmn-heal --print-policy: %v: %s", err, out)
	}
	var p struct {
		Ladders []map[string]any `json:"ladders"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	for _, l := range p.Ladders {
		if l["name"] == record.RuleGenerationUnhealthy {
			b, err := json.Marshal(map[string]any{"ladders": []any{l}})
			if err != nil {
				t.Fatal(err)
			}
			return writeFile(t, dir, "policy.json", string(b))
		}
	}
	t.Fatal("no built-in generation_unhealthy ladder")
	return ""
}

// activate runs generation n's switch-to-configuration switch in the
// sandbox, as nixos-rebuild switch does after pointing the profile at it.
func (g *genMachine) activate(t testing.TB, n int) int {
	t.Helper()
	argv := append(nsenter(g.m), filepath.Join(g.r.StorePath(n), "bin", "switch-to-configuration"), "switch")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), g.m.Env()...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 4) {
		t.Fatalf("generation %d: switch-to-configuration: %v: %s", n, err, out)
	}
	return cmd.ProcessState.ExitCode()
}

// switchTo is a person's nixos-rebuild switch to generation n.
func (g *genMachine) switchTo(t testing.TB, n int) time.Time {
	t.Helper()
	t0 := time.Now()
	g.r.SetProfile(t, n)
	g.activate(t, n)
	return t0
}

// waitRunning waits for a sample saying generation n runs.
func (g *genMachine) waitRunning(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	_, err := g.p.Proc("collect").Out.Wait(timeout, fmt.Sprintf("a sample of generation %d running", n), func(l []Captured) bool {
		if len(l) == 0 || kindOf(l[len(l)-1].Raw) != record.KindSample {
			return false
		}
		s := samplesOf(t, l[len(l)-1:])[0]
		return s.Nix != nil && s.Nix.CurrentGeneration == n
	})
	if err != nil {
		t.Fatal(err)
	}
}

// record is lmn-privd's record of generations as it is now.
func (g *genMachine) record(t testing.TB) generations.Record {
	t.Helper()
	rec, err := generations.Load(g.rec)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func (g *genMachine) finish(t testing.TB) []Captured {
	t.Helper()
	g.p.Stop(20 * time.Second)
	g.p.RequireClean()
	g.stop()
	return g.p.Proc("heal").Out.All()
}

func isRolledBack(h record.Heal) bool {
	return h.Rule == record.RuleGenerationUnhealthy && h.Phase == record.PhaseVerified && h.Outcome == record.OutcomeRolledBack
}

func isMarkedGood(n int) func(record.Heal) bool {
	return func(h record.Heal) bool {
		return h.Action == "mark_generation_good" && h.Phase == record.PhaseSucceeded && h.Params["generation"] == strconv.Itoa(n)
	}
}

// TestGenerationRollback: a switch to generation 2 breaks the unit; after
// the settle window lmn-detect's gate fires, lmn-privd switches back to 1,
// the unit runs again, the heal record says rolled_back, generation 2 is
// rejected in lmn-privd's record, and an automatic switch to it is refused.
func TestGenerationRollback(t *testing.T) {
	t.Parallel()
	g := startGenMachine(t, genOpts{settle: "3s"}, genBroken, nil)
	switched := g.switchTo(t, 2)
	if active := waitActive(t, g.m, genUnit, "failed"); active != "failed" {
		t.Fatalf("generation 2 leaves %s %s, want failed", genUnit, active)
	}
	lines, err := g.p.Proc("heal").Out.Wait(60*time.Second, "generation_unhealthy rolled_back", hasHeal(isRolledBack))
	if err != nil {
		t.Fatalf("heal: %v\nstderr: %s", err, g.p.Proc("heal").Stderr())
	}
	t.Logf("from the switch to rolled_back: %v (settle 3s)", lines[len(lines)-1].At.Sub(switched).Round(time.Millisecond))
	if active := waitActive(t, g.m, genUnit, "active"); active != "active" {
		t.Errorf("after the rollback %s is %s, want active", genUnit, active)
	}
	if got := g.r.ProfileTarget(t); got != "system-1-link" {
		t.Errorf("profile at %s, want system-1-link", got)
	}
	if got := strings.Join(g.r.Activations(t), " "); got != "1_switch 2_switch 1_switch" {
		t.Errorf("activations %q, want 1_switch 2_switch 1_switch", got)
	}
	heals := healsOf(t, lines)
	sw := firstHeal(t, heals, "switch_generation succeeded", isPhase(record.RuleGenerationUnhealthy, "switch_generation", record.PhaseSucceeded))
	if sw.Tier != record.TierPrivd || sw.Params["generation"] != "1" {
		t.Errorf("switch %+v", sw)
	}
	rec := g.record(t)
	if _, ok := rec.Rejection(g.r.StorePath(2)); !ok || len(rec.Rollbacks) != 1 {
		t.Errorf("record: %+v", rec)
	}
	// Generation 1, back and healthy past the settle window, is marked
	// known good.
	if _, err := g.p.Proc("heal").Out.Wait(30*time.Second, "generation 1 marked good", hasHeal(isMarkedGood(1))); err != nil {
		t.Errorf("heal: %v", err)
	}
	// An automatic switch to generation 2, as lmn-heal would ask over
	// the socket, is refused, and nothing runs.
	_, err = g.client.Do(context.Background(), action.Request{Action: "switch_generation", Params: map[string]string{"generation": "2"}})
	if err == nil || !strings.Contains(err.Error(), "rejected") {
		t.Errorf("an automatic switch to the rejected generation 2: %v, want refused as rejected", err)
	}
	lines = g.finish(t)
	if got := strings.Join(g.r.Activations(t), " "); got != "1_switch 2_switch 1_switch" {
		t.Errorf("activations after the refusal %q", got)
	}
	if n := len(filterHeals(healsOf(t, lines), "switch_generation", record.PhaseStarted)); n != 1 {
		t.Errorf("%d automatic switches, want 1", n)
	}
	if k := g.record(t).KnownGood; k == nil || k.StorePath != g.r.StorePath(1) {
		t.Errorf("known good %+v, want generation 1", k)
	}
}

// TestGenerationHealthyKept: a generation 2 that breaks nothing is left
// alone and marked known good once its settle window passed.
func TestGenerationHealthyKept(t *testing.T) {
	t.Parallel()
	g := startGenMachine(t, genOpts{settle: "3s"}, genOK, nil)
	g.switchTo(t, 2)
	if _, err := g.p.Proc("heal").Out.Wait(30*time.Second, "generation 2 marked good", hasHeal(isMarkedGood(2))); err != nil {
		t.Fatalf("heal: %v", err)
	}
	time.Sleep(time.Second) // a rollback would have been asked by now
	lines := g.finish(t)
	if sw := filterHeals(healsOf(t, lines), "switch_generation", ""); len(sw) != 0 {
		t.Errorf("a healthy generation was switched: %+v", sw)
	}
	if got := g.r.ProfileTarget(t); got != "system-2-link" {
		t.Errorf("profile at %s", got)
	}
	if k := g.record(t).KnownGood; k == nil || k.Generation != 2 || k.StorePath != g.r.StorePath(2) {
		t.Errorf("known good %+v, want generation 2", k)
	}
}

// TestGenerationBaselineBreakage: a unit already failed before the switch,
// and still failed after it, is no new failure: no rollback.
func TestGenerationBaselineBreakage(t *testing.T) {
	t.Parallel()
	const old = "lmn-e2e-old.service"
	g := startGenMachine(t, genOpts{settle: "3s"}, func(m *sdtest.Manager) string {
		return genOK(m) + "\nsystemctl --user restart " + old + " || true"
	}, func(m *sdtest.Manager) {
		m.WriteUnit(t, old, "[Service]\nExecStart=/bin/false\n")
		m.Run(t, "start", old)
	})
	if active := waitActive(t, g.m, old, "failed"); active != "failed" {
		t.Fatalf("%s is %s before the switch, want failed", old, active)
	}
	g.switchTo(t, 2)
	if _, err := g.p.Proc("heal").Out.Wait(30*time.Second, "generation 2 marked good", hasHeal(isMarkedGood(2))); err != nil {
		t.Fatalf("heal: %v", err)
	}
	lines := g.finish(t)
	if sw := filterHeals(healsOf(t, lines), "switch_generation", ""); len(sw) != 0 {
		t.Errorf("a breakage of the baseline caused a rollback: %+v", sw)
	}
	if active := waitActive(t, g.m, old, "failed"); active != "failed" {
		t.Errorf("%s is %s", old, active)
	}
}

// waitActive waits up to 10 s for unit's ActiveState to be want (a unit
// that fails at once is "activating" for a moment on a loaded machine),
// and returns the state it last saw.
func waitActive(t testing.TB, m *sdtest.Manager, unit, want string) string {
	t.Helper()
	var active string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if active, _, _ = m.State(t, unit); active == want || time.Now().After(deadline) {
			return active
		}
	}
}

// filterHeals returns the heal records of action (and phase, unless "").
func filterHeals(hs []record.Heal, action, phase string) []record.Heal {
	var out []record.Heal
	for _, h := range hs {
		if h.Action == action && (phase == "" || h.Phase == phase) {
			out = append(out, h)
		}
	}
	return out
}

// TestGenerationOlderUnhealthyToo: generation 1 breaks too when lmn rolls
// back to it (its activation breaks the unit from its second run on): lmn
// does not go on switching, it advises, and generation 2 stays rejected.
func TestGenerationOlderUnhealthyToo(t *testing.T) {
	t.Parallel()
	g := startGenMachine(t, genOpts{settle: "3s"}, genBroken, nil)
	// Generation 1's activation, written by startGenMachine, ran once; from
	// now on it breaks the unit as generation 2 does.
	script := filepath.Join(g.r.StorePath(1), "bin", "switch-to-configuration")
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(b), "/bin/sleep 600", "/bin/false", 1)
	if broken == string(b) {
		t.Fatal("generation 1's activation has no /bin/sleep 600 to break")
	}
	if err := os.WriteFile(script, []byte(broken), 0o755); err != nil {
		t.Fatal(err)
	}
	g.switchTo(t, 2)
	lines, err := g.p.Proc("heal").Out.Wait(60*time.Second, "advice for generation 1", hasHeal(func(h record.Heal) bool {
		return h.Rule == record.RuleGenerationUnhealthy && h.Phase == record.PhaseAdvised && h.Subject["generation"] == "1"
	}))
	if err != nil {
		t.Fatalf("heal: %v", err)
	}
	lines = g.finish(t)
	heals := healsOf(t, lines)
	if n := len(filterHeals(heals, "switch_generation", record.PhaseStarted)); n != 1 {
		t.Errorf("%d automatic switches, want 1 (back to 1, not on from it)", n)
	}
	adv := firstHeal(t, heals, "advised", func(h record.Heal) bool { return h.Phase == record.PhaseAdvised && h.Subject["generation"] == "1" })
	if !strings.Contains(adv.Advice, "no generation to roll back to") {
		t.Errorf("advice %q", adv.Advice)
	}
	if got := strings.Join(g.r.Activations(t), " "); got != "1_switch 2_switch 1_switch" || g.r.ProfileTarget(t) != "system-1-link" {
		t.Errorf("activations %q, profile %s", got, g.r.ProfileTarget(t))
	}
	if _, ok := g.record(t).Rejection(g.r.StorePath(2)); !ok {
		t.Error("generation 2 not rejected")
	}
}
