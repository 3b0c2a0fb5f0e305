package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
)

// TestCrashingService is scenario 1: a user unit of a private systemd
// manager exits 3; the pipe sees it failed, restarts it and records
// `recovered`, and the manager really runs it again. Once through the
// unprivileged tier (systemctl --user), once through lmn-privd.
func TestCrashingService(t *testing.T) {
	skipShort(t)
	t.Run("unprivileged", func(t *testing.T) {
		m := sdtest.Start(t)
		crashAndHeal(t, m, pipeOpts{heal: []string{"--tiers", "unprivileged,advise"}}, record.TierUnprivileged)
	})
	t.Run("privd", func(t *testing.T) {
		m := sdtest.Start(t)
		sock, key, audit, stop := startPrivd(t, m)
		crashAndHeal(t, m, pipeOpts{system: true,
			heal: []string{"--tiers", "privd,advise", "--privd-socket", sock, "--key-file", key}}, record.TierPrivd)
		stop()
		b, err := os.ReadFile(audit)
		if err != nil {
			t.Fatalf("privd audit log: %v", err)
		}
		if !strings.Contains(string(b), "restart_unit") || !strings.Contains(string(b), "lmn-e2e-crash.service") {
			t.Errorf("privd's audit log does not record the restart:\n%s", b)
		}
		if out, err := runCmd(bin(t, "lmn-privd"), "verify-audit", audit); err != nil {
			t.Errorf("lmn-privd verify-audit: %v: %s", err, out)
		}
	})
}

func crashAndHeal(t *testing.T, m *sdtest.Manager, o pipeOpts, tier string) {
	const name = "lmn-e2e-crash.service"
	u := installUnit(t, m, name, crashScript)
	if o.system {
		asSystemManager(t, m, name)
	}
	dir := t.TempDir()
	policy := writeFile(t, dir, "policy.json", fmt.Sprintf(unitPolicy, breakerAttempts))
	o.heal = append(o.heal, "--sudo", "never", "--state", filepath.Join(dir, "heal.state"))
	p := sandboxPipe(t, m, policy, o)
	waitUnits(t, p)

	u.crash(t)
	heal := p.Proc("heal")
	recovered := hasHeal(func(h record.Heal) bool {
		return h.Action == "restart_unit" && h.Phase == record.PhaseVerified &&
			h.Outcome == record.OutcomeRecovered && h.Subject["unit"] == name
	})
	lines, err := heal.Out.Wait(30*time.Second, "restart_unit verified recovered", recovered)
	if err != nil {
		t.Fatalf("heal: %v", err)
	}
	var succeeded *record.Heal
	for _, h := range healsOf(t, lines) {
		if h.Action == "restart_unit" && h.Phase == record.PhaseSucceeded {
			succeeded = &h
		}
	}
	if succeeded == nil || succeeded.Tier != tier {
		t.Errorf("restart_unit succeeded record %+v; want one by tier %s", succeeded, tier)
	}
	if n := len(issuesOf(t, lines)); n < 2 {
		t.Errorf("heal passed on %d issue records; want the firing and the resolved one", n)
	}

	// The sandbox's real state: running again, started twice by now.
	evs := waitStarts(t, u, 2, 10*time.Second)
	active, sub, _ := m.State(t, name)
	if active != "active" || sub != "running" {
		t.Errorf("%s is %s/%s after the heal; want active/running", name, active, sub)
	}
	if countEvents(evs, "start") != 2 || countEvents(evs, "exit") != 1 {
		t.Errorf("%s's log: %v; want start, exit, start", name, evs)
	}
	p.Stop(20 * time.Second)
	p.RequireClean()
}

// TestKeepsCrashing is scenario 2: a user unit that crashes 0.6 s after
// every start. Each restart looks like a recovery until the next crash;
// after breakerAttempts restarts the breaker opens: gave_up with advice and
// retry_at, then exactly one half-open retry after the cool-down. The
// unit's real start count matches lmn's restarts and never exceeds the
// bound.
func TestKeepsCrashing(t *testing.T) {
	skipShort(t)
	m := sdtest.Start(t)
	const name = "lmn-e2e-loop.service"
	dir := t.TempDir()
	policy := writeFile(t, dir, "policy.json", fmt.Sprintf(unitPolicy, breakerAttempts))
	p := sandboxPipe(t, m, policy, pipeOpts{heal: []string{"--tiers", "unprivileged,advise", "--sudo", "never"}})
	waitUnits(t, p)
	u := installUnit(t, m, name, loopScript)

	heal := p.Proc("heal")
	restarts := func(l []Captured) []record.Heal {
		var out []record.Heal
		for _, h := range healsOf(t, l) {
			if h.Action == "restart_unit" && h.Phase == record.PhaseStarted {
				out = append(out, h)
			}
		}
		return out
	}
	gaveUp := hasHeal(func(h record.Heal) bool {
		return h.Phase == record.PhaseGaveUp && h.RetryAt != nil && h.Subject["unit"] == name
	})
	lines, err := heal.Out.Wait(60*time.Second, "gave_up with retry_at", gaveUp)
	if err != nil {
		t.Fatalf("heal: %v", err)
	}
	var first record.Heal
	for _, h := range healsOf(t, lines) {
		if h.Phase == record.PhaseGaveUp {
			first = h
			break
		}
	}
	if first.Advice == "" || !strings.Contains(first.Advice, name) {
		t.Errorf("gave_up record without advice naming the unit: %+v", first)
	}
	if n := len(restarts(lines)); n != breakerAttempts {
		t.Errorf("%d restarts before the breaker opened; want %d", n, breakerAttempts)
	}
	retryAt := first.RetryAt.Time
	// Wait for the half-open retry, then long enough to see that no
	// second one follows within the doubled cool-down.
	lines, err = heal.Out.Wait(30*time.Second, "the half-open retry", func(l []Captured) bool {
		return len(restarts(l)) > breakerAttempts
	})
	if err != nil {
		t.Fatalf("heal: %v", err)
	}
	retry := restarts(lines)[breakerAttempts]
	if retry.TS.Before(retryAt) {
		t.Errorf("half-open retry at %v, before retry_at %v", retry.TS.Time, retryAt)
	}
	// The retry failed too, so the breaker is open again for twice the
	// cool-down (8 s): no further restart may come in the next 5 s.
	time.Sleep(5 * time.Second)
	lines = heal.Out.All()
	p.Stop(20 * time.Second)
	p.RequireClean()

	n := len(restarts(lines))
	if n != breakerAttempts+1 {
		t.Errorf("%d restarts by lmn; want %d attempts and one half-open retry", n, breakerAttempts+1)
	}
	// The real count: the unit was started once by the test and once per
	// restart lmn issued, never more.
	starts := countEvents(waitStarts(t, u, 1+n, 10*time.Second), "start")
	if starts != 1+n {
		t.Errorf("the unit really started %d times; lmn issued %d restarts (+1 initial start)", starts, n)
	}
	for _, h := range healsOf(t, lines) {
		if h.Phase == record.PhaseGaveUp {
			t.Logf("gave_up: attempt %d, retry_at %v, advice %q", h.Attempt, h.RetryAt.Time, h.Advice)
		}
	}
}

// TestPrivilegesMissing is scenario 4: lmn-heal runs as an unprivileged
// user (nobody), lmn-privd has been stopped and sudo is off. A failed unit
// gets advice, with every tier passed over and why; the unit stays failed.
func TestPrivilegesMissing(t *testing.T) {
	skipShort(t)
	m := sdtest.Start(t)
	sock, key, _, stopPrivd := startPrivd(t, m)
	stopPrivd()
	// lmn-heal (nobody) holds the key, as lmn-heal's user does on a real
	// machine: what it lacks is a running lmn-privd.
	if err := os.Chown(key, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(key), 0o755); err != nil {
		t.Fatal(err)
	}
	const name = "lmn-e2e-noprivs.service"
	u := installUnit(t, m, name, crashScript)
	asSystemManager(t, m, name)
	// Not t.TempDir: its parent is private to root, and nobody reads the
	// policy.
	dir, err := os.MkdirTemp("", "lmn-e2e-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	policy := writeFile(t, dir, "policy.json", fmt.Sprintf(unitPolicy, breakerAttempts))
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	p := sandboxPipe(t, m, policy, pipeOpts{cred: nobody, system: true,
		heal: []string{"--tiers", "unprivileged,privd,sudo,fallback,advise", "--sudo", "never",
			"--privd-socket", sock, "--key-file", key}})
	waitUnits(t, p)
	u.crash(t)

	advised := hasHeal(func(h record.Heal) bool { return h.Phase == record.PhaseAdvised && h.Subject["unit"] == name })
	lines, err := p.Proc("heal").Out.Wait(30*time.Second, "advice", advised)
	if err != nil {
		t.Fatalf("heal: %v", err)
	}
	var denied map[string]string
	for _, h := range healsOf(t, lines) {
		t.Logf("heal %s %s tier=%s denied=%v advice=%q error=%q", h.Action, h.Phase, h.Tier, h.Denied, h.Advice, h.Error)
		if h.Phase == record.PhaseAdvised {
			if h.Advice == "" {
				t.Errorf("advised record without advice: %+v", h)
			}
		}
		for tier, why := range h.Denied {
			if denied == nil {
				denied = map[string]string{}
			}
			denied[tier] = why
		}
	}
	for _, tier := range []string{record.TierUnprivileged, record.TierPrivd, record.TierSudo} {
		if denied[tier] == "" {
			t.Errorf("no reason recorded for passing over tier %s (denied: %v)", tier, denied)
		}
	}
	// Each reason is the real one: nobody may not enter the sandbox,
	// lmn-privd is stopped, sudo is off.
	for tier, want := range map[string]string{record.TierUnprivileged: "permission", record.TierPrivd: "socket", record.TierSudo: "never"} {
		if !strings.Contains(denied[tier], want) {
			t.Errorf("tier %s passed over because %q; want a reason mentioning %q", tier, denied[tier], want)
		}
	}
	active, _, _ := m.State(t, name)
	if active != "failed" {
		t.Errorf("%s is %s; nothing had the privileges to restart it, want failed", name, active)
	}
	if n := countEvents(u.events(t), "start"); n != 1 {
		t.Errorf("%s started %d times; want only the test's start", name, n)
	}
	p.Stop(20 * time.Second)
	p.RequireClean()
}
