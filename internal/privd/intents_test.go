package privd

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/privproto"
)

// An intent whose process died (nobody holds its target) is closed with
// an unknown_outcome line at the next start; one whose action is running
// in another process (its target held) is left open.
func TestDanglingIntentsClosedAtStart(t *testing.T) {
	h := newHarness(t, nil)
	// A process that died mid-action left this intent and no result.
	dead := &Entry{TS: stamp(h.srv.now()), Event: EventIntent, ID: "deadbeef", Peer: &Peer{UID: 1, PID: 2, Via: "exec"},
		Action: "journal_vacuum", Params: map[string]string{"size": "1G"}, Target: "journal"}
	if err := h.srv.audit.write(dead); err != nil {
		t.Fatal(err)
	}
	// And the daemon is running an action right now.
	release, started := make(chan struct{}), make(chan struct{})
	h.srv.run = func(ctx context.Context, env action.Env, req action.Request) (action.Result, error) {
		close(started)
		<-release
		return action.Result{}, nil
	}
	errc := make(chan error, 1)
	go func() { _, err := h.client().Do(context.Background(), dropReq); errc <- err }()
	<-started
	if rep, _ := h.verify(); len(rep.Open) != 2 {
		t.Fatalf("open intents before the start: %+v", rep.Open)
	}
	// Another process starts (an exec under sudo, or the next daemon).
	other, err := New(h.cfg, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
	rep, err := h.verify()
	if err != nil || len(rep.Open) != 1 || rep.Open[0].Target != "caches" {
		t.Errorf("after a start beside a running action: %+v, %v; want only the running one open", rep.Open, err)
	}
	close(release)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	var closed []Entry
	for _, e := range h.entries() {
		if e.Event == EventUnknownOutcome {
			closed = append(closed, e)
		}
	}
	if len(closed) != 1 || closed[0].ID != "deadbeef" || closed[0].Action != "journal_vacuum" || !strings.Contains(closed[0].Reason, "died") {
		t.Errorf("unknown_outcome lines: %+v", closed)
	}
	if rep, err := h.verify(); err != nil || len(rep.Open) != 0 {
		t.Errorf("at the end: %+v, %v", rep, err)
	}
}

// The kill switch: any client may pause, only root resume; while paused
// every action is refused, by the daemon and by any other process on the
// same log, and the pause survives a restart.
func TestPauseRefusesEveryAction(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Env.Systemctl = failedManager(t) })
	ctx := context.Background()
	if _, err := h.client().Pause(ctx, "maintenance window"); err != nil {
		t.Fatalf("pause over the socket: %v", err)
	}
	restart := action.Request{Action: "restart_unit", Params: map[string]string{"unit": "nginx.service"}}
	for _, req := range []action.Request{dropReq, restart} {
		if _, err := h.client().Do(ctx, req); !errorsIs(err, privproto.ErrPaused, privproto.ErrRefused) || !strings.Contains(err.Error(), "maintenance window") {
			t.Errorf("%s while paused: %v, want refused as paused", req.Action, err)
		}
	}
	if err := h.client().Ping(ctx); err != nil {
		t.Errorf("ping while paused: %v", err)
	}
	other, err := New(h.cfg, nil, h.srv.log) // `lmn-privd exec` under sudo
	if err != nil {
		t.Fatal(err)
	}
	if r := other.Execute(&Peer{UID: 1000, Via: "exec"}, dropReq); r.OK || r.Code != privproto.CodePaused {
		t.Errorf("exec while paused: %+v", r)
	}
	other.Close()
	// A client may stop healing, never restart it.
	if r := h.srv.Control(&Peer{UID: 1000, Via: "socket"}, action.Request{Action: privproto.ControlResume}); r.OK || r.Code != privproto.CodeRefused {
		t.Errorf("resume by uid 1000: %+v, want refused", r)
	}
	if r := h.srv.Control(&Peer{UID: 0}, action.Request{Action: privproto.ControlResume, Params: map[string]string{"reason": "x"}}); r.OK {
		t.Errorf("resume with a parameter: %+v", r)
	}
	h.stop()
	h.start() // a restart: the pause is in the log
	if _, err := h.client().Do(ctx, dropReq); !errorsIs(err, privproto.ErrPaused) {
		t.Errorf("after a restart: %v, want still paused", err)
	}
	if r := h.srv.Control(&Peer{UID: 0, Via: "local"}, action.Request{Action: privproto.ControlResume}); !r.OK {
		t.Fatalf("resume by root: %+v", r)
	}
	if _, err := h.client().Do(ctx, dropReq); err != nil {
		t.Errorf("after resume: %v", err)
	}
	n := map[string]int{}
	for _, e := range h.entries() {
		n[e.Event]++
	}
	if n[EventPause] != 1 || n[EventResume] != 1 || n[EventIntent] != 1 || n[EventResult] != 1 {
		t.Errorf("audit events %v", n)
	}
	if _, err := h.verify(); err != nil {
		t.Error(err)
	}
}

func errorsIs(err error, targets ...error) bool {
	for _, t := range targets {
		if !errors.Is(err, t) {
			return false
		}
	}
	return err != nil
}

// lmn-heal's unit_failed ladder resets a failed unit and restarts it in
// one step; after the reset the unit is inactive, not failed, and the
// restart's premise is the reset lmn-privd itself just ran: once. The
// stand-in manager is a real program whose unit is failed until
// reset-failed makes it inactive.
func TestRestartAfterItsOwnReset(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "systemctl")
	reset := filepath.Join(dir, "was-reset")
	body := "#!/bin/sh\ncase \"$1\" in\n" +
		"show) if [ -e " + reset + " ]; then s=inactive; else s=failed; fi; printf 'LoadState=loaded\\nActiveState=%s\\n' $s;;\n" +
		"reset-failed) : > " + reset + ";;\nesac\nexit 0\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *Config) { c.Env.Systemctl = []string{script}; c.RateLimits = RateLimits{} })
	ctx := context.Background()
	do := func(act string) error {
		_, err := h.client().Do(ctx, action.Request{Action: act, Params: map[string]string{"unit": "web.service"}})
		return err
	}
	if err := do("reset_failed_unit"); err != nil {
		t.Fatal(err)
	}
	if err := do("restart_unit"); err != nil {
		t.Errorf("restart right after lmn-privd's own reset: %v", err)
	}
	if err := do("restart_unit"); !errors.Is(err, action.ErrDenied) {
		t.Errorf("a second restart of the inactive unit: %v, want refused", err)
	}
	// Another process (exec under sudo) sees the reset in the log too.
	os.Remove(reset)
	if err := do("reset_failed_unit"); err != nil {
		t.Fatal(err)
	}
	other, err := New(h.cfg, nil, h.srv.log)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if r := other.Execute(&Peer{UID: 1000, Via: "exec"}, action.Request{Action: "restart_unit", Params: map[string]string{"unit": "web.service"}}); !r.OK {
		t.Errorf("exec's restart after the daemon's reset: %+v", r)
	}
}
