package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lmn-heal/lmn/internal/cli"
)

// Every exit 2 says what was wrong: "lmn-detect stray" used to exit 2
// printing only the usage.
func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int // -1: run
		says string
	}{
		{[]string{"stray"}, 2, `lmn-detect: unexpected argument "stray": the stream comes on stdin`},
		{[]string{"--rulez", "x"}, 2, "flag provided but not defined: -rulez"},
		{[]string{"-h"}, 0, "usage: lmn-detect [flags]"},
		{[]string{"--version"}, 0, ""},
		{[]string{"--rules", "r.json", "--only-issues"}, -1, ""},
	} {
		var stdout, stderr bytes.Buffer
		cfg, err := parseFlags(tc.args, &stdout, &stderr)
		code := -1
		if err != nil {
			code = cli.Code(err)
		}
		if code != tc.code || !strings.Contains(stderr.String(), tc.says) {
			t.Errorf("%q: exit %d, stderr %q; want %d saying %q", tc.args, code, stderr.String(), tc.code, tc.says)
		}
		if tc.args[0] == "--version" && stdout.String() != version+"\n" {
			t.Errorf("--version printed %q", stdout.String())
		}
		if code == -1 && (cfg.rulesFile != "r.json" || !cfg.onlyIssues) {
			t.Errorf("%q: config %+v", tc.args, cfg)
		}
	}
}
