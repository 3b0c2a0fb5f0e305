package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lmn-heal/lmn/internal/collect/collecttest"
	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/systemd/dbus"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.ndjson")

// TestMain lets the test binary stand in for lmn-collect: with
// LMN_COLLECT_MAIN=1 it runs main with the remaining arguments.
func TestMain(m *testing.M) {
	if os.Getenv("LMN_COLLECT_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// command returns the test binary re-executed as lmn-collect.
func command(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "LMN_COLLECT_MAIN=1")
	return cmd
}

// fixtureConfig reads the fixture machine with its seams.
func fixtureConfig(t *testing.T, args ...string) config {
	t.Helper()
	root := collecttest.Root(t)
	// No events: the fixture's files are not the kernel's, and a synctest
	// bubble cannot wait on sockets.
	base := []string{"--proc-root", filepath.Join(root, "proc"), "--sys-root", filepath.Join(root, "sys"),
		"--nix-root", filepath.Join(root, "nix"), "--run-root", filepath.Join(root, "run"),
		"--generations-record", filepath.Join(root, "var", "lib", "luminous-privd", "generations.json"), "--events", "none"}
	cfg, err := parseFlags(append(base, args...), io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.host = "fixture-host"
	cfg.systemctl = collecttest.Systemctl(t)
	cfg.unitBus = []dbus.Addr{} // the stand-in systemctl, never the host's manager
	cfg.booted = func() bool { return true }
	cfg.statfs = collecttest.Statfs(t)
	return cfg
}

// TestGolden runs lmn-collect over the fixture machine inside a synctest
// bubble, whose clock starts at 2000-01-01T00:00:00Z and moves only when
// every goroutine waits, so timestamps and intervals are exact. The fixture
// files do not change between readings, so every rate is zero; rates are
// tested in internal/collect with files that do change.
func TestGolden(t *testing.T) {
	cfg := fixtureConfig(t, "--interval", "1s", "--count", "2")
	var out, errb bytes.Buffer
	synctest.Test(t, func(t *testing.T) {
		if code := run(t.Context(), cfg, &out, &errb); code != 0 {
			t.Fatalf("run = %d, stderr:\n%s", code, errb.String())
		}
	})
	// Fixture paths differ between checkouts; the golden file has them
	// relative to the fixture root.
	got := strings.ReplaceAll(out.String(), collecttest.Root(t), "ROOT")
	golden := filepath.Join("testdata", "golden.ndjson")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update after checking):\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
	// The fixture's /run/user/1000 has no statfs figures: one warning for
	// two samples, naming the mount point.
	if n := strings.Count(errb.String(), "part=\"statfs /run/user/1000\""); n != 1 {
		t.Errorf("stderr has %d warnings about /run/user/1000, want 1:\n%s", n, errb.String())
	}
}

// TestGoldenIsValidStream checks the golden lines with the stream's own
// reader and types, so the golden file cannot drift from the contract.
func TestGoldenIsValidStream(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "golden.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := record.NewReader(f, nil)
	r.OnReject = func(err error) { t.Errorf("golden line rejected: %v", err) }
	var kinds []string
	for {
		line, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, line.Kind)
		if line.Kind != record.KindSample {
			continue
		}
		var s record.Sample
		if err := line.Decode(&s); err != nil {
			t.Fatal(err)
		}
		if s.Units == nil || len(s.Units.Failed) != 2 || s.Temps == nil || s.Nix == nil || s.Nix.SystemGeneration != 42 {
			t.Errorf("sample %d lacks the fixture's units, temps or nix: %s", s.Seq, line.Raw)
		}
	}
	if strings.Join(kinds, ",") != "start,sample,sample" {
		t.Errorf("kinds = %v, want start then two samples", kinds)
	}
}

func TestFlagErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"--interval", "0s"},
		{"--interval", "fast"},
		{"--count", "-1"},
		{"--units", "session"},
		{"--no-such-flag"},
		{"extra-arg"},
		{"--proc-root", ""},
		{"--proc-root", "/nonexistent", "--count", "1"}, // issue 15 item 14: not empty samples
		{"--proc-root", "/", "--count", "1"},
		{"--sys-root", "/nonexistent", "--count", "1"},
		{"--events", "units"},
		{"--events", ""},
		{"--manager-cgroup", "user"},
		{"--manager-cgroup", "machine=/sandbox"},
		{"--manager-cgroup", "user=sandbox"},
		{"--manager-cgroup", "user=/"},
	} {
		var stderr bytes.Buffer
		cmd := command(t, args...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%v: err = %v, want exit status 2", args, err)
		}
		if len(out) != 0 {
			t.Errorf("%v: wrote %q to stdout, want nothing", args, out)
		}
		if !strings.Contains(stderr.String(), "lmn-collect") && !strings.Contains(stderr.String(), "flag") {
			t.Errorf("%v: stderr does not say what was wrong: %q", args, stderr.String())
		}
	}
}

func TestVersion(t *testing.T) {
	out, err := command(t, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != version {
		t.Errorf("--version printed %q, want %q", got, version)
	}
}

// TestBrokenPipeExitsZero closes the read end after the first line: the
// binary must notice EPIPE on its next write and exit 0 without a word.
func TestBrokenPipeExitsZero(t *testing.T) {
	cmd := command(t, "--interval", "10ms", "--units", "none")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(stdout).ReadBytes('\n'); err != nil {
		t.Fatal(err)
	}
	stdout.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v, stderr:\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "broken pipe") {
		t.Errorf("stderr mentions the broken pipe: %s", stderr.String())
	}
}

// TestSignalFinishesSample sends SIGTERM while lmn-collect waits for its
// next tick: it must exit 0, and every line it wrote must be whole.
func TestSignalFinishesSample(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		cmd := command(t, "--interval", "1h", "--units", "none")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(stdout)
		var lines []string
		for len(lines) < 2 { // start and the first sample
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, l)
		}
		cmd.Process.Signal(sig)
		rest, _ := io.ReadAll(br)
		if err := cmd.Wait(); err != nil {
			t.Errorf("%v: exit %v, want 0", sig, err)
		}
		if len(rest) > 0 && !bytes.HasSuffix(rest, []byte("\n")) {
			t.Errorf("%v: partial line after the signal: %q", sig, rest)
		}
		var s record.Sample
		if err := json.Unmarshal([]byte(lines[1]), &s); err != nil || s.Kind != record.KindSample {
			t.Errorf("%v: second line is not a sample: %v %q", sig, err, lines[1])
		}
	}
}

// TestSignalDuringFirstDelta stops lmn-collect before its first sample is
// due: it finishes that sample (with the shorter delta) and exits 0.
func TestSignalDuringFirstDelta(t *testing.T) {
	cfg := fixtureConfig(t, "--interval", "1h", "--units", "none")
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		var out bytes.Buffer
		done := make(chan int)
		go func() { done <- run(ctx, cfg, &out, io.Discard) }()
		time.Sleep(50 * time.Millisecond)
		cancel()
		if code := <-done; code != 0 {
			t.Fatalf("run = %d", code)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("got %d lines, want start and one sample:\n%s", len(lines), out.String())
		}
		var s record.Sample
		if err := json.Unmarshal([]byte(lines[1]), &s); err != nil {
			t.Fatal(err)
		}
		if s.IntervalSeconds != 0.05 {
			t.Errorf("interval_seconds = %v, want 0.05 (the time until the signal)", s.IntervalSeconds)
		}
	})
}

// A bad --probes file exits 2 naming the file and the field; a good one
// is checked beside the samples.
func TestProbesFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"probes":[{"name":"redis","tcp":{"address":"127.0.0.1:6379","expct":"+PONG"}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := command(t, "--units", "none", "--count", "1", "--probes", bad)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || len(out) != 0 {
		t.Errorf("bad probes file: err = %v, stdout %q; want exit status 2 and nothing written", err, out)
	}
	if want := "lmn-collect: --probes " + bad + `: probes[0].tcp.expct: unknown field (did you mean "expect"?)`; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
	if err := command(t, "--probes", filepath.Join(dir, "missing.json")).Run(); !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("missing probes file: %v, want exit status 2", err)
	}

	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, []byte(`{"probes":[{"name":"self","exec":{"argv":["/bin/true"]}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if code := run(t.Context(), fixtureConfig(t, "--interval", "200ms", "--probes", good, "--print-probes"), &stdout, &stderr); code != 0 {
		t.Fatalf("--print-probes = %d: %s", code, stderr.String())
	}
	want := `{
  "probes": [
    {
      "name": "self",
      "scope": "system",
      "interval": "200ms",
      "timeout": "200ms",
      "exec": {
        "argv": [
          "/bin/true"
        ]
      }
    }
  ]
}
`
	if stdout.String() != want {
		t.Errorf("--print-probes printed\n%s\nwant\n%s", stdout.String(), want)
	}
	cfg := fixtureConfig(t, "--count", "2", "--interval", "200ms", "--probes", good)
	stdout.Reset()
	stderr.Reset()
	if code := run(t.Context(), cfg, &stdout, &stderr); code != 0 {
		t.Errorf("run = %d: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want the start record and two samples", len(lines))
	}
	var start struct {
		Settings settings `json:"settings"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &start); err != nil || start.Settings.Probes != good || start.Settings.ProbeCount != 1 {
		t.Errorf("start settings %+v (%v)", start.Settings, err)
	}
	// The check ran at start, long before the second sample.
	var s record.Sample
	if err := json.Unmarshal([]byte(lines[2]), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Probes) != 1 || s.Probes[0].Name != "self" || !s.Probes[0].OK || s.Probes[0].Kind != "exec" ||
		s.Probes[0].Streak < 1 || s.Probes[0].CheckedAt.IsZero() || s.Probes[0].Unit != "" || s.Probes[0].Scope != "" {
		t.Errorf("second sample's probes %+v", s.Probes)
	}
}

// FuzzParseManager: a --manager-cgroup that parses names a scope lmn knows
// and an absolute cgroup below the root, never one climbing out of it.
func FuzzParseManager(f *testing.F) {
	for _, s := range []string{"user=/lmn-sdtest-1-2", "system=/machine.slice/x", "user", "machine=/x", "user=../x", "user=/a/../b", "=/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseManager(s)
		if err != nil {
			return
		}
		if m.Scope != "system" && m.Scope != "user" || !strings.HasPrefix(m.Cgroup, "/") || m.Cgroup == "/" || strings.Contains(m.Cgroup, "..") {
			t.Fatalf("parseManager(%q) = %+v", s, m)
		}
	})
}
