package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/cli"
	"github.com/lmn-heal/lmn/internal/heal"
	"github.com/lmn-heal/lmn/internal/record"
)

var update = flag.Bool("update", false, "rewrite golden files")

var fixedNow = time.Date(2026, 11, 26, 17, 59, 0, 0, time.UTC)

// testConfig is the flags' defaults, with a fixed clock and host, and
// tiers that cannot touch this machine unless a test widens them.
func testConfig(t *testing.T, args ...string) config {
	t.Helper()
	// Safe unless a test widens it: only advice, never sudo. A later flag
	// in args overrides these.
	// A pause file of the machine running the tests must not hold them;
	// the pause tests name their own.
	args = append([]string{"--tiers", "advise", "--sudo", "never", "--pause-file", ""}, args...)
	cfg, err := parseFlags(args, io.Discard, io.Discard)
	if err != nil {
		t.Fatalf("flags %q: %v", args, err)
	}
	cfg.host = "healer"
	cfg.euid = 1000 // the same records whoever runs the tests
	cfg.now = func() time.Time { return fixedNow }
	cfg.inline = true
	cfg.tty = filepath.Join(t.TempDir(), "no-tty")
	return cfg
}

func runWith(t *testing.T, cfg config, input []byte) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), cfg, bytes.NewReader(input), &out, &errb)
	return out.String(), errb.String(), code
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := string(readFile(t, path))
	if got != want {
		t.Errorf("output differs from %s (go test -update to accept):\n%s", path, lineDiff(want, got))
	}
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + itoa(i+1) + ":\nwant " + a + "\n got " + b
		}
	}
	return ""
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// heals returns the heal records of out.
func heals(t *testing.T, out string) []record.Heal {
	t.Helper()
	var hs []record.Heal
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var h record.Heal
		if err := json.Unmarshal(sc.Bytes(), &h); err != nil {
			t.Fatalf("output line %q: %v", sc.Text(), err)
		}
		if h.Kind == record.KindHeal {
			hs = append(hs, h)
		}
	}
	return hs
}

func TestReplayDryRunGolden(t *testing.T) {
	in := readFile(t, "testdata/replay.ndjson")
	cfg := testConfig(t, "--dry-run")
	out, stderr, code := runWith(t, cfg, in)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden(t, "replay.golden", out)
	if !strings.Contains(stderr, "line 8: not a JSON object") {
		t.Errorf("bad line not reported with its number: %s", stderr)
	}
	// Every record read is passed on unchanged and in order.
	var passed []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" && !strings.Contains(l, `"src":"lmn-heal"`) {
			passed = append(passed, l)
		}
	}
	var want []string
	for _, l := range strings.Split(strings.TrimSpace(string(in)), "\n") {
		if strings.HasPrefix(l, "{") {
			want = append(want, l)
		}
	}
	if strings.Join(passed, "\n") != strings.Join(want, "\n") {
		t.Error("records read were not passed on unchanged")
	}
	// The same replay gives the same plan every time.
	again, _, _ := runWith(t, cfg, in)
	if again != out {
		t.Error("a second dry-run replay differs from the first")
	}
}

func TestReplayPhases(t *testing.T) {
	out, stderr, code := runWith(t, testConfig(t, "--dry-run"), readFile(t, "testdata/replay.ndjson"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := map[string][]string{}
	for _, h := range heals(t, out) {
		s := h.Action + ":" + h.Phase
		if h.Outcome != "" {
			s += ":" + h.Outcome
		}
		got[h.Issue] = append(got[h.Issue], s)
	}
	want := map[string]string{
		"u-nginx": "restart_unit:planned restart_unit:verified:recovered",
		// Not recovered after step 1; severity rises during step 2.
		"u-app": "restart_unit:planned restart_unit:verified:not_recovered reset_failed_unit:planned restart_unit:planned restart_unit:verified:worse advise:advised",
		// 96% full: the destructive steps wait until the issue has held
		// 10m (advice meanwhile), then run; the issue resolves in step 2.
		"d-root": "advise:advised nix_gc:planned nix_gc:verified:not_recovered journal_vacuum:planned journal_vacuum:verified:recovered",
		"d-boot": "advise:advised",
		"m":      "advise:advised",
		"t0":     "set_cpu_governor:planned set_cpu_governor:verified:recovered",
	}
	for id, w := range want {
		if g := strings.Join(got[id], " "); g != w {
			t.Errorf("%s:\n got %s\nwant %s", id, g, w)
		}
	}
	if _, ok := got["x"]; ok {
		t.Errorf("an issue no ladder answers got records: %v", got["x"])
	}
}

func TestPrintPolicyIsValid(t *testing.T) {
	out, _, code := runWith(t, testConfig(t, "--print-policy"), nil)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	// What --print-policy prints is a valid policy file for --policy, and
	// every action in it exists in the catalogue with its params.
	p, err := heal.ParsePolicy("policy.json", []byte(out), catalog)
	if err != nil {
		t.Fatalf("printed policy does not parse: %v", err)
	}
	if len(p.Ladders) != len(heal.DefaultPolicy().Ladders) {
		t.Errorf("ladders = %d", len(p.Ladders))
	}
	if err := heal.DefaultPolicy().Validate(catalog); err != nil {
		t.Errorf("default policy against the catalogue: %v", err)
	}
}

func TestBadPolicyExits2(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"unknown field", `{"ladders":[{"name":"a","rules":["x"],"advice":"a","stepz":[]}]}`, `ladders[0].stepz: unknown field (did you mean "steps"?)`},
		{"bad type", `{"concurrency":"two"}`, `concurrency: want a whole number, got "two"`},
		{"unknown action", `{"ladders":[{"name":"a","rules":["x"],"advice":"a","steps":[{"actions":[{"action":"rm_rf"}],"verify":"1m"}]}]}`, `ladders[0].steps[0].actions[0].action: unknown action "rm_rf"`},
		{"missing param", `{"ladders":[{"name":"a","rules":["x"],"advice":"a","steps":[{"actions":[{"action":"restart_unit"}],"verify":"1m"}]}]}`, "params.unit: required by restart_unit"},
		{"bad duration", `{"breaker":{"window":"soon"}}`, `breaker.window: bad duration "soon"`},
		{"bad template", `{"ladders":[{"name":"a","rules":["x"],"advice":"a","steps":[{"actions":[{"action":"restart_unit","params":{"unit":"{{unit"}}],"verify":"1m"}]}]}`, "{{ without }}"},
		{"syntax", "{\n\"concurrency\": 1,,\n}", "line 2"},
		{"no advice", `{"ladders":[{"name":"a","rules":["x"]}]}`, "ladders[0].advice: missing"},
		// Issue 15 item 13: each of these loaded, then failed later or never matched.
		{"unknown param", `{"ladders":[{"name":"a","rules":["unit_failed"],"advice":"a","steps":[{"actions":[{"action":"restart_unit","params":{"unit":"{{unit}}","untt":"x"}}],"verify":"1m"}]}]}`,
			`ladders[0].steps[0].actions[0].params.untt: not a parameter of restart_unit (did you mean "unit"?)`},
		{"unknown param far", `{"ladders":[{"name":"a","rules":["unit_failed"],"advice":"a","steps":[{"actions":[{"action":"restart_unit","params":{"unit":"{{unit}}","force":"yes"}}],"verify":"1m"}]}]}`,
			`params.force: not a parameter of restart_unit (it takes unit)`},
		{"misspelt placeholder", `{"ladders":[{"name":"a","rules":["unit_failed"],"advice":"a","steps":[{"actions":[{"action":"restart_unit","params":{"unit":"{{uint}}"}}],"verify":"1m"}]}]}`,
			`ladders[0].steps[0].actions[0].params.unit: "{{uint}}": {{uint}}: no issue has "uint": did you mean "unit"?`},
		{"unknown placeholder", `{"ladders":[{"name":"a","rules":["unit_failed"],"advice":"see {{host_name}}"}]}`,
			`ladders[0].advice: "see {{host_name}}": {{host_name}}: no issue of rules unit_failed has "host_name"`},
		{"misspelt match key", `{"ladders":[{"name":"a","rules":["disk_usage"],"match":{"mont":"/"},"advice":"a"}]}`,
			`ladders[0].match.mont: no issue has "mont": did you mean "mount"?`},
		{"misspelt rule", `{"ladders":[{"name":"a","rules":["unit_faild"],"advice":"a"}]}`,
			`ladders[0].rules[0]: "unit_faild" is no built-in rule: did you mean "unit_failed"?`},
		{"misspelt rule in match", `{"ladders":[{"name":"a","rules":["*"],"match":{"rule":"disk_usgae"},"advice":"a"}]}`,
			`ladders[0].match.rule: "disk_usgae" is no built-in rule: did you mean "disk_usage"?`},
		{"bad verify", `{"ladders":[{"name":"a","rules":["unit_failed"],"advice":"a","steps":[{"actions":[{"action":"restart_unit","params":{"unit":"{{unit}}"}}],"verify":"2 minutes"}]}]}`,
			`ladders[0].steps[0].verify: bad duration "2 minutes"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "policy.json")
			os.WriteFile(file, []byte(tc.body), 0o644)
			out, stderr, code := runWith(t, testConfig(t, "--policy", file), nil)
			if code != 2 || out != "" {
				t.Fatalf("exit %d, stdout %q; want 2 and nothing", code, out)
			}
			stderr = strings.ReplaceAll(stderr, `\"`, `"`)
			if !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, file) {
				t.Errorf("stderr %q does not name %q and the file", stderr, tc.want)
			}
		})
	}
}

func TestPolicyExtend(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(file, []byte(`{"extend": true, "concurrency": 2, "ladders": [
		{"name": "disk_full", "enabled": false, "rules": ["disk_usage"], "advice": "x"},
		{"name": "boot", "rules": ["disk_usage"], "match": {"mount": "/boot*"}, "advice": "clean {{mount}}: old kernels"}]}`), 0o644)
	out, stderr, code := runWith(t, testConfig(t, "--policy", file, "--dry-run"), readFile(t, "testdata/replay.ndjson"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var boot, nginx bool
	for _, h := range heals(t, out) {
		if h.Issue == "d-boot" {
			boot = h.Advice == "clean /boot: old kernels"
		}
		if h.Issue == "u-nginx" && h.Action == "restart_unit" {
			nginx = true // default ladders still answer
		}
	}
	if !boot || !nginx {
		t.Errorf("extend: boot ladder used %v, default unit ladder kept %v", boot, nginx)
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--tiers", "root"}, {"--tiers", ""}, {"--sudo", "always"}, {"extra"}, {"--systemctl", " "},
	} {
		var stderr bytes.Buffer
		if _, err := parseFlags(args, io.Discard, &stderr); err == nil || cli.Code(err) != 2 {
			t.Errorf("%q: err %v, want a usage error", args, err)
		} else if !strings.Contains(stderr.String(), "lmn-heal: ") {
			t.Errorf("%q: exit 2 saying %q, want what was wrong", args, stderr.String())
		}
	}
	cfg, err := parseFlags(nil, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.privdSocket != "/run/luminous/privd.sock" || cfg.keyFile != "/var/lib/luminous-healing/hmac.key" || cfg.sudo != "noninteractive" {
		t.Errorf("defaults = %+v", cfg)
	}
}

// TestSlowActionDoesNotBlockPipe: on a live pipe, records keep flowing
// while an action runs, and its records follow when it ends.
func TestSlowActionDoesNotBlockPipe(t *testing.T) {
	cfg := testConfig(t, "--tiers", "unprivileged", "--sudo", "never")
	cfg.inline = false
	// A real, harmless subprocess as systemctl, which waits until the test
	// lets it end.
	release := filepath.Join(t.TempDir(), "release")
	cfg.systemctl = []string{"sh", "-c", "while [ ! -e " + release + " ]; do sleep 0.02; done", "systemctl"}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), cfg, inR, outW, io.Discard)
		outW.Close()
	}()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	in := stream(t, "0s issue unit_failed unit=a.service firing", "1s sample", "2s sample", "3s sample")
	var order []string
	for i, l := range strings.SplitAfter(string(in), "\n") {
		if l == "" {
			continue
		}
		inW.Write([]byte(l))
		if i == 0 {
			continue
		}
		// Each sample comes out while the action still sleeps.
		for {
			got := <-lines
			if strings.Contains(got, `"kind":"heal"`) {
				var h record.Heal
				json.Unmarshal([]byte(got), &h)
				order = append(order, h.Phase)
				continue
			}
			if strings.Contains(got, `"kind":"sample"`) {
				order = append(order, "sample")
				break
			}
		}
	}
	os.WriteFile(release, nil, 0o644)
	inW.Close()
	for l := range lines {
		var h record.Heal
		if json.Unmarshal([]byte(l), &h) == nil && h.Kind == record.KindHeal {
			order = append(order, h.Phase)
		}
	}
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
	want := "started sample sample sample succeeded"
	if got := strings.Join(order, " "); got != want {
		t.Errorf("order %q, want %q", got, want)
	}
}

// TestUnwritableStateExits2: a --state no one can write is a usage error
// at start (exit 2), and a state lost at exit a runtime failure (exit 1),
// as in lmn-detect (issue 15 item 14).
func TestUnwritableStateExits2(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range []string{filepath.Join(dir, "missing", "heal.state"), dir} {
		out, stderr, code := runWith(t, testConfig(t, "--state", bad), readFile(t, "testdata/replay.ndjson"))
		if code != 2 || out != "" || !strings.Contains(stderr, bad) || !strings.Contains(stderr, "bad --state") {
			t.Errorf("--state %s: exit %d, stdout %.80q, stderr %q; want 2, nothing, and the file named", bad, code, out, stderr)
		}
	}
	// The directory goes away once lmn-heal has started: the state is lost.
	gone := filepath.Join(dir, "gone")
	os.Mkdir(gone, 0o755)
	in := &removeOnRead{dir: gone, r: bytes.NewReader(readFile(t, "testdata/replay.ndjson"))}
	var out, stderr bytes.Buffer
	if code := run(context.Background(), testConfig(t, "--state", filepath.Join(gone, "heal.state")), in, &out, &stderr); code != 1 {
		t.Errorf("state lost at exit: exit %d, want 1: %s", code, stderr.String())
	}
}

// removeOnRead removes dir before its first read.
type removeOnRead struct {
	dir  string
	r    io.Reader
	done bool
}

func (r *removeOnRead) Read(p []byte) (int, error) {
	if !r.done {
		r.done = true
		os.RemoveAll(r.dir)
	}
	return r.r.Read(p)
}

// TestHealLinesOnStderr: every heal record lmn-heal writes is also one
// line on stderr, with its phase, action and issue; --quiet leaves them out
// (issue 15 item 4).
func TestHealLinesOnStderr(t *testing.T) {
	out, stderr, code := runWith(t, testConfig(t), readFile(t, "testdata/replay.ndjson"))
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	hs := heals(t, out)
	if len(hs) < 5 {
		t.Fatalf("only %d heal records", len(hs))
	}
	lines := strings.Count(stderr, `msg="heal `)
	if lines != len(hs) {
		t.Errorf("%d heal lines on stderr for %d heal records:\n%s", lines, len(hs), stderr)
	}
	for _, h := range hs {
		if want := `msg="heal ` + h.Phase + `"`; !strings.Contains(stderr, want) || !strings.Contains(stderr, "issue="+h.Issue) {
			t.Errorf("stderr lacks %s for issue %s", want, h.Issue)
		}
	}
	_, stderr, _ = runWith(t, testConfig(t, "--quiet"), readFile(t, "testdata/replay.ndjson"))
	if strings.Contains(stderr, `msg="heal `) {
		t.Errorf("--quiet still says heal steps:\n%s", stderr)
	}
}

// TestWrongPipeWarnsOnce: lmn-collect | lmn-heal (no lmn-detect before it)
// says so once on stderr, with the right order; the right pipe says
// nothing of it (issue 15 item 9).
func TestWrongPipeWarnsOnce(t *testing.T) {
	samples := readFile(t, "../lmn-collect/testdata/golden.ndjson")
	_, stderr, code := runWith(t, testConfig(t), bytes.Repeat(samples, 3))
	if code != 0 || strings.Count(stderr, "wrongly built pipe") != 1 || !strings.Contains(stderr, "lmn-collect | lmn-detect | lmn-heal") {
		t.Errorf("exit %d; want one warning naming the order:\n%s", code, stderr)
	}
	right := append([]byte(`{"kind":"start","v":1,"ts":"2000-01-01T00:00:00Z","host":"h","src":"lmn-detect","version":"dev"}`+"\n"), samples...)
	if _, stderr, _ := runWith(t, testConfig(t), right); strings.Contains(stderr, "wrongly built pipe") {
		t.Errorf("the right order warned:\n%s", stderr)
	}
}

// TestRootIsSaid: run as root, lmn-heal says so in its start record and in
// one line on stderr, for its unprivileged tier then acts as root; as an
// ordinary user it says its uid only (issue 15, "the quick start run as
// root acts as root and says nothing").
func TestRootIsSaid(t *testing.T) {
	for _, tc := range []struct {
		euid     int
		args     []string
		root     bool
		warnings int
	}{
		{0, []string{"--tiers", "unprivileged,advise"}, true, 1},
		{0, []string{"--tiers", "unprivileged,advise", "--dry-run"}, true, 0},
		{0, nil, true, 0}, // advice only: nothing acts
		{1000, []string{"--tiers", "unprivileged,advise"}, false, 0},
	} {
		cfg := testConfig(t, tc.args...)
		cfg.euid = tc.euid
		out, stderr, code := runWith(t, cfg, nil)
		var start struct {
			Settings struct {
				UID  *int `json:"uid"`
				Root bool `json:"root"`
			} `json:"settings"`
		}
		if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &start); err != nil || code != 0 {
			t.Fatalf("exit %d, start record %q: %v", code, out, err)
		}
		if start.Settings.UID == nil || *start.Settings.UID != tc.euid || start.Settings.Root != tc.root {
			t.Errorf("euid %d %q: start settings uid %v root %v", tc.euid, tc.args, start.Settings.UID, start.Settings.Root)
		}
		if n := strings.Count(stderr, "running as root"); n != tc.warnings {
			t.Errorf("euid %d %q: %d root warnings, want %d:\n%s", tc.euid, tc.args, n, tc.warnings, stderr)
		}
	}
}
