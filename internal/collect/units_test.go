package collect

import (
	"bytes"
	"context"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/collect/collecttest"
	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/systemd/dbus"
)

func TestParseUnits(t *testing.T) {
	in := `[{"unit":"a.service","load":"loaded","active":"failed","sub":"failed","description":"A"},` +
		`{"unit":"b.socket","load":"loaded","active":"failed","sub":"failed","description":"B","extra":1}]`
	got, err := parseUnits([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []record.Unit{{Unit: "a.service", Load: "loaded", Active: "failed", Sub: "failed", Description: "A"},
		{Unit: "b.socket", Load: "loaded", Active: "failed", Sub: "failed", Description: "B"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got, err := parseUnits([]byte("[]\n")); err != nil || got == nil || len(got) != 0 {
		t.Errorf("empty list: %#v, %v; want an empty non-nil list (\"failed\":[])", got, err)
	}
	for _, bad := range []string{"", "{}", "[{}]", `[{"unit":""}]`, "[1]", "null x", "System has not been booted"} {
		if _, err := parseUnits([]byte(bad)); err == nil {
			t.Errorf("parseUnits(%q) succeeded", bad)
		}
	}
}

func FuzzParseUnits(f *testing.F) {
	f.Add([]byte(`[{"unit":"a.service","load":"loaded","active":"failed","sub":"failed","description":"A"}]`))
	f.Add([]byte("[]"))
	f.Add([]byte("null"))
	f.Fuzz(func(t *testing.T, b []byte) {
		units, err := parseUnits(b)
		if err != nil {
			return
		}
		for _, u := range units {
			if u.Unit == "" {
				t.Errorf("unit without a name from %q", b)
			}
		}
	})
}

func newUnits(t *testing.T, scope string, booted bool) (*unitSource, *bytes.Buffer) {
	var log bytes.Buffer
	w := &warner{log: slog.New(slog.NewTextHandler(&log, nil)), active: map[string]bool{}}
	u := newUnitSource(Config{Units: scope, Systemctl: collecttest.Systemctl(t), Booted: func() bool { return booted },
		UnitBus: []dbus.Addr{}}, w)
	return u, &log
}

// The stand-in systemctl is a real subprocess (a shell script), since PID 1
// on the test machines is not systemd.
func TestUnitsFromSystemctl(t *testing.T) {
	u, log := newUnits(t, UnitsSystem, true)
	g := u.failed(t.Context())
	if g == nil || g.Scope != "system" || len(g.Failed) != 2 || g.Failed[0].Unit != "backup.service" {
		t.Fatalf("got %+v; log:\n%s", g, log)
	}
	u, _ = newUnits(t, UnitsUser, false) // the user scope does not need PID 1 to be systemd
	g = u.failed(t.Context())
	if g == nil || g.Scope != "user" || g.Failed == nil || len(g.Failed) != 0 {
		t.Fatalf("user scope: got %+v", g)
	}
}

func TestUnitsNotBootedWarnsOnce(t *testing.T) {
	u, log := newUnits(t, UnitsSystem, false)
	for range 3 {
		if g := u.failed(t.Context()); g != nil {
			t.Fatalf("got %+v without systemd", g)
		}
	}
	if n := strings.Count(log.String(), "level=WARN"); n != 1 || !strings.Contains(log.String(), "/run/systemd/system") {
		t.Errorf("want one warning naming /run/systemd/system, got %d:\n%s", n, log)
	}
}

func TestUnitsFailureAndRecovery(t *testing.T) {
	u, log := newUnits(t, UnitsSystem, true)
	t.Setenv("FAKE_SYSTEMCTL_FAIL", "Failed to connect to bus: Host is down")
	for range 2 {
		if g := u.failed(t.Context()); g != nil {
			t.Fatalf("got %+v from a failing systemctl", g)
		}
	}
	if n := strings.Count(log.String(), "level=WARN"); n != 1 || !strings.Contains(log.String(), "Host is down") {
		t.Errorf("want one warning with systemctl's message, got %d:\n%s", n, log)
	}
	t.Setenv("FAKE_SYSTEMCTL_FAIL", "")
	if g := u.failed(t.Context()); g == nil {
		t.Fatal("no units after systemctl recovered")
	}
	if !strings.Contains(log.String(), "back in samples") {
		t.Errorf("recovery not logged:\n%s", log)
	}
}

func TestUnitsTimeout(t *testing.T) {
	if _, err := exec.LookPath("sleep"); err != nil {
		t.Skip("no sleep(1) for the slow stand-in systemctl")
	}
	u, log := newUnits(t, UnitsSystem, true)
	u.timeout = 50 * time.Millisecond
	t.Setenv("FAKE_SYSTEMCTL_SLEEP", "2")
	start := time.Now()
	if g := u.failed(t.Context()); g != nil {
		t.Fatalf("got %+v from a hung systemctl", g)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("hung systemctl held the sample for %v", d)
	}
	if !strings.Contains(log.String(), "no answer within 50ms") {
		t.Errorf("log does not name the timeout:\n%s", log)
	}
}

// TestUnitsIgnoreCancel: a signal (ctx done) finishes the current sample,
// so the systemctl call in progress is not cut short by it.
func TestUnitsIgnoreCancel(t *testing.T) {
	u, _ := newUnits(t, UnitsSystem, true)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if g := u.failed(ctx); g == nil {
		t.Fatal("no units when ctx was already done")
	}
}
