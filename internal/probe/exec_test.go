package probe

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lmn-heal/lmn/internal/config"
)

// shProbe runs script with /bin/sh: argv is run directly, and the program
// these tests run happens to be a shell.
func shProbe(script string) Probe {
	return Probe{Exec: &Exec{Argv: []string{"/bin/sh", "-c", script}}}
}

func TestExec(t *testing.T) {
	for _, tc := range []struct {
		script string
		ok     bool
		err    string
	}{
		{"exit 0", true, ""},
		{"echo fine; exit 0", true, ""},
		{"exit 3", false, "exit status 3"},
		{"printf '\\n  \\n  queue depth 500 \\r\\nsecond line\\n'; exit 2", false, "exit status 2: queue depth 500"},
		{"echo 'on stderr' >&2; exit 1", false, "exit status 1: on stderr"},
		{"printf 'tab\\there\\033[31m red'; exit 1", false, "exit status 1: tab here [31m red"},
		{"kill -9 $$", false, "killed by signal 9"},
		// More output than is kept: the command is not stopped by it.
		{"head -c 1000000 /dev/zero | tr '\\0' x; echo; echo after; exit 4", false,
			"exit status 4: " + strings.Repeat("x", maxError-len("exit status 4: ")) + "…"},
	} {
		r := checkProbe(t, shProbe(tc.script))
		if r.OK != tc.ok || r.Error != tc.err {
			t.Errorf("%s: ok=%v error=%q, want ok=%v error=%q", tc.script, r.OK, r.Error, tc.ok, tc.err)
		}
	}
	r := checkProbe(t, Probe{Exec: &Exec{Argv: []string{"/nonexistent/check"}}})
	if r.OK || !strings.Contains(r.Error, "no such file or directory") {
		t.Errorf("missing program: %+v", r)
	}
}

// The arguments reach the program as they are: no shell splits or
// expands them.
func TestExecArgvDirect(t *testing.T) {
	out := filepath.Join(t.TempDir(), "args")
	p := Probe{Exec: &Exec{Argv: []string{"/bin/sh", "-c", `printf '%s|' "$@" >"$0"`, out, "$HOME", "a b", "*", ";reboot"}}}
	wantResult(t, checkProbe(t, p), true, "")
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "$HOME|a b|*|;reboot|"; string(got) != want {
		t.Errorf("arguments %q, want %q", got, want)
	}
}

// A command that hangs is killed at its timeout, with what it started in
// its process group.
func TestExecTimeoutKillsTheGroup(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	p := shProbe(`sleep 60 & echo $$ $! >` + pids + `; wait`)
	p.Timeout = config.Duration(testTimeout)
	wantResult(t, checkProbe(t, p), false, "timeout after 300ms")
	b, err := os.ReadFile(pids)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		if !gone(pid) {
			t.Errorf("pid %d (of %s) still runs after the timeout", pid, b)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// A child that leaves the process group and keeps the output pipe open
// does not hold the check: it ends shortly after the command.
func TestExecEscapedChildDoesNotHold(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	p := shProbe(`setsid sleep 60 & echo $! >` + pidFile + `; exit 0`)
	start := time.Now()
	r := checkProbe(t, p)
	b, _ := os.ReadFile(pidFile)
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
		syscall.Kill(pid, syscall.SIGKILL) // started by this test
	}
	wantResult(t, r, true, "")
	if d := time.Since(start); d > DefaultTimeout {
		t.Errorf("the check waited %v for the escaped child", d)
	}
}

// gone reports whether pid has exited (or become a zombie that is not
// this process's child), waiting up to a second for the kernel to finish
// the kill.
func gone(pid int) bool {
	for range 100 {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && strings.HasPrefix(string(b[i:]), ") Z") {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

func TestFirstLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "",
		"\n\n \t\n":              "",
		"one\ntwo":               "one",
		"  padded  \r\n":         "padded",
		"\x00bin\x01ary\n":       "bin ary",
		"bad \xff utf8":          "bad   utf8",
		strings.Repeat("é", 300): strings.Repeat("é", maxError/2) + "…",
	} {
		if got := firstLine([]byte(in)); got != want {
			t.Errorf("firstLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzFirstLine holds the error line of a command to what a record can
// carry: one line of valid UTF-8 without control characters, bounded, and
// a line that is in the output (clipped).
func FuzzFirstLine(f *testing.F) {
	for _, s := range []string{"", "error: queue full\nmore", "\r\n\r\nx", "\xff\xfe", "a\x00b", strings.Repeat("ü", 200)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		got := firstLine(out)
		if !utf8.ValidString(got) || len(got) > maxError+len("…") {
			t.Fatalf("firstLine(%q) = %q", out, got)
		}
		for _, r := range got {
			if r < ' ' || r == 0x7f {
				t.Fatalf("firstLine(%q) = %q: control character %q", out, got, r)
			}
		}
		if got != strings.TrimSpace(got) {
			t.Fatalf("firstLine(%q) = %q: not trimmed", out, got)
		}
		if got == "" && hasPrintable(out) {
			t.Fatalf("firstLine(%q) is empty, but the output has text", out)
		}
	})
}

// hasPrintable reports whether out has a character firstLine keeps.
func hasPrintable(out []byte) bool {
	for _, r := range string(out) {
		if r > ' ' && r != 0x7f && r != utf8.RuneError && !(r >= 0x80 && r < 0xa0) && !isSpace(r) {
			return true
		}
	}
	return false
}

func isSpace(r rune) bool { return strings.TrimSpace(string(r)) == "" }
