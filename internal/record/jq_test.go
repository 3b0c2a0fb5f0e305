package record

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestJQIdiom runs the jq lines of docs/stream.md ("Times in jq") on real
// records, as a person would paste them, and checks each against Go's
// reading of the same ts.
func TestJQIdiom(t *testing.T) {
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("needs jq (Debian's jq; .ci/run installs it)")
	}
	doc, err := os.ReadFile("../../docs/stream.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(doc)[strings.Index(string(doc), "### Times in jq"):]
	block := section[strings.Index(section, "```sh\n")+6:]
	block = block[:strings.Index(block, "```")]
	var lines []string
	for _, l := range strings.Split(block, "\n") {
		if strings.HasPrefix(l, "jq ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 3 {
		t.Fatalf("found %d jq lines in docs/stream.md, want 3:\n%s", len(lines), block)
	}
	recent := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second).Add(123456789)
	old := recent.Add(-2 * time.Hour)
	dir := t.TempDir()
	var day bytes.Buffer
	w := NewWriter(&day)
	for _, h := range []Heal{
		{Header: NewHeader(KindHeal, "lmn-heal", "h", old), Issue: "a", Action: "restart_unit", Phase: PhaseStarted},
		{Header: NewHeader(KindHeal, "lmn-heal", "h", recent), Issue: "b", Action: "restart_unit", Phase: PhaseStarted},
	} {
		if err := w.Emit(h); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "day.ndjson"), day.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(line string) []string {
		cmd := exec.Command("/bin/sh", "-c", line)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
		return strings.Fields(string(out))
	}
	if got := run(lines[0]); len(got) != 2 || got[0] != strconv.FormatInt(old.Unix(), 10) {
		t.Errorf("%s gave %v, want %d first", lines[0], got, old.Unix())
	}
	got := run(lines[1])
	f, err := strconv.ParseFloat(got[len(got)-1], 64)
	if want := float64(recent.UnixNano()) / 1e9; err != nil || math.Abs(f-want) > 1e-6 {
		t.Errorf("%s gave %v, want %.9f", lines[1], got, want)
	}
	if got := run(lines[2]); len(got) != 1 || !strings.Contains(got[0], `"issue":"b"`) {
		t.Errorf("%s gave %v, want the recent heal record only", lines[2], got)
	}
}
