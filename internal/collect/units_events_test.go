package collect

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/systemd/dbus"
)

// TestUnitEventsLeavingActive: with a real sandboxed user manager, a
// service that leaves active on its own wakes the collector, one stopped
// or restarted by a job does not. lmn-stop is running before the
// subscription (its state comes from the seeding list), the others start
// after it (their state comes from the signals). lmn-exit's main process
// exits 0 with Restart=no (active → inactive, no job); lmn-again's exits 0
// with Restart=always (active → activating/auto-restart, no job);
// lmn-stop is stopped and lmn-again restarted with systemctl (a job each).
func TestUnitEventsLeavingActive(t *testing.T) {
	m, runtime := sandboxUnits(t)
	t.Setenv("XDG_RUNTIME_DIR", runtime)
	// Each main process runs until the test creates its file in the
	// runtime directory, which the manager and the test both see.
	waitFor := func(name string) string {
		return "[Service]\nExecStart=/bin/sh -c 'while [ ! -e %t/" + name + ".go ]; do sleep 0.02; done; rm -f %t/" + name + ".go'\n"
	}
	m.WriteUnit(t, "lmn-exit.service", waitFor("lmn-exit")+"Restart=no\n")
	m.WriteUnit(t, "lmn-again.service", waitFor("lmn-again")+"Restart=always\nRestartSec=200ms\n")
	m.WriteUnit(t, "lmn-stop.service", "[Service]\nExecStart=/bin/sleep 300\n")
	m.Run(t, "start", "lmn-stop.service")

	var log bytes.Buffer
	w := &warner{log: slog.New(slog.NewTextHandler(&log, nil)), active: map[string]bool{}}
	u := newUnitSource(Config{Units: UnitsUser, Systemctl: []string{"false"}}, w)
	t.Cleanup(u.close)
	fired := make(chan struct{}, 100)
	if err := u.subscribe(t.Context(), func() { fired <- struct{}{} }); err != nil {
		t.Fatalf("subscribe: %v; log:\n%s", err, &log)
	}
	// settle reads the failed list over the same connection: its reply
	// comes after every signal the manager sent before it, so the
	// signals of what the test did are all taken in when it returns.
	settle := func() {
		t.Helper()
		if u.failed(t.Context()) == nil {
			t.Fatalf("no failed list; log:\n%s", &log)
		}
	}
	wakes := func() int {
		n := 0
		for {
			select {
			case <-fired:
				n++
			default:
				return n
			}
		}
	}
	release := func(name string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(runtime, name+".go"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	waitState := func(unit, active, sub string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			a, s, _ := m.State(t, unit)
			if a == active && (sub == "" || s == sub) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s is %s/%s, want %s/%s", unit, a, s, active, sub)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	settle()
	wakes()

	m.Run(t, "start", "lmn-exit.service", "lmn-again.service")
	settle()
	if n := wakes(); n != 0 {
		t.Errorf("starting two services woke the collector %d times", n)
	}
	m.Run(t, "stop", "lmn-stop.service")
	settle()
	if n := wakes(); n != 0 {
		t.Errorf("systemctl stop woke the collector %d times", n)
	}
	m.Run(t, "restart", "lmn-again.service")
	settle()
	if n := wakes(); n != 0 {
		t.Errorf("systemctl restart woke the collector %d times", n)
	}

	release("lmn-exit")
	waitState("lmn-exit.service", "inactive", "dead")
	settle()
	if n := wakes(); n == 0 {
		t.Error("lmn-exit.service exiting 0 (active → inactive, no job) did not wake the collector")
	}
	release("lmn-again")
	select { // the auto-restart, before the restart job starts it again
	case <-fired:
	case <-time.After(10 * time.Second):
		t.Error("lmn-again.service exiting into its auto-restart did not wake the collector")
	}
	waitState("lmn-again.service", "active", "running")
	if got := u.units.Failed; len(got) != 3 { // sandboxUnits' three, nothing of this test's
		t.Errorf("failed units %+v", got)
	}
}

// TestUnitEventsNote: the rule on signals as systemd orders them. A stop
// job's JobNew comes before the unit's state changes and its JobRemoved
// after them (systemd sends a unit's pending PropertiesChanged before a
// job's JobRemoved), so a stop never looks unexpected.
func TestUnitEventsNote(t *testing.T) {
	e := &unitEvents{failed: map[string]bool{}, active: map[string]bool{"a.service": true, "b.service": true, "c.mount": true},
		jobs: map[string][]uint32{}}
	changed := func(unit, active, sub string, job uint32) dbus.Signal {
		return dbus.Signal{Kind: dbus.UnitChanged, Unit: unit, ActiveState: active, SubState: sub, Job: job}
	}
	steps := []struct {
		s    dbus.Signal
		wake bool
	}{
		// systemctl stop a.service
		{dbus.Signal{Kind: dbus.JobNew, Unit: "a.service", Job: 7}, false},
		{changed("a.service", "deactivating", "stop-sigterm", 7), false},
		{changed("a.service", "inactive", "dead", 0), false}, // the job is uninstalled first
		{dbus.Signal{Kind: dbus.JobRemoved, Unit: "a.service", Job: 7, Result: "done"}, false},
		// started again by a job, then its main process exits
		{dbus.Signal{Kind: dbus.JobNew, Unit: "a.service", Job: 8}, false},
		{changed("a.service", "activating", "start", 8), false},
		{changed("a.service", "active", "running", 0), false},
		{dbus.Signal{Kind: dbus.JobRemoved, Unit: "a.service", Job: 8, Result: "done"}, false},
		{changed("a.service", "inactive", "dead", 0), true},
		{changed("a.service", "inactive", "dead", 0), false}, // no longer active
		// b.service crashes into its auto-restart, then fails for good
		{changed("b.service", "activating", "auto-restart", 0), true},
		{changed("b.service", "failed", "failed", 0), true}, // entering failed
		// a reload is not leaving active; a mount is not a service
		{changed("c.mount", "inactive", "dead", 0), false},
		{changed("d.service", "reloading", "reload", 0), false},
		{changed("d.service", "active", "running", 0), false},
		{changed("d.service", "deactivating", "stop-sigterm", 0), true}, // stopping itself
	}
	for i, st := range steps {
		if got := e.note(st.s); got != st.wake {
			t.Errorf("step %d %+v: wake %v, want %v", i, st.s, got, st.wake)
		}
	}
	if len(e.jobs) != 0 {
		t.Errorf("jobs left pending: %v", e.jobs)
	}
}
