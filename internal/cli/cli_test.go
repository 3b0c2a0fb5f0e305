package cli

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/lmn-heal/lmn/internal/ptytest"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args        []string
		code        int // -1: go on
		out, errHas string
	}{
		{nil, -1, "", ""},
		{[]string{"--count", "3"}, -1, "", ""},
		{[]string{"-h"}, 0, "", "usage: lmn-x [flags] < in > out"},
		{[]string{"--version"}, 0, "1.2.3\n", ""},
		{[]string{"--bogus"}, 2, "", "flag provided but not defined: -bogus"},
		{[]string{"--count", "many"}, 2, "", `invalid value "many" for flag -count`},
		{[]string{"stray"}, 2, "", `lmn-x: unexpected argument "stray": the stream comes on stdin`},
		{[]string{"--count", "-1"}, 2, "", "lmn-x: --count -1: must be 0 or more\nusage: lmn-x [flags] < in > out (lmn-x -h lists the flags)"},
	} {
		var stdout, stderr bytes.Buffer
		fs := New("lmn-x", "1.2.3", "[flags] < in > out", &stdout, &stderr)
		fs.NoArgs = "the stream comes on stdin"
		count := fs.Int("count", 0, "stop after `N`")
		err := fs.Parse(tc.args)
		if err == nil && *count < 0 {
			err = fs.Usagef("--count %d: must be 0 or more", *count)
		}
		code := -1
		if err != nil {
			code = Code(err)
		}
		if code != tc.code || stdout.String() != tc.out || !strings.Contains(stderr.String(), tc.errHas) {
			t.Errorf("%q: code %d, stdout %q, stderr %q; want %d, %q, stderr with %q", tc.args, code, stdout.String(), stderr.String(), tc.code, tc.out, tc.errHas)
		}
		if code == 2 && stderr.Len() == 0 {
			t.Errorf("%q: exit 2 without a word", tc.args)
		}
	}
}

func TestPositional(t *testing.T) {
	var stderr bytes.Buffer
	fs := New("lmn-y", "dev", "[flags] FILE", &bytes.Buffer{}, &stderr)
	fs.TakesArgs = true
	if err := fs.Parse([]string{"a.json"}); err != nil || fs.Arg(0) != "a.json" {
		t.Fatalf("err %v, args %q", err, fs.Args())
	}
}

func TestEventLines(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !EventLines(f, f) {
		t.Error("stderr a file (the journal's socket, a log): no event lines")
	}
	// A real pseudo-terminal, as a terminal the pipe runs in.
	_, tty := ptytest.Open(t)
	if EventLines(f, tty) {
		t.Error("stderr a terminal, stdout a pipe onward: event lines drawn over the dashboard")
	}
	if !EventLines(tty, tty) {
		t.Error("stdout and stderr a terminal: no event lines")
	}
}
