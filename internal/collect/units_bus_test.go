package collect

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/collect/collecttest"
	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/systemd/dbus"
	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
)

func TestFromBusOrderAndFollowing(t *testing.T) {
	in := []dbus.Unit{
		{Name: "b.socket", LoadState: "loaded", ActiveState: "failed", SubState: "failed", Description: "B"},
		{Name: "dev-sda.device", Following: "sys-devices-x.device", ActiveState: "failed"},
		{Name: "Z.service", ActiveState: "failed"},
		{Name: "a.service", ActiveState: "failed"},
		{Name: "a.mount", ActiveState: "failed"},
		{Name: "x.Service", ActiveState: "failed"},
	}
	got := fromBus(in)
	var names []string
	for _, u := range got {
		names = append(names, u.Unit)
	}
	// By suffix ignoring case (.mount < .service = .Service < .socket),
	// then by name ignoring case; the following device left out.
	want := []string{"a.mount", "a.service", "x.Service", "Z.service", "b.socket"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("order %v, want %v", names, want)
	}
	if got[4] != (record.Unit{Unit: "b.socket", Load: "loaded", Active: "failed", Sub: "failed", Description: "B"}) {
		t.Errorf("fields: %+v", got[4])
	}
	if got := fromBus([]dbus.Unit{}); got == nil || len(got) != 0 {
		t.Errorf("empty list: %#v, want empty and non-nil (\"failed\":[])", got)
	}
}

// TestUnitsBusFallsBackToSystemctl: no socket answers (a path nobody
// listens on), so the stand-in systemctl lists the units; the bus is not
// dialled again before busRetry.
func TestUnitsBusFallsBackToSystemctl(t *testing.T) {
	var log bytes.Buffer
	w := &warner{log: slog.New(slog.NewTextHandler(&log, nil)), active: map[string]bool{}}
	missing := dbus.Addr{Path: filepath.Join(t.TempDir(), "private")}
	u := newUnitSource(Config{Units: UnitsSystem, Systemctl: collecttest.Systemctl(t), Booted: func() bool { return true },
		UnitBus: []dbus.Addr{missing}}, w)
	now := time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)
	u.now = func() time.Time { return now }
	for range 3 {
		if g := u.failed(t.Context()); g == nil || len(g.Failed) != 2 {
			t.Fatalf("got %+v; log:\n%s", g, &log)
		}
	}
	if n := strings.Count(log.String(), "D-Bus unavailable"); n != 1 || !strings.Contains(log.String(), missing.Path) {
		t.Errorf("want one line saying D-Bus is unavailable and where, got %d:\n%s", n, &log)
	}
	if !u.nextDial.Equal(now.Add(busRetry)) {
		t.Errorf("next dial at %v, want %v", u.nextDial, now.Add(busRetry))
	}
	first := u.busErr
	u.failed(t.Context())
	if u.busErr != first {
		t.Error("dialled again before busRetry")
	}
	now = now.Add(busRetry)
	u.failed(t.Context())
	if u.busErr == first || !u.nextDial.Equal(now.Add(busRetry)) {
		t.Error("did not dial again after busRetry")
	}
}

// sandboxUnits starts a private systemd user manager with failed units of
// two types, names in mixed case, so the order matters.
func sandboxUnits(t testing.TB) (m *sdtest.Manager, runtime string) {
	m = sdtest.Start(t)
	units := map[string]string{
		"lmn-b.service": "[Unit]\nDescription=B fails ✓\n[Service]\nType=oneshot\nExecStart=/bin/false\n",
		"Lmn-a.service": "[Service]\nType=oneshot\nExecStart=/bin/false\n",
		"lmn-c.socket":  "[Socket]\nListenStream=%t/lmn-c.sock\nExecStartPre=/bin/false\n",
	}
	for name, content := range units {
		m.WriteUnit(t, name, content)
	}
	m.WriteUnit(t, "lmn-c.service", "[Service]\nExecStart=/bin/true\n") // the socket's, never started
	for name := range units {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		m.Command(ctx, "start", name).Run() // fails, as meant
		cancel()
	}
	for _, kv := range m.Env() {
		if v, ok := strings.CutPrefix(kv, "XDG_RUNTIME_DIR="); ok {
			runtime = v
		}
	}
	return m, runtime
}

// TestUnitsBusMatchesSystemctl lists the failed units of a real private
// systemd user manager over D-Bus and with systemctl: the groups are the
// same. Then the manager re-executes, which drops every connection: the
// next sample dials again and still reads over D-Bus.
func TestUnitsBusMatchesSystemctl(t *testing.T) {
	m, runtime := sandboxUnits(t)
	t.Setenv("XDG_RUNTIME_DIR", runtime) // for systemctl, and for the default user sockets
	var log bytes.Buffer
	w := &warner{log: slog.New(slog.NewTextHandler(&log, nil)), active: map[string]bool{}}
	argv := m.Systemctl()
	argv = argv[:len(argv)-1] // unitSource adds --user itself
	viaBus := newUnitSource(Config{Units: UnitsUser, Systemctl: []string{"false"}}, w)
	defer viaBus.close()
	viaCtl := newUnitSource(Config{Units: UnitsUser, Systemctl: argv, UnitBus: []dbus.Addr{}}, w)

	bus, ctl := viaBus.failed(t.Context()), viaCtl.failed(t.Context())
	if bus == nil || ctl == nil {
		t.Fatalf("D-Bus: %+v, systemctl: %+v; log:\n%s", bus, ctl, &log)
	}
	if viaBus.conn == nil || viaBus.conn.Addr().Path != filepath.Join(runtime, "systemd", "private") {
		t.Fatalf("not read over the private socket; log:\n%s", &log)
	}
	if !reflect.DeepEqual(*bus, *ctl) || len(bus.Failed) != 3 {
		t.Fatalf("D-Bus:\n%+v\nsystemctl:\n%+v", bus, ctl)
	}
	if bus.Failed[0].Unit != "Lmn-a.service" || bus.Failed[2].Unit != "lmn-c.socket" || bus.Failed[1].Description != "B fails ✓" {
		t.Errorf("group %+v", bus)
	}

	m.Run(t, "daemon-reexec")
	before := viaBus.conn
	if g := viaBus.failed(t.Context()); g == nil || !reflect.DeepEqual(*g, *ctl) {
		t.Fatalf("after daemon-reexec: %+v; log:\n%s", g, &log)
	}
	if viaBus.conn == before || viaBus.conn == nil {
		t.Error("the connection was not dialled again after the manager re-executed")
	}
	if strings.Contains(log.String(), "level=WARN") || strings.Contains(log.String(), "D-Bus unavailable") {
		t.Errorf("warnings while D-Bus worked:\n%s", &log)
	}
}

// BenchmarkUnitsBus and BenchmarkUnitsSystemctl are one sample's failed
// units from a real private user manager: over the kept D-Bus connection,
// and with the systemctl run it replaces (through nsenter, as lmn-collect
// reaches the sandbox in the end-to-end tests; nsenter adds about a
// millisecond).
func BenchmarkUnitsBus(b *testing.B)       { benchUnits(b, true) }
func BenchmarkUnitsSystemctl(b *testing.B) { benchUnits(b, false) }

func benchUnits(b *testing.B, bus bool) {
	m, runtime := sandboxUnits(b)
	b.Setenv("XDG_RUNTIME_DIR", runtime)
	var log bytes.Buffer
	w := &warner{log: slog.New(slog.NewTextHandler(&log, nil)), active: map[string]bool{}}
	argv := m.Systemctl()
	cfg := Config{Units: UnitsUser, Systemctl: argv[:len(argv)-1], UnitBus: []dbus.Addr{}}
	if bus {
		cfg.UnitBus, cfg.Systemctl = nil, []string{"false"}
	}
	u := newUnitSource(cfg, w)
	defer u.close()
	for b.Loop() {
		if g := u.failed(b.Context()); g == nil || len(g.Failed) != 3 {
			b.Fatalf("got %+v; log:\n%s", g, &log)
		}
	}
}
