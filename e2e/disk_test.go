package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// diskRules watch only the test's filesystem, with windows short enough
// for a test: the trend rule fires once the fit says full within a minute.
const diskRules = `{"rules": [
  {"name": "disk_fill_trend", "kind": "trend", "metric": "disks.mounts[].used_ratio",
   "direction": "above", "limit": 1, "window": "10s", "horizon": "1m", "critical_horizon": "5s",
   "clear_horizon": "2m", "min_history": "1s", "match": [%q]},
  {"name": "disk_usage", "kind": "threshold", "metric": "disks.mounts[].used_ratio",
   "direction": "above", "warning": 0.85, "critical": 0.95, "clear": 0.8, "for": 1, "match": [%q]}
]}`

// diskPolicy answers both rules for the test's mount with the harmless
// noop action (the "configured action"), then advice.
const diskPolicy = `{"concurrency": 1,
 "budget": {"max_actions": 10, "window": "1h"},
 "breaker": {"max_attempts": 3, "window": "1m", "backoff": "1s", "max_backoff": "5s",
             "cooldown": "1m", "reset_after": "5m"},
 "restore_after": "1m",
 "ladders": [
  {"name": "e2e_disk", "rules": ["disk_fill_trend", "disk_usage"], "match": {"mount": %q},
   "steps": [{"actions": [{"action": "noop"}], "verify": "1s"}],
   "advice": "{{mount}} is filling: look for large files (du -xh -d 2 {{mount}})"}
 ]}`

// TestFillingDisk is scenario 3: a 16 MiB tmpfs, mounted in a private mount
// namespace that only lmn-collect sees, is filled step by step through
// /proc/PID/root. The trend issue fires before the filesystem is full, the
// configured action (noop) runs and the ladder ends in advice; the files
// written are all still there; the mount never appears on the host and is
// gone with the collector.
func TestFillingDisk(t *testing.T) {
	skipShort(t)
	needRoot(t, "mounting a tmpfs in a private mount namespace")
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux) for the private mount namespace")
	}
	if out, err := exec.Command("unshare", "--mount", "--propagation", "private", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot create a mount namespace here: %v: %s", err, out)
	}
	dir := t.TempDir()
	mnt := filepath.Join(dir, "fill")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	rules := writeFile(t, dir, "rules.json", fmt.Sprintf(diskRules, mnt, mnt))
	policy := writeFile(t, dir, "policy.json", fmt.Sprintf(diskPolicy, mnt))

	const mountCollect = `mount -t tmpfs -o size=16m lmn-e2e "$1" && shift && exec "$@"`
	p := startPipe(t, nil,
		Stage{Name: "collect", Args: []string{"unshare", "--mount", "--propagation", "private", "--",
			"/bin/sh", "-c", mountCollect, "sh", mnt, bin(t, "lmn-collect"), "--interval", "200ms", "--units", "none"}},
		Stage{Name: "detect", Args: []string{bin(t, "lmn-detect"), "--rules", rules}},
		Stage{Name: "heal", Args: []string{bin(t, "lmn-heal"), "--policy", policy, "--tiers", "unprivileged,advise",
			"--sudo", "never", "--privd-socket", filepath.Join(dir, "no-privd.sock"), "--key-file", filepath.Join(dir, "no.key")}},
	)
	collect := p.Proc("collect")
	if _, err := collect.Out.Wait(20*time.Second, "a sample with the tmpfs", func(l []Captured) bool {
		return usedRatio(t, l, mnt) >= 0
	}); err != nil {
		t.Fatalf("collect: %v", err)
	}
	if hostHasMount(t, mnt) {
		t.Fatalf("the test's tmpfs %s is visible on the host: the namespace is not private", mnt)
	}

	// Fill 1 MiB every 250 ms through the collector's view of the mount
	// until heal has acted and advised, never past 12 of the 16 MiB (75 %,
	// below disk_usage's 85 %: the trend must warn before the threshold).
	fill := filepath.Join(fmt.Sprintf("/proc/%d/root", collect.Pid()), mnt)
	chunk := bytes.Repeat([]byte("lmn"), 1<<20/3)
	detect, heal := p.Proc("detect"), p.Proc("heal")
	fired := hasIssue(func(is record.Issue) bool {
		return is.Rule == "disk_fill_trend" && is.State == record.StateFiring && is.Subject["mount"] == mnt
	})
	ran := hasHeal(func(h record.Heal) bool {
		return h.Action == "noop" && h.Phase == record.PhaseSucceeded && h.Tier == record.TierUnprivileged
	})
	advised := hasHeal(func(h record.Heal) bool { return h.Phase == record.PhaseAdvised && strings.Contains(h.Advice, mnt) })
	healed := func(l []Captured) bool { return ran(l) && advised(l) }
	written, writtenAtFire := 0, -1
	var atFire syscall.Statfs_t
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !healed(heal.Out.All()); {
		if writtenAtFire < 0 && fired(detect.Out.All()) {
			writtenAtFire = written
			if err := syscall.Statfs(fill, &atFire); err != nil {
				t.Fatalf("statfs %s: %v", fill, err)
			}
		}
		if written < 12 {
			if err := os.WriteFile(filepath.Join(fill, fmt.Sprintf("chunk-%02d", written)), chunk, 0o644); err != nil {
				t.Fatalf("fill the tmpfs: %v", err)
			}
			written++
		}
		time.Sleep(250 * time.Millisecond)
	}
	lines := detect.Out.All()
	if writtenAtFire < 0 {
		t.Fatalf("no disk_fill_trend issue for %s after writing %d MiB", mnt, written)
	}
	if atFire.Bavail == 0 {
		t.Errorf("the filesystem was full when the trend issue fired")
	}
	for _, is := range issuesOf(t, lines) {
		if is.Rule == "disk_usage" {
			t.Errorf("disk_usage fired (%s) although the fill stopped at 75 %%", is.Summary)
		}
		if is.Rule != "disk_fill_trend" || is.State != record.StateFiring {
			continue
		}
		if is.Value >= 1 || is.ETASeconds == nil || *is.ETASeconds <= 0 {
			t.Errorf("trend issue fired at used %.2f with eta %v; want before full, with a positive eta", is.Value, is.ETASeconds)
		}
		t.Logf("trend fired after %d MiB of 16 written: %s", writtenAtFire, is.Summary)
	}
	if !healed(heal.Out.All()) {
		t.Fatalf("heal: no noop run followed by advice for %s within 30 s", mnt)
	}
	entries, err := os.ReadDir(fill)
	if err != nil {
		t.Fatalf("read the tmpfs: %v", err)
	}
	if len(entries) != written {
		t.Errorf("the tmpfs holds %d files, the test wrote %d: lmn must never delete user files", len(entries), written)
	}
	p.Stop(10 * time.Second)
	p.RequireClean()
	if hostHasMount(t, mnt) {
		t.Errorf("the tmpfs %s is left mounted on the host", mnt)
	}
}

// usedRatio returns the used ratio of mount in the latest sample of lines
// that lists it, or -1.
func usedRatio(t testing.TB, lines []Captured, mount string) float64 {
	samples := samplesOf(t, lines)
	for i := len(samples) - 1; i >= 0; i-- {
		if samples[i].Disks == nil {
			continue
		}
		for _, m := range samples[i].Disks.Mounts {
			if m.Mount == mount {
				return m.UsedRatio
			}
		}
	}
	return -1
}

// hostHasMount reports whether the test process's mount namespace has a
// mount at path.
func hostHasMount(t testing.TB, path string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatalf("read mountinfo: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == path {
			return true
		}
	}
	return false
}

// writeFile writes content to dir/name and returns the path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
