package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
)

// The scenarios of lmn-collect's events: with a 30 s interval, whatever is
// seen within a few seconds came through an event, not the tick.

const slowTick = "30s"

// failedIn reports whether unit is in s's failed list.
func failedIn(s record.Sample, unit string) bool {
	return s.Units != nil && slices.ContainsFunc(s.Units.Failed, func(u record.Unit) bool { return u.Unit == unit })
}

// firstSample returns the first sample of lines that match.
func firstSample(t testing.TB, lines []Captured, match func(record.Sample) bool) (record.Sample, time.Time, bool) {
	for _, c := range lines {
		if kindOf(c.Raw) != record.KindSample {
			continue
		}
		var s record.Sample
		if err := json.Unmarshal(c.Raw, &s); err != nil {
			t.Fatalf("sample %q: %v", c.Raw, err)
		}
		if match(s) {
			return s, c.At, true
		}
	}
	return record.Sample{}, time.Time{}, false
}

// TestUnitFailureThroughEvents: a user unit crashes under a pipe whose
// tick is 30 s; the manager's signal wakes lmn-collect, lmn-heal issues the
// restart within seconds, and the unit running again, another signal,
// resolves the issue: recovered well before any tick.
func TestUnitFailureThroughEvents(t *testing.T) {
	skipShort(t)
	m := sdtest.Start(t)
	const name = "lmn-e2e-event.service"
	u := installUnit(t, m, name, crashScript)
	policy := writeFile(t, t.TempDir(), "policy.json", fmt.Sprintf(unitPolicy, breakerAttempts))
	p := sandboxPipe(t, m, policy, pipeOpts{interval: slowTick, heal: []string{"--tiers", "unprivileged,advise", "--sudo", "never"}})
	waitUnits(t, p)
	u.crash(t)
	recovered := hasHeal(func(h record.Heal) bool {
		return h.Phase == record.PhaseVerified && h.Outcome == record.OutcomeRecovered && h.Subject["unit"] == name
	})
	lines, err := p.Proc("heal").Out.Wait(10*time.Second, "recovered within 10 s of a 30 s tick", recovered)
	if err != nil {
		t.Fatal(err)
	}
	exit := eventTimes(u.events(t), "exit")[0]
	started := healAt(lines, record.PhaseStarted)
	if len(started) == 0 {
		t.Fatal("no restart_unit started record")
	}
	verified := healAt(lines, record.PhaseVerified)
	t.Logf("crash to restart issued: %v; to recovered: %v", started[0].at.Sub(exit).Round(time.Millisecond),
		verified[len(verified)-1].at.Sub(exit).Round(time.Millisecond))
	s, _, ok := firstSample(t, lines, func(s record.Sample) bool { return failedIn(s, name) })
	if !ok || s.Trigger != "unit" {
		t.Errorf("the first sample listing %s has trigger %q, want unit", name, s.Trigger)
	}
	if s, _, ok := firstSample(t, lines, func(s record.Sample) bool {
		return s.Seq > 1 && s.Units != nil && !failedIn(s, name) && s.TS.After(exit)
	}); !ok || s.Trigger != "unit" {
		t.Errorf("the sample seeing %s recovered has trigger %q, want unit", name, s.Trigger)
	}
	p.Stop(20 * time.Second)
	p.RequireClean()
}

// TestMissedEventCaughtByTick: what no event reported is still found by
// the tick. A unit that failed before lmn-collect subscribed is in its
// first sample; with --events none, a crash is found by the next tick.
func TestMissedEventCaughtByTick(t *testing.T) {
	skipShort(t)
	m := sdtest.Start(t)
	const before, later = "lmn-e2e-before.service", "lmn-e2e-later.service"
	m.WriteUnit(t, before, "[Service]\nType=oneshot\nExecStart=/bin/false\n")
	m.Command(t.Context(), "start", before).Run() // fails, as meant
	u := installUnit(t, m, later, crashScript)
	policy := writeFile(t, t.TempDir(), "policy.json", fmt.Sprintf(unitPolicy, breakerAttempts))
	p := sandboxPipe(t, m, policy, pipeOpts{interval: "2s", events: "none",
		heal: []string{"--tiers", "unprivileged,advise", "--sudo", "never"}})
	collect := p.Proc("collect")
	lines, err := collect.Out.Wait(20*time.Second, "a first sample", func(l []Captured) bool { return countKind(l, record.KindSample) > 0 })
	if err != nil {
		t.Fatal(err)
	}
	if s := samplesOf(t, lines)[0]; s.Trigger != "tick" || !failedIn(s, before) {
		t.Errorf("first sample: trigger %q, units %+v; want a tick listing %s", s.Trigger, s.Units, before)
	}
	u.crash(t)
	lines, err = collect.Out.Wait(10*time.Second, "a sample listing "+later, func(l []Captured) bool {
		_, _, ok := firstSample(t, l, func(s record.Sample) bool { return failedIn(s, later) })
		return ok
	})
	if err != nil {
		t.Fatal(err)
	}
	if s, _, _ := firstSample(t, lines, func(s record.Sample) bool { return failedIn(s, later) }); s.Trigger != "tick" {
		t.Errorf("with --events none the crash was sampled by %q, want the tick", s.Trigger)
	}
	for _, s := range samplesOf(t, lines) {
		if s.Trigger != "tick" {
			t.Errorf("sample %d has trigger %q with --events none", s.Seq, s.Trigger)
		}
	}
	p.Stop(20 * time.Second)
	p.RequireClean()
}

// stormPolicy heals nothing: the storm's units match no ladder, so
// lmn-heal only passes records on.
const stormPolicy = `{"ladders": [{"name": "none", "rules": ["unit_failed"], "match": {"unit": "nothing-*"},
  "steps": [{"actions": [{"action": "restart_unit", "params": {"unit": "{{unit}}"}}], "verify": "1m"}],
  "advice": "none"}]}`

// TestUnitStorm: 500 short-lived units fail within a few seconds. The
// samples they cause stay bounded (one per 25 ms at most), lmn-collect's
// CPU stays bounded, and no record is lost or split on the way down the
// pipe: every unit gets its issue.
func TestUnitStorm(t *testing.T) {
	skipShort(t)
	m := sdtest.Start(t)
	m.WriteUnit(t, "lmn-e2e-storm@.service", "[Service]\nType=oneshot\nExecStart=/bin/false\n")
	policy := writeFile(t, t.TempDir(), "policy.json", stormPolicy)
	p := sandboxPipe(t, m, policy, pipeOpts{interval: slowTick, heal: []string{"--tiers", "advise", "--sudo", "never"}})
	waitUnits(t, p)
	collect := p.Proc("collect")
	cpu0 := cpuTicks(t, collect.Pid())
	const n = 500
	units := make([]string, n)
	for i := range units {
		units[i] = fmt.Sprintf("lmn-e2e-storm@%d.service", i)
	}
	start := time.Now()
	m.Run(t, append([]string{"start", "--no-block"}, units...)...)
	all := func(l []Captured) bool {
		for i := len(l) - 1; i >= 0; i-- {
			if kindOf(l[i].Raw) == record.KindSample {
				var s record.Sample
				return json.Unmarshal(l[i].Raw, &s) == nil && s.Units != nil && len(s.Units.Failed) == n
			}
		}
		return false
	}
	lines, err := collect.Out.Wait(2*time.Minute, "a sample listing all 500 failed units", all)
	if err != nil {
		t.Fatal(err)
	}
	storm := time.Since(start)
	time.Sleep(time.Second) // what the last events cause
	cpu := cpuTicks(t, collect.Pid()) - cpu0
	p.Stop(30 * time.Second)
	p.RequireClean()

	lines = collect.Out.All()
	var during int
	for _, s := range samplesOf(t, lines) {
		if s.TS.After(start) {
			during++
		}
	}
	limit := int((storm+time.Second)/(25*time.Millisecond)) + 2
	cpuShare := float64(cpu) / 100 / (storm + time.Second).Seconds() // USER_HZ is 100
	t.Logf("%d units failed in %v: %d samples, lmn-collect used %.0f %% of a core", n, storm.Round(time.Millisecond), during, 100*cpuShare)
	if during > limit {
		t.Errorf("%d samples in %v, more than one per 25 ms (%d)", during, storm, limit)
	}
	if cpuShare > 0.5 {
		t.Errorf("lmn-collect used %.0f %% of a core during the storm, want at most half", 100*cpuShare)
	}
	// Nothing lost or split: every sample, in order and whole, at every
	// stage; one firing issue per unit.
	seqs := []uint64{}
	for _, s := range samplesOf(t, lines) {
		seqs = append(seqs, s.Seq)
	}
	for i, q := range seqs {
		if q != uint64(i+1) {
			t.Fatalf("sample seqs %v...: %d at position %d", seqs[:min(len(seqs), 20)], q, i)
		}
	}
	for i := 1; i < len(p.Procs)-1; i++ { // the last, lmn-dash, draws
		if missing, ok := isSubsequence(p.Procs[i-1].Out.All(), p.Procs[i].Out.All()); !ok {
			t.Errorf("%s did not pass on %.200s", p.Procs[i].Name, missing)
		}
	}
	fired := map[string]bool{}
	for _, is := range issuesOf(t, p.Proc("detect").Out.All()) {
		if is.Rule == "unit_failed" && is.State == record.StateFiring && strings.HasPrefix(is.Subject["unit"], "lmn-e2e-storm@") {
			fired[is.Subject["unit"]] = true
		}
	}
	if len(fired) != n {
		t.Errorf("%d units have a firing issue, want %d", len(fired), n)
	}
}

// linkRules enable interface_down for the veth, holding for one sample.
const linkRules = `{"extend": true, "rules": [{"name": "interface_down", "enabled": true, "match": ["lmnv0"], "for": 1}]}`

// linkPipe runs lmn-collect (link events only, a 30 s tick) | lmn-detect
// (rules) | lmn-heal (advice only) | lmn-dash, lmn-collect in a network
// namespace of its own with its own sysfs (so /sys/class/net is that
// namespace's) and a veth pair lmnv0, lmnv1 with 10.99.0.1/24 on lmnv0. It
// returns the pipe and a function running ip(8) in the namespace.
func linkPipe(t testing.TB, rules string) (*Pipe, func(args ...string)) {
	t.Helper()
	needRoot(t, "creates a network namespace")
	if _, err := runCmd("ip", "-V"); err != nil {
		t.Skip("no ip(8) (iproute2)")
	}
	const setup = `mount -t sysfs sysfs /sys && ip link add lmnv0 type veth peer name lmnv1 &&
ip link set lmnv1 up && ip link set lmnv0 up && ip addr add 10.99.0.1/24 dev lmnv0 && exec "$@"`
	collect := []string{"unshare", "--net", "--mount", "--propagation", "private", "/bin/sh", "-c", setup, "sh",
		bin(t, "lmn-collect"), "--interval", slowTick, "--units", "none", "--events", "link"}
	p := startPipe(t, nil,
		Stage{Name: "collect", Args: collect},
		Stage{Name: "detect", Args: []string{bin(t, "lmn-detect"), "--rules", rules}},
		Stage{Name: "heal", Args: []string{bin(t, "lmn-heal"), "--tiers", "advise", "--sudo", "never"}},
		dashStage(t))
	ip := func(args ...string) {
		t.Helper()
		if out, err := runCmd(append([]string{"nsenter", "-t", fmt.Sprint(p.Proc("collect").Pid()), "-n", "ip"}, args...)...); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	waitSample(t, p, "lmnv0 up with a carrier", func(s record.Sample) bool { i, ok := veth(s); return ok && i.Up && i.OperState == "up" })
	return p, ip
}

// veth returns lmnv0 as s lists it.
func veth(s record.Sample) (record.Interface, bool) {
	if s.Net != nil {
		for _, i := range s.Net.Interfaces {
			if i.Name == "lmnv0" {
				return i, true
			}
		}
	}
	return record.Interface{}, false
}

// waitSample waits for lmn-collect's first sample that matches.
func waitSample(t testing.TB, p *Pipe, what string, match func(record.Sample) bool) record.Sample {
	t.Helper()
	var s record.Sample
	_, err := p.Proc("collect").Out.Wait(10*time.Second, what, func(l []Captured) bool {
		var ok bool
		s, _, ok = firstSample(t, l, match)
		return ok
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestLinkEvents: with a veth in a namespace of the test's own,
// interface_down fires the moment the link goes down and resolves when it
// comes back; a default route added and removed is sampled at once.
func TestLinkEvents(t *testing.T) {
	skipShort(t)
	p, ip := linkPipe(t, writeFile(t, t.TempDir(), "rules.json", linkRules))
	up := waitSample(t, p, "lmnv0 up", func(s record.Sample) bool { i, ok := veth(s); return ok && i.Up })
	down := time.Now()
	ip("link", "set", "lmnv0", "down")
	s := waitSample(t, p, "lmnv0 down", func(s record.Sample) bool { i, ok := veth(s); return ok && !i.Up })
	if s.Trigger != "link" || s.Seq <= up.Seq {
		t.Errorf("lmnv0 seen down in sample %d with trigger %q, want an event sample", s.Seq, s.Trigger)
	}
	interfaceDownCycle(t, p, "link down", down, func() { ip("link", "set", "lmnv0", "up") })
	ip("route", "add", "default", "via", "10.99.0.2", "dev", "lmnv0")
	if s := waitSample(t, p, "a default route", func(s record.Sample) bool { return s.Net != nil && s.Net.DefaultRoute }); s.Trigger != "route" && s.Trigger != "link" {
		t.Errorf("the default route was sampled by %q, want an event", s.Trigger)
	}
	ip("route", "del", "default")
	waitSample(t, p, "the default route gone", func(s record.Sample) bool {
		return s.Net != nil && !s.Net.DefaultRoute && s.Trigger == "route"
	})
	p.Stop(20 * time.Second)
	p.RequireClean()
}

// interfaceDownCycle waits for lmnv0's interface_down issue to fire,
// logs how long after broke (the moment the test broke the link) it came,
// then calls mend and waits for the issue to resolve.
func interfaceDownCycle(t *testing.T, p *Pipe, what string, broke time.Time, mend func()) {
	t.Helper()
	lmnv0 := func(state string) func(record.Issue) bool {
		return func(is record.Issue) bool {
			return is.Rule == "interface_down" && is.State == state && is.Subject["interface"] == "lmnv0"
		}
	}
	lines, err := p.Proc("detect").Out.Wait(10*time.Second, "interface_down firing", hasIssue(lmnv0(record.StateFiring)))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range lines {
		if kindOf(c.Raw) == record.KindIssue {
			t.Logf("%s to the issue: %v", what, c.At.Sub(broke).Round(time.Millisecond))
			break
		}
	}
	mend()
	if _, err := p.Proc("detect").Out.Wait(10*time.Second, "interface_down resolved", hasIssue(lmnv0(record.StateResolved))); err != nil {
		t.Fatal(err)
	}
}

// TestCarrierLostEvent: a link that loses its carrier while it stays
// administratively up, as an Ethernet port does when its cable is pulled.
// Setting the veth's peer down drops lmnv0's carrier (IFF_LOWER_UP) and
// leaves its IFF_UP: the rtnetlink event samples it at once with `carrier`
// false, and interface_down fires; the peer up again resolves it.
func TestCarrierLostEvent(t *testing.T) {
	skipShort(t)
	p, ip := linkPipe(t, writeFile(t, t.TempDir(), "rules.json", linkRules))
	carrier := func(want bool) func(record.Sample) bool {
		return func(s record.Sample) bool {
			i, ok := veth(s)
			return ok && i.Carrier != nil && *i.Carrier == want
		}
	}
	up := waitSample(t, p, "lmnv0 with a carrier", carrier(true))
	lost := time.Now()
	ip("link", "set", "lmnv1", "down")
	s := waitSample(t, p, "lmnv0 without a carrier", carrier(false))
	if i, _ := veth(s); !i.Up || s.Trigger != "link" || s.Seq <= up.Seq {
		t.Errorf("lmnv0 without carrier in sample %d (trigger %q): %+v; want still up, in an event sample", s.Seq, s.Trigger, i)
	}
	interfaceDownCycle(t, p, "peer down", lost, func() { ip("link", "set", "lmnv1", "up") })
	p.Stop(20 * time.Second)
	p.RequireClean()
}

// TestOOMKillEvent: a service's process killed by the OOM killer is
// sampled at once. lmn-collect reads a sysfs root whose cgroup trees are a
// cgroup the test owns (symbolic links to it), holding
// system.slice/lmn-e2e-oom.service limited to 32 MiB: the sandboxed user
// manager cannot enforce MemoryMax= on this hybrid host (its cgroup2 tree
// has no memory controller, and a user manager does not drive the v1
// one: a unit with MemoryMax=16M runs dd bs=64M to completion), so the
// test puts the load in the cgroup itself. The collector ranks the
// service in mem.top_units, watches its cgroup, and the kill wakes it.
func TestOOMKillEvent(t *testing.T) {
	skipShort(t)
	g := sdtest.NewGroup(t, 0)
	if g.Memory == "" {
		t.Skip("no memory controller")
	}
	svc, err := g.Sub("system.slice/lmn-e2e-oom.service", 32<<20)
	if err != nil {
		t.Fatal(err)
	}
	sys := cgroupSysRoot(t, g)
	startIn(t, svc, "/bin/sleep", "300") // something for the cgroup to count
	p := startPipe(t, nil,
		Stage{Name: "collect", Args: []string{bin(t, "lmn-collect"), "--sys-root", sys, "--interval", slowTick,
			"--units", "none", "--events", "oom"}},
		Stage{Name: "detect", Args: []string{bin(t, "lmn-detect")}})
	collect := p.Proc("collect")
	if _, err := collect.Out.Wait(10*time.Second, "the service ranked", func(l []Captured) bool {
		_, _, ok := firstSample(t, l, func(s record.Sample) bool {
			return s.Mem != nil && len(s.Mem.TopUnits) == 1 && s.Mem.TopUnits[0].Unit == "lmn-e2e-oom.service"
		})
		return ok
	}); err != nil {
		t.Fatal(err)
	}
	hog := startIn(t, svc, "/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
	hog.Wait()
	killed := time.Now()
	lines, err := collect.Out.Wait(5*time.Second, "an oom sample", func(l []Captured) bool {
		_, _, ok := firstSample(t, l, func(s record.Sample) bool { return s.Trigger == "oom" })
		return ok
	})
	if err != nil {
		t.Fatal(err)
	}
	_, at, _ := firstSample(t, lines, func(s record.Sample) bool { return s.Trigger == "oom" })
	t.Logf("the oom sample left lmn-collect %v after the test reaped dd (negative: before)", at.Sub(killed).Round(time.Millisecond))
	p.Stop(20 * time.Second)
	p.RequireClean()
}

// cgroupSysRoot makes a sysfs root for lmn-collect whose cgroup trees are
// the group g (symbolic links), and whose other parts are the machine's.
func cgroupSysRoot(t testing.TB, g *sdtest.Group) string {
	t.Helper()
	root := t.TempDir()
	links := map[string]string{"fs/cgroup": g.Unified}
	if g.MemoryV1 {
		links = map[string]string{"fs/cgroup/unified": g.Unified, "fs/cgroup/memory": g.Memory}
	}
	for _, d := range []string{"class", "block", "devices", "bus"} {
		links[d] = filepath.Join("/sys", d)
	}
	for rel, target := range links {
		link := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// startIn starts a command in g, killed at the end of the test.
func startIn(t testing.TB, g *sdtest.Group, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	if err := g.Start(cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}
