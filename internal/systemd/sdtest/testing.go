package sdtest

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// commandTimeout bounds each systemctl call made for a test, so a stuck
// manager fails the test instead of hanging it.
const commandTimeout = 60 * time.Second

func commandContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), commandTimeout)
}

// Start starts a private user manager for the test and registers its
// cleanup, which fails the test if anything of the sandbox is left behind.
// It skips the test, with the reason, when the manager cannot run here
// (not root, no systemd, no writable cgroup2).
func Start(t testing.TB) *Manager {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("no private systemd user manager: %v", err)
	}
	// Not t.TempDir: its paths can exceed the 108 bytes of a socket address.
	dir, err := os.MkdirTemp("", "lmn-sdtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	m, err := StartManager(dir)
	if err != nil {
		if errors.Is(err, errCgroupSetup) {
			t.Skipf("no private systemd user manager: %v", err)
		}
		t.Fatalf("start private systemd user manager: %v", err)
	}
	if err := m.SweepErr(); err != nil {
		t.Log(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("manager log:\n%s", m.Log())
		}
		if err := m.Close(); err != nil {
			t.Errorf("private systemd user manager cleanup: %v", err)
		}
	})
	return m
}

// WriteUnit writes a unit file into UnitDir and runs daemon-reload.
func (m *Manager) WriteUnit(t testing.TB, name, content string) {
	t.Helper()
	ctx, cancel := commandContext()
	defer cancel()
	if err := m.InstallUnit(ctx, name, content); err != nil {
		t.Fatal(err)
	}
}

// Run runs systemctl --user args against the manager and returns stdout;
// it fails the test if systemctl fails.
func (m *Manager) Run(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := commandContext()
	defer cancel()
	out, err := m.Output(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// State returns a unit's ActiveState, SubState and NRestarts.
func (m *Manager) State(t testing.TB, unit string) (active, sub string, nrestarts int) {
	t.Helper()
	ctx, cancel := commandContext()
	defer cancel()
	st, err := m.UnitState(ctx, unit)
	if err != nil {
		t.Fatal(err)
	}
	return st.Active, st.Sub, st.NRestarts
}
