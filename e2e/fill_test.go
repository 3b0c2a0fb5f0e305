package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// ext4 is a real ext4 filesystem in an image on a loop device, mounted at
// /nix in a private mount namespace that only a holder process (and what
// the test runs in it) sees: to lmn-collect inside, it is the mount that
// holds the Nix store.
type ext4 struct {
	t      testing.TB
	holder *exec.Cmd
	mnt    string // /proc/PID/root/nix: the filesystem, from the test
	n      int    // files written
}

const ext4Mount = "/nix"

func newExt4(t testing.TB, mib int) *ext4 {
	t.Helper()
	needRoot(t, "a loop device and a mount namespace")
	for _, tool := range []string{"mkfs.ext4", "unshare", "nsenter", "losetup"} {
		needTool(t, tool)
	}
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, int64(mib)<<20); err != nil {
		t.Fatal(err)
	}
	// No reserved blocks: the filesystem can be filled to the last block.
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-m", "0", img).CombinedOutput(); err != nil {
		t.Skipf("mkfs.ext4: %v: %s", err, out)
	}
	holder := exec.Command("unshare", "--mount", "--propagation", "private", "--",
		"/bin/sh", "-c", `mount -o loop "$1" "$2" && echo mounted && exec sleep 3600`, "sh", img, ext4Mount)
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	holder.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() }) // the mount and the loop device go with the namespace
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "mounted\n" {
		t.Skipf("cannot mount an ext4 image in a private namespace here: %q %v", line, err)
	}
	d := &ext4{t: t, holder: holder, mnt: filepath.Join(fmt.Sprintf("/proc/%d/root", holder.Process.Pid), ext4Mount)}
	if hostHasMount(t, ext4Mount) {
		t.Fatalf("the test's ext4 at %s is visible on the host", ext4Mount)
	}
	return d
}

// sample runs lmn-collect once in the filesystem's namespace and returns
// its sample, keeping only the test's mount.
func (d *ext4) sample() record.Sample {
	d.t.Helper()
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(d.holder.Process.Pid), "-m", "--",
		bin(d.t, "lmn-collect"), "--count", "1", "--units", "none").Output()
	if err != nil {
		d.t.Fatalf("lmn-collect in the namespace: %v", err)
	}
	for _, line := range bytes.Split(out, []byte("\n")) {
		var s record.Sample
		if json.Unmarshal(line, &s) != nil || s.Kind != record.KindSample || s.Disks == nil {
			continue
		}
		for _, m := range s.Disks.Mounts {
			if m.Mount == ext4Mount {
				return record.Sample{Header: s.Header, IntervalSeconds: 5, Disks: &record.Disks{Mounts: []record.Mount{m}}}
			}
		}
	}
	d.t.Fatalf("lmn-collect's sample lacks %s:\n%s", ext4Mount, out)
	return record.Sample{}
}

// write adds a file of n bytes; full reports ENOSPC.
func (d *ext4) write(n int) (full bool) {
	d.t.Helper()
	d.n++
	err := os.WriteFile(filepath.Join(d.mnt, fmt.Sprintf("fill-%04d", d.n)), bytes.Repeat([]byte("lmn "), n/4), 0o644)
	if errors.Is(err, syscall.ENOSPC) {
		return true
	}
	if err != nil {
		d.t.Fatal(err)
	}
	return false
}

// fillTo writes until the filesystem is at least ratio full.
func (d *ext4) fillTo(ratio float64) record.Sample {
	for {
		s := d.sample()
		m := s.Disks.Mounts[0]
		if m.UsedRatio >= ratio {
			return s
		}
		need := int((ratio - m.UsedRatio) * float64(m.SizeBytes))
		if d.write(max(need, 4096)) {
			return d.sample()
		}
	}
}

// timeline is a recorded stream whose times the test sets: real samples,
// each stamped at the time the test says.
type timeline struct {
	b   strings.Builder
	at  time.Time
	seq uint64
}

// add appends s stamped at the timeline's time, then moves the time on by
// step, n times.
func (tl *timeline) add(t testing.TB, s record.Sample, n int, step time.Duration) {
	for range n {
		tl.seq++
		s.Header = record.NewHeader(record.KindSample, "lmn-collect", "box", tl.at)
		s.Seq = tl.seq
		line, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		tl.b.Write(line)
		tl.b.WriteByte('\n')
		tl.at = tl.at.Add(step)
	}
}

// replay runs `lmn-detect | lmn-heal --dry-run`, built-in rules and
// policy, over the timeline, and returns lmn-heal's output.
func (tl *timeline) replay(t testing.TB) []Captured {
	t.Helper()
	dir := t.TempDir()
	in := writeFile(t, dir, "samples.ndjson", tl.b.String())
	cmd := exec.Command("/bin/sh", "-c", `"$1" < "$3" | "$2" --dry-run --tiers advise --sudo never`, "sh",
		bin(t, "lmn-detect"), bin(t, "lmn-heal"), in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lmn-detect | lmn-heal --dry-run: %v", err)
	}
	var lines []Captured
	for _, l := range bytes.SplitAfter(out, []byte("\n")) {
		if len(l) > 0 {
			lines = append(lines, Captured{Raw: l})
		}
	}
	return lines
}

// TestWeakTrendDeletesNothing is issue 11's run that deleted NixOS
// generations: ten minutes of history on a disk 15 % full, filling at a
// rate that extrapolates to "full in under 6 h", and the nix_store_full
// ladder ran nix_gc at once. The filesystem here is a real ext4 holding the
// Nix store (to lmn-collect), the rules and policy are the built-in ones,
// and the test sets the samples' times: lmn-heal --dry-run must plan no
// destructive action until the disk is 90 % full and its issue has held
// for 10 minutes.
func TestWeakTrendDeletesNothing(t *testing.T) {
	skipShort(t)
	d := newExt4(t, 200)
	tl := &timeline{at: time.Now().UTC().Add(-3 * time.Hour)}
	s := d.fillTo(0.145)
	for range 20 { // 20 minutes at about 15 % an hour
		tl.add(t, s, 12, 5*time.Second)
		s = d.fillTo(s.Disks.Mounts[0].UsedRatio + 0.0025)
	}
	weak := tl.at
	s = d.fillTo(0.92)
	tl.add(t, s, 12*12, 5*time.Second) // 12 minutes nearly full
	lines := tl.replay(t)

	var trend *record.Issue
	for _, is := range issuesOf(t, lines) {
		if is.Rule == "disk_fill_trend" && is.State == record.StateFiring && trend == nil && is.TS.Before(weak) {
			trend = &is
		}
	}
	if trend == nil {
		t.Fatal("disk_fill_trend did not fire on the weak trend")
	}
	t.Logf("weak trend: %s", trend.Summary)
	var held, planned bool
	for _, h := range healsOf(t, lines) {
		if h.Action == "nix_gc" && h.Phase == record.PhasePlanned {
			if h.TS.Before(weak) {
				t.Errorf("nix_gc planned at %v on a disk below 90 %%: %+v", h.TS.Sub(trend.TS.Time), h)
			}
			planned = true
		}
		if h.Phase == record.PhaseAdvised && strings.Contains(h.Advice, "step 1 (nix_gc) held back") {
			held = true
		}
	}
	if !held {
		t.Error("no advice said nix_gc was held back")
	}
	if !planned {
		t.Error("nix_gc never planned once the disk was 92 % full for 12 minutes")
	}
}

// TestTimeToFullOnARealFill is issue 11's 200 MiB ext4 filled in 10
// minutes after an hour of flat history: the hour's fit said "full in
// 4 h 40 m" (true: 9.8 minutes) and, never written again, still said
// "56 m" 8 minutes before full. Real statfs values, times set by the test.
func TestTimeToFullOnARealFill(t *testing.T) {
	skipShort(t)
	d := newExt4(t, 200)
	tl := &timeline{at: time.Now().UTC().Add(-3 * time.Hour)}
	s := d.sample()
	tl.add(t, s, 12*60, 5*time.Second) // an hour, flat
	start := tl.at
	size := s.Disks.Mounts[0].SizeBytes
	var full time.Time
	for range 200 { // 10 minutes: the filesystem's size in 120 steps of 5 s
		if d.write(int(size / 120)) {
			break
		}
		s = d.sample()
		tl.add(t, s, 1, 5*time.Second)
		if s.Disks.Mounts[0].AvailBytes == 0 && full.IsZero() {
			full = tl.at
		}
	}
	if full.IsZero() {
		full = tl.at
	}
	t.Logf("full %v after the fill started", full.Sub(start))
	var fired []record.Issue
	for _, is := range issuesOf(t, tl.replay(t)) {
		if is.Rule == "disk_fill_trend" && is.State == record.StateFiring && is.ETASeconds != nil {
			fired = append(fired, is)
			t.Logf("at %v: %s", is.TS.Sub(start), is.Summary)
		}
	}
	if len(fired) < 3 {
		t.Fatalf("%d firing records: the ETA was not written again as it moved", len(fired))
	}
	if left := full.Sub(fired[0].TS.Time); left < 6*time.Minute {
		t.Errorf("warned %v before full, want at least 6m", left)
	}
	var latest *record.Issue // the latest written 3 minutes into the fill
	for i, is := range fired {
		if is.TS.After(start.Add(3 * time.Minute)) {
			break
		}
		latest = &fired[i]
	}
	if truth := full.Sub(start.Add(3 * time.Minute)); latest == nil || *latest.ETASeconds > 2*truth.Seconds() {
		t.Errorf("3 minutes into the fill (%v before full) the latest record says %v", truth, latest)
	}
	for _, is := range fired {
		if is.TS.Before(start.Add(2 * time.Minute)) {
			continue // the short window still holds the flat hour
		}
		if truth := full.Sub(is.TS.Time).Seconds(); *is.ETASeconds > 2*truth+60 {
			t.Errorf("at %v: %s; truth %.0fs", is.TS.Sub(start), is.Summary, truth)
		}
	}
}
