package action_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/generations"
	"github.com/lmn-heal/lmn/internal/generations/gentest"
	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
)

// switch_generation against a real service manager: the activation runs
// as a transient unit of the (sandboxed) manager through the real
// systemd-run, outside the caller's process tree, and starts units there
// as a real switch-to-configuration does; --wait hands back its status, 4
// (some units failed) counting as a switch made.
func TestSwitchGenerationInSandbox(t *testing.T) {
	m := sdtest.Start(t)
	ctx := context.Background()
	m.WriteUnit(t, "lmn-gen-web.service", "[Service]\nExecStart=/bin/sleep 300\n")
	r := gentest.New(t)
	inv := filepath.Join(r.Dir, "invocation")
	r.Add(t, 1, "echo \"$INVOCATION_ID\" > "+inv+"\nsystemctl --user start lmn-gen-web.service")
	r.Add(t, 2, "exit 4")
	r.Add(t, 3, "exit 3")
	r.SetProfile(t, 3)
	r.SetRunning(t, 3)
	env := action.Env{NixProfile: r.Profile, RunRoot: r.Run, SystemdRun: m.SystemdRun(), Systemctl: m.Systemctl(),
		ExtraEnv: m.Env(), Generations: generations.Policy{Record: filepath.Join(r.Dir, "generations.json"), MaxPerDay: 5}}
	req := func(g string) action.Request {
		return action.Request{Action: "switch_generation", Params: map[string]string{"generation": g}}
	}

	res, err := action.Run(ctx, env, req("1"))
	if err != nil {
		t.Fatalf("generation 1: %q %v", res.Output, err)
	}
	if active, _, _ := m.State(t, "lmn-gen-web.service"); active != "active" {
		t.Errorf("the activation's unit is %s, want active", active)
	}
	id, _ := os.ReadFile(inv)
	if len(strings.TrimSpace(string(id))) != 32 {
		t.Errorf("INVOCATION_ID %q: the activation did not run as a unit of the manager", id)
	}
	// lmn goes no further from where it rolled back to; a person may.
	env.AllowRejected = true
	res, err = action.Run(ctx, env, req("2"))
	if err != nil || !strings.Contains(res.Output, "exit 4") {
		t.Fatalf("generation 2 (exit 4): %q %v", res.Output, err)
	}
	if _, err := action.Run(ctx, env, req("3")); !errors.Is(err, action.ErrFailed) {
		t.Errorf("generation 3 (exit 3): %v, want ErrFailed", err)
	}
	if got := strings.Join(r.Activations(t), " "); got != "1_switch 2_switch 3_switch" || r.ProfileTarget(t) != "system-3-link" {
		t.Errorf("activations %q, profile %s", got, r.ProfileTarget(t))
	}
	m.Run(t, "stop", "lmn-gen-web.service")
}
