package action_test

import (
	"context"
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
