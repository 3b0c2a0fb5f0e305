package action

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestJournalVacuumKeepsTheMinimum: size= below keep= is raised to it,
// and a journal already within keep= is not vacuumed. journalctl is a
// stand-in here that reports a journal of 1.2G: this machine runs no
// journald (PID 1 is not systemd), so there are no journal files to
// vacuum; TestJournalVacuumRealJournalctl reads the real tool's output.
func TestJournalVacuumKeepsTheMinimum(t *testing.T) {
	for _, tc := range []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{"size": "16M"}, "--vacuum-size=256M"},
		{map[string]string{"size": "16M", "keep": "64M"}, "--vacuum-size=64M"},
		{map[string]string{"size": "500M"}, "--vacuum-size=500M"},
		{map[string]string{"time": "2weeks"}, "--vacuum-time=2weeks"},
	} {
		tool, log := usageTool(t, "1.2G")
		if _, err := Run(context.Background(), Env{Journalctl: tool}, Request{Action: "journal_vacuum", Params: tc.params}); err != nil {
			t.Fatal(err)
		}
		if got := readLog(t, log); got != "--disk-usage "+tc.want {
			t.Errorf("%v: journalctl ran with %q, want --disk-usage %s", tc.params, got, tc.want)
		}
	}
	tool, log := usageTool(t, "200.0M")
	res, err := Run(context.Background(), Env{Journalctl: tool}, Request{Action: "journal_vacuum", Params: map[string]string{"time": "1d"}})
	if err != nil || !strings.Contains(res.Output, "nothing deleted") {
		t.Fatalf("journal_vacuum of a journal within keep: %q %v", res.Output, err)
	}
	if got := readLog(t, log); got != "--disk-usage" {
		t.Errorf("journalctl ran with %q, want only --disk-usage", got)
	}
	if err := Validate(Env{}, Request{Action: "journal_vacuum", Params: map[string]string{"size": "500M", "keep": "1M"}}); err == nil {
		t.Error("keep=1M accepted")
	}
}

func TestJournalVacuumRealJournalctl(t *testing.T) {
	if _, err := exec.LookPath("journalctl"); err != nil {
		t.Skip("needs journalctl (Debian's systemd)")
	}
	env := Env{Journalctl: []string{"journalctl", "--directory", t.TempDir()}}
	res, err := Run(context.Background(), env, Request{Action: "journal_vacuum", Params: map[string]string{"size": "500M"}})
	if err != nil || !strings.Contains(res.Output, "takes up 0 bytes, within keep=256M") {
		t.Errorf("journal_vacuum of an empty journal: %q %v", res.Output, err)
	}
}

func TestParseUsage(t *testing.T) {
	for in, want := range map[string]int64{
		"Archived and active journals take up 1.2G in the file system.": 1288490188,
		"Archived and active journals take up 0B in the file system.":   0,
		"Journals take up 16.0M on disk.":                               16 << 20,
		"No journal files were found.":                                  -1,
	} {
		got, ok := parseUsage(in)
		if !ok {
			got = -1
		}
		if got != want {
			t.Errorf("parseUsage(%q) = %d, want %d", in, got, want)
		}
	}
}

// usageTool is a journalctl stand-in that logs its arguments and answers
// --disk-usage with a journal of size.
func usageTool(t *testing.T, size string) ([]string, string) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "argv")
	script := filepath.Join(dir, "journalctl")
	body := "#!/bin/sh\nprintf '%s ' \"$@\" >> " + shellQuote(log) + "\n" +
		"[ \"$1\" = --disk-usage ] && echo 'Archived and active journals take up " + size + " in the file system.'\nexit 0\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{script}, log
}

func readLog(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
