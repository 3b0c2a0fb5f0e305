package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/generations"
	"github.com/lmn-heal/lmn/internal/generations/gentest"
	"github.com/lmn-heal/lmn/internal/privd"
	"github.com/lmn-heal/lmn/internal/privproto"
)

// genEnv is a privd setup whose Nix root is a fake one: generations 1 and
// 2, running 2, 1 rejected in the record.
func genEnv(t *testing.T) (env, *gentest.Root, string) {
	t.Helper()
	r := gentest.New(t)
	r.Add(t, 1, "")
	r.Add(t, 2, "")
	r.SetProfile(t, 2)
	r.SetRunning(t, 2)
	rec := filepath.Join(r.Dir, "generations.json")
	run, _ := json.Marshal(r.SystemdRun(t))
	e := newEnv(t, `,"generations":{"record":`+strconv.Quote(rec)+`,"max_per_day":2}`)
	cfg, _ := os.ReadFile(e.config)
	cfg = bytes.Replace(cfg, []byte(`"env":{`), []byte(`"env":{"nix_root":`+strconv.Quote(r.Nix)+`,"run_root":`+strconv.Quote(r.Run)+`,"systemd_run":`+string(run)+`,`), 1)
	os.WriteFile(e.config, cfg, 0o600)
	err := generations.Update(rec, func(g *generations.Record) error {
		g.Rejected = append(g.Rejected, generations.Rejection{Generation: 1, StorePath: r.StorePath(1), Reason: "judged unhealthy"})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return e, r, rec
}

// A rejected generation is switched to only on a person's command line:
// the flag before exec. After exec it is no flag; over the socket there is
// no way to say it at all.
func TestAllowRejectedOnlyOnAPersonsCommandLine(t *testing.T) {
	e, r, _ := genEnv(t)
	code, out, _ := runArgs(t, "--config", e.config, "exec", "switch_generation", "generation=1")
	if code != 1 || !strings.Contains(out, "was rejected") {
		t.Fatalf("automatic switch to a rejected generation: %d %q", code, out)
	}
	if code, _, _ := runArgs(t, "--config", e.config, "exec", "--allow-rejected", "switch_generation", "generation=1"); code != 2 {
		t.Errorf("--allow-rejected after exec: exit %d, want 2 (no such action)", code)
	}
	if code, _, stderr := runArgs(t, "--allow-rejected", "serve", "--config", e.config); code != 2 || !strings.Contains(stderr, "for exec") {
		t.Errorf("--allow-rejected serve: %d %q", code, stderr)
	}
	if got := r.ProfileTarget(t); got != "system-2-link" {
		t.Fatalf("a refused request switched the profile to %s", got)
	}

	startDaemon(t, e)
	cl := client(t, e)
	waitFor(t, "the socket", func() bool { _, err := os.Stat(e.socket); return err == nil })
	_, err := cl.Do(t.Context(), action.Request{Action: "switch_generation", Params: map[string]string{"generation": "1"}})
	if !errors.Is(err, privproto.ErrRefused) || !strings.Contains(err.Error(), "was rejected") {
		t.Errorf("over the socket: %v", err)
	}
	_, err = cl.Do(t.Context(), action.Request{Action: "switch_generation", Params: map[string]string{"generation": "1", "allow_rejected": "true"}})
	if !errors.Is(err, action.ErrInvalid) {
		t.Errorf("an override smuggled in as a parameter: %v", err)
	}

	code, out, _ = runArgs(t, "--config", e.config, "--allow-rejected", "exec", "switch_generation", "generation=1")
	if code != 0 || !strings.Contains(out, "rejection of generation 1 lifted by a person") {
		t.Fatalf("a person's override: %d %q", code, out)
	}
	if got := r.ProfileTarget(t); got != "system-1-link" || strings.Join(r.Activations(t), " ") != "1_switch" {
		t.Errorf("profile %s, activations %v", got, r.Activations(t))
	}
	intent := auditIntent(t, e, "switch_generation")
	if intent.Peer == nil || !intent.Peer.AllowRejected || intent.Peer.Via != "exec" {
		t.Errorf("the intent line does not say a person overrode: %+v", intent.Peer)
	}
}

func auditIntent(t *testing.T, e env, name string) privd.Entry {
	t.Helper()
	b, _ := os.ReadFile(e.audit)
	for _, line := range bytes.Split(b, []byte("\n")) {
		var en privd.Entry
		if json.Unmarshal(line, &en) == nil && en.Event == privd.EventIntent && en.Action == name {
			return en
		}
	}
	t.Fatalf("no intent line for %s in %s", name, b)
	return privd.Entry{}
}
