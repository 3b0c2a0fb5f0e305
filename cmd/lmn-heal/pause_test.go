package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// livePipe runs lmn-heal on a live pipe (actions in goroutines) and hands
// back its input and its heal records as they come.
func livePipe(t *testing.T, cfg config) (in io.Writer, heals <-chan record.Heal) {
	t.Helper()
	cfg.inline = false
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), cfg, inR, outW, io.Discard)
		outW.Close()
	}()
	ch := make(chan record.Heal, 100)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			var h record.Heal
			if json.Unmarshal(sc.Bytes(), &h) == nil && h.Kind != record.KindStart {
				ch <- h // every record, read as far as a heal record goes
			}
		}
	}()
	t.Cleanup(func() {
		inW.Close()
		for range ch {
		}
		if code := <-done; code != 0 {
			t.Errorf("exit %d", code)
		}
	})
	return inW, ch
}

// next returns the next record of kind heal, failing after 10 s.
func next(t *testing.T, heals <-chan record.Heal) record.Heal {
	t.Helper()
	return nextOf(t, heals, record.KindHeal)
}

func nextOf(t *testing.T, recs <-chan record.Heal, kind string) record.Heal {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case h := <-recs:
			if h.Kind == kind {
				return h
			}
		case <-timeout:
			t.Fatalf("no %s record within 10s", kind)
			return record.Heal{}
		}
	}
}

// TestPauseFileHoldsEveryActionThenResumes drives the kill switch with a
// real, harmless subprocess as systemctl that logs each action it is asked
// for: once the pause file exists no action starts, whatever arrives, and
// once it is gone the held ladders go on.
func TestPauseFileHoldsEveryActionThenResumes(t *testing.T) {
	dir := t.TempDir()
	pause, actions := filepath.Join(dir, "pause"), filepath.Join(dir, "actions")
	cfg := testConfig(t, "--tiers", "unprivileged", "--sudo", "never", "--pause-file", pause)
	cfg.systemctl = []string{"sh", "-c", `echo "$*" >>` + actions, "systemctl"}
	cfg.pauseRecheck = 0 // every record looks: the test writes them faster than 50 ms
	in, heals := livePipe(t, cfg)
	ran := func() int { // the actions asked for; "show" only looks
		b, _ := os.ReadFile(actions)
		return strings.Count(string(b), "\n") - strings.Count(string(b), "show ")
	}

	in.Write(stream(t, "0s issue unit_failed unit=a.service firing"))
	if h := next(t, heals); h.Phase != record.PhaseStarted {
		t.Fatalf("first record %s, want started", h.Phase)
	}
	if h := next(t, heals); h.Phase != record.PhaseSucceeded || ran() != 1 {
		t.Fatalf("record %s, %d actions run; want succeeded, 1", h.Phase, ran())
	}

	// Paused: no wait for the watcher, the very next record is held.
	os.WriteFile(pause, []byte("disk swap, back at 20:00\n"), 0o644)
	in.Write(stream(t, "10s issue unit_failed unit=b.service firing", "3m sample", "4m sample"))
	got := map[string]record.Heal{}
	for range 2 { // a's second step, b's first
		h := next(t, heals)
		if h.Phase == record.PhaseVerified {
			h = next(t, heals)
		}
		if h.Phase != record.PhaseHeld {
			t.Fatalf("while paused: %s %s %s, want held", h.Issue, h.Action, h.Phase)
		}
		got[h.Issue] = h
	}
	if a, b := got["unit_failed-a.service"], got["unit_failed-b.service"]; a.Step != 2 || b.Step != 1 ||
		!strings.Contains(b.Error, pause+" exists") || !strings.Contains(b.Error, "disk swap, back at 20:00") ||
		!strings.Contains(b.Advice, "remove "+pause) {
		t.Errorf("held records %+v", got)
	}
	if ran() != 1 {
		t.Fatalf("%d actions ran while paused", ran()-1)
	}

	// Resumed: the watcher sees the file gone and the ladders go on
	// without waiting for a record.
	os.Remove(pause)
	started := 0
	for started < 2 {
		if h := next(t, heals); h.Phase == record.PhaseStarted {
			started++
		}
	}
}

// TestActionAboutToStartLooksAtThePauseFile: with the record and ticker
// looks out of the way, the look each action takes before it starts is
// what holds it.
func TestActionAboutToStartLooksAtThePauseFile(t *testing.T) {
	dir := t.TempDir()
	pause, actions := filepath.Join(dir, "pause"), filepath.Join(dir, "actions")
	cfg := testConfig(t, "--tiers", "unprivileged", "--sudo", "never", "--pause-file", pause)
	cfg.systemctl = []string{"sh", "-c", `echo "$*" >>` + actions, "systemctl"}
	cfg.pauseRecheck, cfg.pauseEvery = time.Hour, time.Hour
	in, heals := livePipe(t, cfg)
	in.Write(stream(t, "0s sample"))
	nextOf(t, heals, record.KindSample) // lmn-heal is past its first look
	os.WriteFile(pause, nil, 0o644)
	in.Write(stream(t, "1s issue unit_failed unit=a.service firing"))
	if h := next(t, heals); h.Phase != record.PhaseStarted {
		t.Fatalf("first record %s, want started (the engine has not seen the pause)", h.Phase)
	}
	if h := next(t, heals); h.Phase != record.PhaseHeld || h.Step != 1 {
		t.Fatalf("then %s, want held", h.Phase)
	}
	if b, _ := os.ReadFile(actions); len(b) != 0 {
		t.Errorf("systemctl ran while paused: %s", b)
	}
}

func TestUnreadablePauseFileStillPauses(t *testing.T) {
	p := filepath.Join(t.TempDir(), strings.Repeat("x", 300), "pause") // stat fails: ENAMETOOLONG
	if got := readPause(p); got == nil || !strings.Contains(got.Reason, "cannot read it") {
		t.Errorf("readPause = %+v, want a pause that says why", got)
	}
}

func TestNoPauseFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
	for _, p := range []string{"", filepath.Join(dir, "absent"), filepath.Join(dir, "file", "pause")} {
		if got := readPause(p); got != nil {
			t.Errorf("readPause(%q) = %+v, want no pause", p, got)
		}
	}
}

// TestReplayWhilePaused: replaying a file (actions inline) with the pause
// file present plans nothing: every ladder is held.
func TestReplayWhilePaused(t *testing.T) {
	dir := t.TempDir()
	pause := filepath.Join(dir, "pause")
	os.WriteFile(pause, []byte("replay\n"), 0o644)
	cfg := testConfig(t, "--tiers", "unprivileged", "--sudo", "never", "--pause-file", pause)
	cfg.systemctl = []string{"sh", "-c", "echo ran >>" + filepath.Join(dir, "actions"), "systemctl"}
	out, _, code := runWith(t, cfg, stream(t,
		"0s issue unit_failed unit=a.service firing", "0s issue unit_failed unit=b.service firing", "5m sample"))
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var phases []string
	for _, l := range strings.Split(out, "\n") {
		var h record.Heal
		if json.Unmarshal([]byte(l), &h) == nil && h.Kind == record.KindHeal {
			phases = append(phases, h.Issue+":"+h.Phase)
		}
	}
	if got := strings.Join(phases, " "); got != "unit_failed-a.service:held unit_failed-b.service:held" {
		t.Errorf("heal records %q, want both held once", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "actions")); err == nil {
		t.Error("an action ran during a paused replay")
	}
}
