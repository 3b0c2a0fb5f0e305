package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
)

// flakyUnit is docs/see-it-heal.md's flaky.service, word for word.
const flakyUnit = `[Unit]
Description=lmn demo: crashes when told to

[Service]
ExecStartPre=/bin/sh -c 'test -p %t/flaky.ctl || mkfifo %t/flaky.ctl'
ExecStart=/bin/sh -c 'echo "waiting on %t/flaky.ctl"; read word < %t/flaky.ctl; echo "crashing"; exit 3'
`

// walkthroughPolicy is the built-in policy with the ladders that could act
// on this host (not the sandbox) turned off by name: its unit_failed ladder,
// breaker and bounds are the defaults a person gets.
const walkthroughPolicy = `{"extend": true, "ladders": [
  {"name": "nix_store_full", "enabled": false}, {"name": "nix_store_usage", "enabled": false},
  {"name": "var_log_full", "enabled": false}, {"name": "network", "enabled": false},
  {"name": "dns", "enabled": false}, {"name": "temperature", "enabled": false},
  {"name": "mem_pressure", "enabled": false}]}`

// runtimeDir is the sandbox manager's %t.
func runtimeDir(m *sdtest.Manager) string {
	for _, kv := range m.Env() {
		if v, ok := strings.CutPrefix(kv, "XDG_RUNTIME_DIR="); ok {
			return v
		}
	}
	return ""
}

// tell writes word to a fifo once its reader is there.
func tell(t testing.TB, fifo, word string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			_, err = f.WriteString(word + "\n")
			f.Close()
			if err != nil {
				t.Fatalf("write %s: %v", fifo, err)
			}
			return
		}
		if !errors.Is(err, syscall.ENXIO) && !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			t.Fatalf("no reader on %s: %v", fifo, err)
		}
	}
}

// TestSeeItHealStep6 is docs/see-it-heal.md step 6 as a person does it,
// with the built-in policy and rules: crash flaky.service again each time
// lmn says it recovered (or gave up). The third crash in an hour used to
// leave it inactive (dead), no longer listed as failed, and forgotten: the
// flapping hold, step 2's reset-failed and the breaker together. It must
// end running, or failed and reported with advice.
func TestSeeItHealStep6(t *testing.T) {
	skipShort(t)
	t.Parallel()
	m := sdtest.Start(t)
	const unit = "flaky.service"
	m.WriteUnit(t, unit, flakyUnit)
	m.Run(t, "start", unit)
	policy := writeFile(t, t.TempDir(), "policy.json", walkthroughPolicy)
	p := sandboxPipe(t, m, policy, pipeOpts{interval: "1s", heal: []string{"--tiers", "unprivileged,advise", "--sudo", "never"}})
	waitUnits(t, p)
	heal := p.Proc("heal")
	fifo := filepath.Join(runtimeDir(m), "flaky.ctl")
	said := 0 // heal's final words so far
	final := func(h record.Heal) bool {
		return h.Subject["unit"] == unit && (h.Phase == record.PhaseGaveUp || h.Phase == record.PhaseAdvised ||
			h.Phase == record.PhaseVerified && h.Outcome == record.OutcomeRecovered)
	}
	for i := 1; i <= 4; i++ {
		tell(t, fifo, "crash")
		lines, err := heal.Out.Wait(5*time.Minute, "lmn's word on the crash", func(l []Captured) bool {
			n := 0
			for _, h := range healsOf(t, l) {
				if final(h) {
					n++
				}
			}
			return n > said
		})
		if err != nil {
			t.Fatalf("crash %d: %v", i, err)
		}
		var last record.Heal
		n := 0
		for _, h := range healsOf(t, lines) {
			if final(h) {
				last, n = h, n+1
			}
		}
		said = n
		active, sub, _ := m.State(t, unit)
		t.Logf("crash %d: lmn says %s %s (%s); the unit is %s/%s", i, last.Phase, last.Outcome, last.Advice, active, sub)
		if last.Phase != record.PhaseVerified {
			break // gave up or advised: the walk-through ends there
		}
	}
	time.Sleep(3 * time.Second) // the pipe sees the final state
	active, sub, _ := m.State(t, unit)
	p.Stop(20 * time.Second)
	p.RequireClean()
	hs := healsFor(t, p, unit)
	last := hs[len(hs)-1]
	switch {
	case active == "active":
	case active == "failed" && (last.Phase == record.PhaseGaveUp || last.Phase == record.PhaseAdvised) && last.Advice != "":
	default:
		t.Errorf("flaky.service ends %s/%s with lmn's last word %s %s %q: want it running, or failed and reported with advice",
			active, sub, last.Phase, last.Outcome, last.Advice)
	}
}

// TestReplayGivesTheSameHeals is issue 15's frozen replay clock: `lmn-detect
// | lmn-heal` over a recorded file used to take lmn-detect's fresh start
// record (today's time) as the clock, so no ladder advanced. A live pipe
// (lmn-heal --dry-run) watches a unit fail three times; its collector's
// stream, replayed through lmn-detect and lmn-heal, gives the same heal
// records, byte for byte.
func TestReplayGivesTheSameHeals(t *testing.T) {
	skipShort(t)
	t.Parallel()
	m := sdtest.Start(t)
	const name = "lmn-e2e-replay.service"
	u := installUnit(t, m, name, crashScript)
	dir := t.TempDir()
	policy := writeFile(t, dir, "policy.json", productionPolicy)
	// No flapping hold: three plain cycles of fail, plan, recover.
	rules := writeFile(t, dir, "rules.json", `{"extend": true, "rules": [{"name": "unit_failed", "flapping": {"transitions": 0, "window": "1h"}}]}`)
	p := sandboxPipe(t, m, policy, pipeOpts{interval: "1s", rules: rules,
		heal: []string{"--dry-run", "--tiers", "unprivileged,advise", "--sudo", "never"}})
	waitUnits(t, p)
	heal := p.Proc("heal")
	for i := 1; i <= 3; i++ {
		u.crash(t)
		if _, err := heal.Out.Wait(2*time.Minute, "a planned restart", func(l []Captured) bool {
			return len(started(plannedAsStarted(healsOf(t, l)))) >= i
		}); err != nil {
			t.Fatalf("crash %d: %v", i, err)
		}
		time.Sleep(3 * time.Second) // --dry-run restarted nothing: a person does
		m.Run(t, "start", name)
		if _, err := heal.Out.Wait(30*time.Second, "recovered", func(l []Captured) bool {
			n := 0
			for _, h := range healsOf(t, l) {
				if h.Phase == record.PhaseVerified && h.Outcome == record.OutcomeRecovered {
					n++
				}
			}
			return n >= i
		}); err != nil {
			t.Fatalf("crash %d: %v", i, err)
		}
	}
	p.Stop(20 * time.Second)
	p.RequireClean()

	var rec strings.Builder
	for _, c := range p.Proc("collect").Out.All() {
		rec.Write(c.Raw)
	}
	recorded := writeFile(t, dir, "collect.ndjson", rec.String())
	detected := filepath.Join(dir, "detect.ndjson")
	cmd := exec.Command("/bin/sh", "-c", `"$1" --rules "$4" < "$2" > "$3"`, "sh", bin(t, "lmn-detect"), recorded, detected, rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("lmn-detect < recording: %v: %s", err, out)
	}
	cmd = exec.Command("/bin/sh", "-c", `"$1" --dry-run --tiers unprivileged,advise --sudo never --policy "$2" < "$3"`,
		"sh", bin(t, "lmn-heal"), policy, detected)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lmn-heal < replay: %v", err)
	}
	var replayed []Captured
	for _, l := range strings.SplitAfter(string(out), "\n") {
		if l != "" {
			replayed = append(replayed, Captured{Raw: []byte(l)})
		}
	}
	live, again := healLines(heal.Out.All()), healLines(replayed)
	if len(live) < 6 {
		t.Fatalf("the live pipe wrote %d heal records, want at least 6", len(live))
	}
	if strings.Join(live, "") != strings.Join(again, "") {
		t.Errorf("replayed heal records differ from the live ones:\nlive:\n%s\nreplayed:\n%s", strings.Join(live, ""), strings.Join(again, ""))
	}
}

// plannedAsStarted reads planned records as started, for started().
func plannedAsStarted(hs []record.Heal) []record.Heal {
	for i := range hs {
		if hs[i].Phase == record.PhasePlanned {
			hs[i].Phase = record.PhaseStarted
		}
	}
	return hs
}

// healLines are the heal records among lines, as written.
func healLines(lines []Captured) []string {
	var out []string
	for _, c := range lines {
		if kindOf(c.Raw) == record.KindHeal {
			out = append(out, string(c.Raw))
		}
	}
	return out
}
