package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
)

// TestUnitsFromServiceManager runs lmn-collect inside the mount namespace
// of a real private systemd user manager, where /run/systemd/system exists,
// and checks that it lists the manager's failed unit over D-Bus, without
// systemctl: --units user through $XDG_RUNTIME_DIR/systemd/private, and
// --units system through /run/systemd/private, over which the test binds
// the same socket (in the sandbox's namespace only, as the end-to-end tests
// do).
func TestUnitsFromServiceManager(t *testing.T) {
	m := sdtest.Start(t)
	m.WriteUnit(t, "lmn-cmd-fail.service", "[Service]\nType=oneshot\nExecStart=/bin/false\n")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	m.Command(ctx, "start", "lmn-cmd-fail.service").Run() // fails, as meant
	cancel()
	var runtime string
	for _, kv := range m.Env() {
		if v, ok := strings.CutPrefix(kv, "XDG_RUNTIME_DIR="); ok {
			runtime = v
		}
	}
	ns := []string{"nsenter", "-t", strconv.Itoa(m.Pid()), "-m", "--"}
	bind := exec.Command(ns[0], append(ns[1:], "/bin/sh", "-c", `: > /run/systemd/private && mount --bind "$1" /run/systemd/private`,
		"sh", filepath.Join(runtime, "systemd", "private"))...)
	if out, err := bind.CombinedOutput(); err != nil {
		t.Fatalf("bind the sandbox manager's socket as the system one: %v: %s", err, out)
	}
	for scope, socket := range map[string]string{
		"user":   filepath.Join(runtime, "systemd", "private"),
		"system": "/run/systemd/private",
	} {
		t.Run(scope, func(t *testing.T) {
			// PATH without systemctl: a fallback to it would fail.
			cmd := exec.Command(ns[0], append(ns[1:], command(t).Path, "--units", scope, "--count", "2", "--interval", "10ms")...)
			cmd.Env = append(command(t).Env, m.Env()...)
			cmd.Env = append(cmd.Env, "PATH=/nonexistent")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("lmn-collect: %v; stderr:\n%s", err, &stderr)
			}
			if !strings.Contains(stderr.String(), "via=\"D-Bus "+socket+"\"") || strings.Contains(stderr.String(), "level=WARN") {
				t.Errorf("stderr does not say it asked over %s, or warns:\n%s", socket, &stderr)
			}
			samples := 0
			for sc := bufio.NewScanner(&stdout); sc.Scan(); {
				var s record.Sample
				if !strings.Contains(sc.Text(), `"kind":"sample"`) {
					continue
				}
				if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
					t.Fatal(err)
				}
				samples++
				want := record.Unit{Unit: "lmn-cmd-fail.service", Load: "loaded", Active: "failed",
					Sub: "failed", Description: "lmn-cmd-fail.service"}
				if s.Units == nil || s.Units.Scope != scope || len(s.Units.Failed) != 1 || s.Units.Failed[0] != want {
					t.Errorf("sample %d units: %+v", s.Seq, s.Units)
				}
			}
			if samples != 2 {
				t.Errorf("%d samples, want 2:\n%s", samples, &stdout)
			}
		})
	}
}

// TestUnitEvents runs lmn-collect --events unit with an hour's interval
// against a real private manager: a unit failing, and its failure being
// reset, each produce a sample at once, stamped "unit", listing what the
// manager lists; nothing else does.
func TestUnitEvents(t *testing.T) {
	m := sdtest.Start(t)
	m.WriteUnit(t, "lmn-cmd-ev.service", "[Service]\nType=oneshot\nExecStart=/bin/false\n")
	m.WriteUnit(t, "lmn-cmd-ok.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n")
	ns := []string{"nsenter", "-t", strconv.Itoa(m.Pid()), "-m", "--"}
	cmd := exec.Command(ns[0], append(ns[1:], command(t).Path, "--units", "user", "--interval", "1h", "--events", "unit")...)
	cmd.Env = append(command(t).Env, m.Env()...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan []byte, 64)
	go func() {
		for sc := bufio.NewScanner(out); sc.Scan(); {
			lines <- append([]byte(nil), sc.Bytes()...)
		}
		close(lines)
	}()
	next := func(what string) []byte {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("%s: lmn-collect ended; stderr:\n%s", what, &stderr)
			}
			return l
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: no line; stderr:\n%s", what, &stderr)
		}
		return nil
	}
	var start struct {
		Settings struct {
			EventsActive []string `json:"events_active"`
		} `json:"settings"`
	}
	if err := json.Unmarshal(next("start"), &start); err != nil || strings.Join(start.Settings.EventsActive, ",") != "unit" {
		t.Fatalf("start record: events_active %v, %v; stderr:\n%s", start.Settings.EventsActive, err, &stderr)
	}
	sample := func(what string) record.Sample {
		t.Helper()
		var s record.Sample
		if err := json.Unmarshal(next(what), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := sample("first tick"); s.Trigger != "tick" || s.Units == nil || len(s.Units.Failed) != 0 {
		t.Fatalf("first sample: trigger %q, units %+v", s.Trigger, s.Units)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	m.Command(ctx, "start", "lmn-cmd-ok.service").Run() // starts and stops: no sample
	m.Command(ctx, "start", "lmn-cmd-ev.service").Run() // fails
	s := sample("the unit failing")
	if s.Trigger != "unit" || s.Units == nil || len(s.Units.Failed) != 1 || s.Units.Failed[0].Unit != "lmn-cmd-ev.service" {
		t.Fatalf("after the failure: trigger %q, units %+v", s.Trigger, s.Units)
	}
	m.Run(t, "reset-failed", "lmn-cmd-ev.service")
	if s := sample("the failure reset"); s.Trigger != "unit" || s.Units == nil || len(s.Units.Failed) != 0 {
		t.Fatalf("after reset-failed: trigger %q, units %+v", s.Trigger, s.Units)
	}
	select {
	case l := <-lines:
		t.Errorf("a sample nothing caused: %s", l)
	case <-time.After(time.Second):
	}
}
