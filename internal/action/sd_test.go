package action_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
)

// These tests drive a real, private systemd user manager (sdtest skips
// them, with the reason, where one cannot run).

func sandboxEnv(m *sdtest.Manager) action.Env {
	return action.Env{Systemctl: m.Systemctl(), ExtraEnv: m.Env(), Units: action.DefaultUnitPolicy()}
}

func TestUnitActionsInSandbox(t *testing.T) {
	m := sdtest.Start(t)
	ctx := context.Background()
	env := sandboxEnv(m)
	m.WriteUnit(t, "lmn-demo.service", "[Service]\nExecStart=/bin/sleep 300\n")
	m.Run(t, "start", "lmn-demo.service")
	pid := strings.TrimSpace(m.Run(t, "show", "-p", "MainPID", "--value", "lmn-demo.service"))
	if _, err := action.Run(ctx, env, action.Request{Action: "restart_unit", Params: map[string]string{"unit": "lmn-demo.service"}}); err != nil {
		t.Fatal(err)
	}
	after := strings.TrimSpace(m.Run(t, "show", "-p", "MainPID", "--value", "lmn-demo.service"))
	if active, _, _ := m.State(t, "lmn-demo.service"); active != "active" || after == pid || after == "0" {
		t.Errorf("after restart_unit: %s, MainPID %s -> %s", active, pid, after)
	}

	m.WriteUnit(t, "lmn-broken.service", "[Service]\nType=oneshot\nExecStart=/bin/false\n")
	m.Command(ctx, "start", "lmn-broken.service").Run() // fails, as it should
	if active, _, _ := m.State(t, "lmn-broken.service"); active != "failed" {
		t.Fatalf("broken unit is %s, want failed", active)
	}
	if _, err := action.Run(ctx, env, action.Request{Action: "reset_failed_unit", Params: map[string]string{"unit": "lmn-broken.service"}}); err != nil {
		t.Fatal(err)
	}
	if active, _, _ := m.State(t, "lmn-broken.service"); active != "inactive" {
		t.Errorf("after reset_failed_unit: %s, want inactive", active)
	}
	m.Run(t, "stop", "lmn-demo.service")
}

// lmn-privd's premise against a real manager: an active unit is not
// restarted on the client's word; the same unit, failed, is.
func TestRestartPremiseInSandbox(t *testing.T) {
	m := sdtest.Start(t)
	ctx := context.Background()
	env := sandboxEnv(m)
	premise := action.DefaultPremise()
	premise.Memory.Top = 0 // this machine's memory is not the test's to judge
	env.Premise = &premise
	flag := t.TempDir() + "/crashed-once"
	m.WriteUnit(t, "lmn-premise.service", "[Service]\nExecStart=/bin/sh -c 'test -e "+flag+" || { : > "+flag+"; exit 3; }; exec sleep 300'\n")
	m.WriteUnit(t, "lmn-healthy.service", "[Service]\nExecStart=/bin/sleep 300\n")
	m.Run(t, "start", "lmn-healthy.service")
	pid := m.Run(t, "show", "-p", "MainPID", "--value", "lmn-healthy.service")
	restart := func(u string) error {
		_, err := action.Run(ctx, env, action.Request{Action: "restart_unit", Params: map[string]string{"unit": u}})
		return err
	}
	if err := restart("lmn-healthy.service"); !errors.Is(err, action.ErrDenied) || !strings.Contains(err.Error(), "is active, not failed") {
		t.Errorf("restart of an active unit: %v, want ErrDenied", err)
	}
	if after := m.Run(t, "show", "-p", "MainPID", "--value", "lmn-healthy.service"); after != pid {
		t.Errorf("the active unit was restarted anyway: MainPID %s -> %s", pid, after)
	}
	if err := restart("lmn-nonexistent.service"); !errors.Is(err, action.ErrDenied) {
		t.Errorf("restart of a unit that does not exist: %v, want ErrDenied", err)
	}
	m.Command(ctx, "start", "lmn-premise.service").Run()
	for range 100 {
		if active, _, _ := m.State(t, "lmn-premise.service"); active == "failed" {
			break
		}
		m.Output(ctx, "is-system-running")
	}
	if active, _, _ := m.State(t, "lmn-premise.service"); active != "failed" {
		t.Fatalf("lmn-premise.service is %s, want failed", active)
	}
	if err := restart("lmn-premise.service"); err != nil {
		t.Fatalf("restart of a failed unit: %v", err)
	}
	if active, _, _ := m.State(t, "lmn-premise.service"); active != "active" {
		t.Errorf("after restart_unit: %s, want active", active)
	}
	m.Run(t, "stop", "lmn-healthy.service", "lmn-premise.service")
}
