package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestSummaryCommand: `lmn-dash summary` reads a recorded stream from
// files or stdin and says what lmn did; a bad --since is a usage error.
func TestSummaryCommand(t *testing.T) {
	const rec = "../../internal/summary/testdata/keeps-crashing.ndjson"
	var out, errb bytes.Buffer
	if code := summaryCmd([]string{"--since", "1h", rec}, os.Stdin, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"issues  3 fired, 2 resolved, 1 firing at the end", "4 started, 4 succeeded, 2 gave up; verified: 4 recovered",
		"unit lmn-e2e-loop.service (user)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	f, err := os.Open(rec)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var fromStdin bytes.Buffer
	if code := summaryCmd([]string{"--since", "1h"}, f, &fromStdin, &errb); code != 0 || fromStdin.String() != out.String() {
		t.Errorf("from stdin: exit %d, report\n%s\nwant\n%s", code, fromStdin.String(), out.String())
	}
	out.Reset()
	if code := summaryCmd([]string{"--json", rec}, os.Stdin, &out, &errb); code != 0 || !strings.Contains(out.String(), `"fired": 3`) {
		t.Errorf("--json: exit %d\n%s", code, out.String())
	}
	for _, args := range [][]string{{"--since", "soon"}, {"--since", "-1h"}, {"--bogus"}} {
		errb.Reset()
		if code := summaryCmd(append(args, rec), os.Stdin, &out, &errb); code != 2 || errb.Len() == 0 {
			t.Errorf("%q: exit %d, stderr %q; want 2 and a word", args, code, errb.String())
		}
	}
	if code := summaryCmd([]string{"no/such/file.ndjson"}, os.Stdin, &out, &errb); code != 1 {
		t.Errorf("a missing file: exit %d, want 1", code)
	}
}

// FuzzParseSpan: --since never panics, and a span it accepts says at most
// one thing: a positive duration, today, or a time.
func FuzzParseSpan(f *testing.F) {
	for _, s := range []string{"", "1h", "30m", "today", "2026-12-07T10:00:00Z", "-1h", "0s", "yesterday", "1h30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := parseSpan(s)
		if err != nil {
			return
		}
		set := 0
		for _, b := range []bool{sp.Since != 0, sp.Today, !sp.From.IsZero()} {
			if b {
				set++
			}
		}
		if sp.Since < 0 || set > 1 {
			t.Errorf("parseSpan(%q) = %+v", s, sp)
		}
	})
}
