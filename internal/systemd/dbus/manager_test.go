package dbus

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
)

// runtimeDir is the sandbox manager's $XDG_RUNTIME_DIR. It is a plain
// directory of the host's mount namespace, so the private socket below it
// can be dialled from the test.
func runtimeDir(t testing.TB, m *sdtest.Manager) string {
	for _, kv := range m.Env() {
		if v, ok := strings.CutPrefix(kv, "XDG_RUNTIME_DIR="); ok {
			return v
		}
	}
	t.Fatal("sandbox environment has no XDG_RUNTIME_DIR")
	return ""
}

// failedManager starts a private user manager with two failed units.
func failedManager(t testing.TB) (*sdtest.Manager, Addr) {
	m := sdtest.Start(t)
	m.WriteUnit(t, "lmn-dbus-a.service", "[Unit]\nDescription=Fails on purpose ✓\n[Service]\nType=oneshot\nExecStart=/bin/false\n")
	m.WriteUnit(t, "lmn-dbus-b.service", "[Service]\nType=oneshot\nExecStart=/bin/false\n")
	for _, u := range []string{"lmn-dbus-a.service", "lmn-dbus-b.service"} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		m.Command(ctx, "start", u).Run() // fails: the unit fails
		cancel()
	}
	return m, UserManager(runtimeDir(t, m), 0)[0]
}

// TestListUnitsFilteredRealManager asks a real private systemd user
// manager over its private socket and compares with what systemctl says.
func TestListUnitsFilteredRealManager(t *testing.T) {
	m, addr := failedManager(t)
	c, err := Dial(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	units, err := c.ListUnitsFiltered(t.Context(), "failed")
	if err != nil {
		t.Fatal(err)
	}
	var want []struct{ Unit, Load, Active, Sub, Description string }
	if err := json.Unmarshal([]byte(m.Run(t, "list-units", "--failed", "--output=json", "--no-pager")), &want); err != nil {
		t.Fatal(err)
	}
	if len(units) != len(want) || len(want) < 2 {
		t.Fatalf("D-Bus lists %+v; systemctl lists %+v", units, want)
	}
	byName := map[string]Unit{}
	for _, u := range units {
		byName[u.Name] = u
	}
	for _, w := range want {
		u := byName[w.Unit]
		if u.LoadState != w.Load || u.ActiveState != w.Active || u.SubState != w.Sub || u.Description != w.Description {
			t.Errorf("D-Bus: %+v; systemctl: %+v", u, w)
		}
	}
	if u := byName["lmn-dbus-a.service"]; u.Description != "Fails on purpose ✓" || u.ActiveState != "failed" ||
		u.Path != "/org/freedesktop/systemd1/unit/lmn_2ddbus_2da_2eservice" {
		t.Errorf("lmn-dbus-a.service: %+v", u)
	}

	// The connection stays usable: a second call, an error reply, a third.
	if _, err := c.call(t.Context(), methodCall{dest: "org.freedesktop.systemd1", path: "/org/freedesktop/systemd1",
		iface: "org.freedesktop.systemd1.Manager", member: "NoSuchMethod"}); !IsError(err, "org.freedesktop.DBus.Error.UnknownMethod") {
		t.Errorf("unknown method: err = %v, want org.freedesktop.DBus.Error.UnknownMethod", err)
	}
	if _, err := c.ListUnitsFiltered(t.Context(), "failed"); err != nil {
		t.Errorf("call after an error reply: %v", err)
	}
	all, err := c.ListUnitsFiltered(t.Context())
	if err != nil || len(all) <= len(units) {
		t.Errorf("all units: %d, %v; want more than the %d failed", len(all), err, len(units))
	}
}

// TestDialRefused: a socket nobody listens on, and the manager gone.
func TestDialRefused(t *testing.T) {
	if _, err := Dial(t.Context(), Addr{Path: filepath.Join(t.TempDir(), "none")}); err == nil {
		t.Error("dialled a missing socket")
	}
	m, addr := failedManager(t)
	c, err := Dial(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListUnitsFiltered(t.Context(), "failed"); err == nil {
		t.Error("listed units from a stopped manager")
	}
	if _, err := c.ListUnitsFiltered(t.Context(), "failed"); err == nil || !strings.Contains(err.Error(), "unusable") {
		t.Errorf("second call on a broken connection: %v", err)
	}
}

// BenchmarkListUnitsFiltered is one round trip on a kept connection to a
// real private manager; BenchmarkSystemctlListFailed is what it replaces,
// one systemctl run (inside the manager's mount namespace, as lmn-collect
// runs in the end-to-end tests).
func BenchmarkListUnitsFiltered(b *testing.B) {
	_, addr := failedManager(b)
	c, err := Dial(b.Context(), addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for b.Loop() {
		if units, err := c.ListUnitsFiltered(b.Context(), "failed"); err != nil || len(units) != 2 {
			b.Fatal(units, err)
		}
	}
}

func BenchmarkSystemctlListFailed(b *testing.B) {
	m, _ := failedManager(b)
	argv := append(m.Systemctl(), "list-units", "--failed", "--output=json", "--no-pager")
	for b.Loop() {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(cmd.Environ(), m.Env()...)
		if out, err := cmd.Output(); err != nil || !strings.Contains(string(out), "lmn-dbus-b.service") {
			b.Fatal(string(out), err)
		}
	}
}

// TestSubscribeRealManager: on a real manager's private socket, a unit that
// fails is announced by its JobRemoved (result failed) and by a
// PropertiesChanged of its Unit interface saying failed; calls made while
// signals flow still get their replies.
func TestSubscribeRealManager(t *testing.T) {
	m := sdtest.Start(t)
	addr := UserManager(runtimeDir(t, m), 0)[0]
	c, err := Dial(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	signals := make(chan Signal, 1024)
	if err := c.Subscribe(t.Context(), func(s Signal) {
		select {
		case signals <- s:
		default:
			t.Error("signal channel full")
		}
	}); err != nil {
		t.Fatal(err)
	}
	const name = "lmn-dbus-sub@x.service"
	m.WriteUnit(t, "lmn-dbus-sub@.service", "[Service]\nType=oneshot\nExecStart=/bin/false\n")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	m.Command(ctx, "start", name).Run() // fails: the unit fails

	var job, failed bool
	deadline := time.After(20 * time.Second)
	for !job || !failed {
		select {
		case s := <-signals:
			t.Logf("%+v", s)
			if s.Unit != name {
				continue
			}
			job = job || s.Kind == JobRemoved && s.Result == "failed"
			failed = failed || s.Kind == UnitChanged && s.ActiveState == "failed" && s.SubState == "failed"
		case <-deadline:
			t.Fatalf("no JobRemoved failed (%v) or PropertiesChanged failed (%v) for %s", job, failed, name)
		}
		if _, err := c.ListUnitsFiltered(t.Context(), "failed"); err != nil {
			t.Fatalf("call while subscribed: %v", err)
		}
	}
	units, err := c.ListUnitsFiltered(t.Context(), "failed")
	if err != nil || len(units) != 1 || units[0].Name != name {
		t.Errorf("failed units %+v, %v; want %s", units, err, name)
	}
}
