package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/lmn-heal/lmn/internal/detect"
	"github.com/lmn-heal/lmn/internal/detect/detecttest"
	"github.com/lmn-heal/lmn/internal/record"
)

var update = flag.Bool("update", false, "rewrite golden files (and the generated replay input)")

// The test binary re-executes itself as lmn-detect for whole-binary tests.
func TestMain(m *testing.M) {
	if os.Getenv("LMN_DETECT_AS_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// testConfig is the configuration of a run in tests: default rules, a
// fixed clock and host so outputs can be compared byte for byte.
func testConfig() config {
	return config{
		now:       func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) },
		host:      "testhost",
		saveEvery: time.Hour,
	}
}

func runWith(t *testing.T, cfg config, in []byte) (out, errOut string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), cfg, bytes.NewReader(in), &o, &e)
	return o.String(), e.String(), code
}

func troubleStream() []byte {
	var b bytes.Buffer
	for _, s := range detecttest.Trouble() {
		b.Write(detecttest.Line(&s))
	}
	return b.Bytes()
}

// kindLines returns the lines of out whose kind is one of kinds.
func kindLines(t *testing.T, out string, kinds ...string) []string {
	t.Helper()
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var h record.Header
		if err := json.Unmarshal([]byte(l), &h); err != nil {
			t.Fatalf("output line is not a record: %q", l)
		}
		for _, k := range kinds {
			if h.Kind == k {
				got = append(got, strings.TrimRight(l, "\r"))
			}
		}
	}
	return got
}

// TestReplay runs streams through run and compares the output with golden
// files; -update rewrites them. The streams are the files under
// testdata/replay (whole output kept) and the generated three-hour
// detecttest.Trouble stream (issues kept; the input is 1 MB). The same input
// read one byte at a time, and with CRLF line ends, must give the same
// issues.
func TestReplay(t *testing.T) {
	type replay struct {
		name   string
		data   []byte
		golden string
		only   bool
	}
	replays := []replay{{"trouble", troubleStream(), "testdata/replay/trouble.issues.golden", true}}
	inputs, _ := filepath.Glob("testdata/replay/*.ndjson")
	for _, in := range inputs {
		data, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		replays = append(replays, replay{filepath.Base(in), data, strings.TrimSuffix(in, ".ndjson") + ".golden", false})
	}
	if len(replays) < 2 {
		t.Fatalf("only %d replay inputs", len(replays))
	}
	for _, rp := range replays {
		t.Run(rp.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.onlyIssues = rp.only
			out, _, code := runWith(t, cfg, rp.data)
			if code != 0 {
				t.Fatalf("exit %d", code)
			}
			if *update {
				if err := os.WriteFile(rp.golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(rp.golden)
			if err != nil {
				t.Fatal(err)
			}
			if out != string(want) {
				t.Errorf("output differs from %s (run with -update to accept)\n%s", rp.golden, firstDiff(out, string(want)))
			}
			issues := kindLines(t, out, record.KindIssue)
			var slow bytes.Buffer
			if code := run(context.Background(), testConfig(), iotest.OneByteReader(bytes.NewReader(rp.data)), &slow, &bytes.Buffer{}); code != 0 {
				t.Fatalf("one-byte reads: exit %d", code)
			}
			if got := kindLines(t, slow.String(), record.KindIssue); strings.Join(got, "\n") != strings.Join(issues, "\n") {
				t.Errorf("one-byte reads give other issues:\n%s", firstDiff(strings.Join(got, "\n"), strings.Join(issues, "\n")))
			}
			crlf := bytes.ReplaceAll(rp.data, []byte("\n"), []byte("\r\n"))
			outCRLF, _, _ := runWith(t, testConfig(), crlf)
			if got := kindLines(t, outCRLF, record.KindIssue); strings.Join(got, "\n") != strings.Join(issues, "\n") {
				t.Errorf("CRLF input gives other issues:\n%s", firstDiff(strings.Join(got, "\n"), strings.Join(issues, "\n")))
			}
		})
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n got: %s\nwant: %s", i+1, a, b)
		}
	}
	return "(same lines)"
}

func TestEveryRecordPassesThrough(t *testing.T) {
	data, err := os.ReadFile("testdata/replay/malformed.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runWith(t, testConfig(), data)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.SplitAfter(out, "\n")
	if !strings.Contains(lines[0], `"kind":"start"`) {
		t.Fatalf("first line is not the start record: %s", lines[0])
	}
	// Every accepted input line is in the output, unchanged and in order.
	rest := out
	for n, l := range strings.SplitAfter(string(data), "\n") {
		if l == "" || !strings.HasPrefix(strings.TrimSpace(l), "{") {
			continue
		}
		i := strings.Index(rest, l)
		if i < 0 {
			t.Fatalf("input line %d not passed on unchanged (or out of order): %q", n+1, l)
		}
		rest = rest[i+len(l):]
	}
	for _, want := range []string{"line 2", "not a JSON object", "line 4", "does not decode", "without ts", "rejected input lines"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr does not mention %q:\n%s", want, errOut)
		}
	}
}

func TestOnlyIssues(t *testing.T) {
	data := troubleStream()
	all, _, _ := runWith(t, testConfig(), data)
	cfg := testConfig()
	cfg.onlyIssues = true
	only, _, code := runWith(t, cfg, data)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	want := kindLines(t, all, record.KindStart, record.KindIssue)
	got := kindLines(t, only, record.KindStart, record.KindIssue, record.KindSample)
	if len(got) != len(want) || len(want) < 10 {
		t.Fatalf("--only-issues wrote %d lines, want the %d start and issue lines", len(got), len(want))
	}
	for i := 1; i < len(got); i++ { // the start record differs in only_issues
		if got[i] != want[i] {
			t.Fatalf("line %d: got %s want %s", i+1, got[i], want[i])
		}
	}
}

func TestStartRecord(t *testing.T) {
	out, _, _ := runWith(t, testConfig(), nil)
	var st struct {
		record.Start
		Settings settings `json:"settings"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("start record %q: %v", out, err)
	}
	d := detect.Defaults()
	if st.Kind != record.KindStart || st.Src != detect.Src || st.Settings.RulesDigest != d.Digest() ||
		st.Settings.Rules != detect.DefaultsName || st.Settings.RuleCount != d.Len() || st.Version != version {
		t.Errorf("start record %s", out)
	}
}

func TestPrintRules(t *testing.T) {
	cfg := testConfig()
	cfg.printRules = true
	out, _, code := runWith(t, cfg, nil)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	r, err := detect.ParseRules("printed", []byte(out))
	if err != nil {
		t.Fatalf("printed rules do not load: %v", err)
	}
	if r.Digest() != detect.Defaults().Digest() {
		t.Error("printed rules have another digest")
	}
}

func TestBadRulesExit2(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "rules.json")
	os.WriteFile(bad, []byte(`{"extend":true,"rules":[{"name":"disk_usage","for":"soon"}]}`), 0o644)
	for _, tt := range []struct{ file, want string }{
		{bad, bad + ": rules[0].for: bad duration"},
		{filepath.Join(dir, "missing.json"), "no such file"},
	} {
		cfg := testConfig()
		cfg.rulesFile = tt.file
		out, errOut, code := runWith(t, cfg, nil)
		if code != 2 || out != "" || !strings.Contains(errOut, tt.want) {
			t.Errorf("rules %s: exit %d, stdout %q, stderr %q; want exit 2 and %q", tt.file, code, out, errOut, tt.want)
		}
	}
}

// Runs over parts of a stream with --state give the issues of one run over
// the whole stream, down to one sample per run (a timer running
// lmn-collect --count 1 | lmn-detect --state …).
func TestStateAcrossRuns(t *testing.T) {
	samples := detecttest.Trouble()
	lines := make([][]byte, len(samples))
	for i := range samples {
		lines[i] = detecttest.Line(&samples[i])
	}
	whole, _, _ := runWith(t, testConfig(), bytes.Join(lines, nil))
	want := kindLines(t, whole, record.KindIssue)

	for _, cuts := range [][]int{{120, 240, 299, 300}, seq(100, 115)} {
		cfg := testConfig()
		cfg.stateFile = filepath.Join(t.TempDir(), "detect.state")
		var got []string
		from := 0
		for _, cut := range append(cuts, len(lines)) {
			out, errOut, code := runWith(t, cfg, bytes.Join(lines[from:cut], nil))
			if code != 0 {
				t.Fatalf("run %d..%d: exit %d: %s", from, cut, code, errOut)
			}
			got = append(got, kindLines(t, out, record.KindIssue)...)
			from = cut
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("cuts %v: issues differ from one run:\n%s", cuts, firstDiff(strings.Join(got, "\n"), strings.Join(want, "\n")))
		}
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func TestCorruptStateStartsFresh(t *testing.T) {
	cfg := testConfig()
	cfg.stateFile = filepath.Join(t.TempDir(), "detect.state")
	os.WriteFile(cfg.stateFile, []byte("{\"format\":\"lmn-detect-state\",\"version\":1,\"subj"), 0o600)
	out, errOut, code := runWith(t, cfg, troubleStream()[:4000])
	if code != 0 || !strings.Contains(errOut, "state file is corrupt, starting fresh") || !strings.Contains(out, `"kind":"sample"`) {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	b, _ := os.ReadFile(cfg.stateFile)
	if _, err := detect.DecodeState(b); err != nil {
		t.Errorf("state not replaced by a good one: %v", err)
	}
}

// The whole binary: --version, a usage error, and a real pipe.
func TestBinary(t *testing.T) {
	cmd := func(args ...string) *exec.Cmd {
		c := exec.Command(os.Args[0], args...)
		c.Env = append(os.Environ(), "LMN_DETECT_AS_MAIN=1")
		return c
	}
	if out, err := cmd("--version").Output(); err != nil || string(out) != "dev\n" {
		t.Errorf("--version: %q, %v", out, err)
	}
	c := cmd("--no-such-flag")
	if err := c.Run(); c.ProcessState.ExitCode() != 2 {
		t.Errorf("unknown flag: %v, want exit 2", err)
	}
	c = cmd("--only-issues")
	c.Stdin = bytes.NewReader(troubleStream()) // a pipe: live mode
	out, err := c.Output()
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	n := 0
	for sc.Scan() {
		n++
	}
	if n < 10 {
		t.Errorf("only %d lines from the binary", n)
	}
}

// The NixOS module's timer mode: lmn-collect --count 1 | lmn-detect --state
// once a minute. Each sample's interval_seconds is short; no run may read
// the minute between runs as an absent collector.
func TestTimerMode(t *testing.T) {
	cfg := testConfig()
	cfg.stateFile = filepath.Join(t.TempDir(), "detect.state")
	var issues []string
	for i, s := range detecttest.Trouble()[:12] {
		s.TS = record.Time{Time: s.TS.Add(time.Duration(i) * 30 * time.Second)} // a minute apart
		s.IntervalSeconds = 0.2
		out, errOut, code := runWith(t, cfg, detecttest.Line(&s))
		if code != 0 {
			t.Fatalf("run %d: exit %d: %s", i, code, errOut)
		}
		issues = append(issues, kindLines(t, out, record.KindIssue)...)
	}
	if len(issues) != 0 {
		t.Errorf("issues from a quiet machine sampled once a minute:\n%s", strings.Join(issues, "\n"))
	}
}

// TestImpossibleValuesAreMalformed: samples with values no machine has (a
// ratio of 7.5, -5 or 1e308) are skipped as malformed, named by line and
// field path and counted, and fire nothing; the same stream with the
// extreme possible values fires critical issues (issue 19 item 11).
func TestImpossibleValuesAreMalformed(t *testing.T) {
	for _, tc := range []struct {
		name        string
		set         func(s *record.Sample, v float64)
		impossible  float64
		possible    float64
		path, fires string
	}{
		{"disk", func(s *record.Sample, v float64) { s.Disks.Mounts[2].UsedRatio = v }, 7.5, 0.99,
			"disks.mounts[2].used_ratio: 7.5 is impossible (want 0 to 1)", detect.RuleDiskUsage},
		{"memory", func(s *record.Sample, v float64) {
			s.Mem.AvailableRatio = v
			s.PSI.Memory.Some.Avg60Ratio = 0.5
		}, -5, 0, "mem.available_ratio: -5 is impossible (want 0 to 1)", detect.RuleMemPressure},
		{"cpu", func(s *record.Sample, v float64) { s.PSI.CPU.Some.Avg60Ratio = v }, 1e308, 1,
			"psi.cpu.some.avg60_ratio: 1e+308 is impossible (want 0 to 1)", detect.RuleCPUPressure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream := func(v float64) []byte {
				var b bytes.Buffer
				s := detecttest.Template()
				for i := range 20 {
					s.TS.Time = s.TS.Time.Add(30 * time.Second)
					s.Seq = uint64(i + 1)
					tc.set(&s, v)
					b.Write(detecttest.Line(&s))
				}
				return b.Bytes()
			}
			out, errOut, code := runWith(t, testConfig(), stream(tc.possible))
			if code != 0 || !strings.Contains(out, `"rule":"`+tc.fires+`"`) || !strings.Contains(out, `"severity":"critical"`) {
				t.Fatalf("control: exit %d, no critical %s issue from %v:\n%s", code, tc.fires, tc.possible, errOut)
			}
			out, errOut, code = runWith(t, testConfig(), stream(tc.impossible))
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if issues := kindLines(t, out, record.KindIssue); len(issues) > 0 {
				t.Errorf("issues from impossible values: %s", issues[0])
			}
			for _, want := range []string{"skipping sample with an impossible value", "stdin line 1: " + tc.path,
				"stdin line 20: ", "skipped malformed samples", "count=20"} {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%.2000s", want, errOut)
				}
			}
			if got := len(kindLines(t, out, record.KindSample)); got != 20 {
				t.Errorf("%d samples passed on, want all 20 (lmn-detect passes every record on)", got)
			}
		})
	}
}

// TestUnwritableStateExits2: a --state no one can write is a usage error
// at start, as in lmn-heal, not a loss found at exit (issue 15 item 14).
func TestUnwritableStateExits2(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range []string{filepath.Join(dir, "missing", "detect.state"), dir} {
		cfg := testConfig()
		cfg.stateFile = bad
		out, errOut, code := runWith(t, cfg, troubleStream()[:4000])
		if code != 2 || out != "" || !strings.Contains(errOut, bad) || !strings.Contains(errOut, "bad --state") {
			t.Errorf("--state %s: exit %d, stdout %.80q, stderr %q; want 2, nothing, and the file named", bad, code, out, errOut)
		}
	}
}

// TestIssueLinesOnStderr: every issue lmn-detect writes is also one line
// on stderr, naming it; --quiet leaves them out (issue 15 item 4).
func TestIssueLinesOnStderr(t *testing.T) {
	out, errOut, code := runWith(t, testConfig(), troubleStream())
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	issues := kindLines(t, out, record.KindIssue)
	if len(issues) < 5 {
		t.Fatalf("only %d issues", len(issues))
	}
	lines := 0
	for _, l := range strings.Split(errOut, "\n") {
		if strings.Contains(l, `msg="issue firing"`) || strings.Contains(l, `msg="issue resolved"`) {
			lines++
		}
	}
	if lines != len(issues) {
		t.Errorf("%d issue lines on stderr for %d issues:\n%.3000s", lines, len(issues), errOut)
	}
	var first record.Issue
	json.Unmarshal([]byte(issues[0]), &first)
	if !strings.Contains(errOut, "rule="+first.Rule) || !strings.Contains(errOut, "issue="+first.ID) {
		t.Errorf("stderr does not name the first issue %s %s:\n%.2000s", first.Rule, first.ID, errOut)
	}
	cfg := testConfig()
	cfg.quiet = true
	_, errOut, _ = runWith(t, cfg, troubleStream())
	if strings.Contains(errOut, `msg="issue`) {
		t.Errorf("--quiet still says issues:\n%.1000s", errOut)
	}
}

// TestWrongPipeWarnsOnce: lmn-collect | lmn-heal | lmn-detect, lmn-heal's
// records reaching lmn-detect, is said once on stderr with the right
// order (issue 15 item 9).
func TestWrongPipeWarnsOnce(t *testing.T) {
	in := `{"kind":"start","v":1,"ts":"2026-11-26T00:00:00Z","host":"h","src":"lmn-collect","version":"dev"}
{"kind":"start","v":1,"ts":"2026-11-26T00:00:00Z","host":"h","src":"lmn-heal","version":"dev"}
{"kind":"heal","v":1,"ts":"2026-11-26T00:00:01Z","host":"h","src":"lmn-heal","issue":"x","action":"restart_unit","step":1,"phase":"started"}
{"kind":"heal","v":1,"ts":"2026-11-26T00:00:02Z","host":"h","src":"lmn-heal","issue":"x","action":"restart_unit","step":1,"phase":"failed"}
`
	_, errOut, code := runWith(t, testConfig(), append([]byte(in), troubleStream()[:20000]...))
	if code != 0 || strings.Count(errOut, "wrongly built pipe") != 1 || !strings.Contains(errOut, "lmn-heal is before lmn-detect") ||
		!strings.Contains(errOut, "lmn-collect | lmn-detect | lmn-heal") {
		t.Errorf("exit %d; want one warning naming the order:\n%.3000s", code, errOut)
	}
	if _, errOut, _ := runWith(t, testConfig(), troubleStream()); strings.Contains(errOut, "wrongly built pipe") {
		t.Errorf("samples alone warned:\n%.2000s", errOut)
	}
}
