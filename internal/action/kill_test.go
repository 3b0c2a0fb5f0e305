package action

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// startChild starts a real process and returns it with its start time
// from the real /proc.
func startChild(t *testing.T, script string) (*exec.Cmd, string) {
	t.Helper()
	// The script says "ready" once its traps are set, before it sleeps.
	cmd := exec.Command("/bin/sh", "-c", strings.Replace(script, "READY", "echo ready", 1))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if strings.Contains(script, "READY") {
		buf := make([]byte, 6)
		if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "ready\n" {
			t.Fatalf("child not ready: %q %v", buf, err)
		}
	}
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "stat"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := parseStat(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	return cmd, strconv.FormatUint(st.startTime, 10)
}

func alive(cmd *exec.Cmd) bool {
	return cmd.Process.Signal(syscall.Signal(0)) == nil && cmd.ProcessState == nil
}

func killReq(cmd *exec.Cmd, start, grace string) Request {
	return Request{Action: "kill_process", Params: map[string]string{
		"pid": strconv.Itoa(cmd.Process.Pid), "start_time": start, "grace": grace}}
}

// inUnit returns an Env whose procfs is a fixture copy of the real
// child's stat and cmdline with a cgroup file placing it in unit under
// system.slice: the pidfd and the signal are real, the cgroup is the
// fixture's (cgroup_test.go moves real processes into real cgroups).
func inUnit(t *testing.T, cmd *exec.Cmd, unit string) Env {
	t.Helper()
	pid := strconv.Itoa(cmd.Process.Pid)
	root := t.TempDir()
	dir := filepath.Join(root, pid)
	os.MkdirAll(dir, 0o755)
	for _, name := range []string{"stat", "cmdline"} {
		b, err := os.ReadFile(filepath.Join("/proc", pid, name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	os.WriteFile(filepath.Join(dir, "cgroup"), []byte("0::/system.slice/"+unit+"\n"), 0o644)
	return Env{ProcRoot: root, Units: DefaultUnitPolicy()}
}

func TestKillProcessByPidfd(t *testing.T) {
	cmd, start := startChild(t, "exec sleep 60")
	res, err := Run(context.Background(), inUnit(t, cmd, "lmn-victim.service"), killReq(cmd, start, "5s"))
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Errorf("child ended with %v, want SIGTERM", err)
	}
	if !strings.Contains(res.Output, "SIGTERM") {
		t.Errorf("output %q", res.Output)
	}
}

func TestKillProcessEscalatesAfterGrace(t *testing.T) {
	cmd, start := startChild(t, "trap '' TERM; READY; while :; do sleep 1; done")
	res, err := Run(context.Background(), inUnit(t, cmd, "lmn-victim.service"), killReq(cmd, start, "200ms"))
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("child ended with %v, want SIGKILL", err)
	}
	if !strings.Contains(res.Output, "SIGKILL") {
		t.Errorf("output %q", res.Output)
	}
}

func TestKillProcessReusedPid(t *testing.T) {
	cmd, start := startChild(t, "exec sleep 60")
	n, _ := strconv.ParseUint(start, 10, 64)
	_, err := Run(context.Background(), inUnit(t, cmd, "lmn-victim.service"), killReq(cmd, strconv.FormatUint(n+1, 10), "1s"))
	if !errors.Is(err, ErrDenied) {
		t.Errorf("wrong start time: %v, want ErrDenied", err)
	}
	if !alive(cmd) {
		t.Error("process was signalled despite a start-time mismatch")
	}
}

func TestKillProcessRefusesKernelThread(t *testing.T) {
	cmd, start := startChild(t, "exec sleep 60")
	pid := strconv.Itoa(cmd.Process.Pid)
	// A fixture procfs that describes the real child as a kernel thread:
	// the pidfd is real, the stat it is checked against is the fixture.
	for name, stat := range map[string]string{
		"flag":     pid + " (kworker/0:1) I 2 0 0 0 -1 " + strconv.Itoa(pfKthread) + " 0 0 0 0 0 0 0 0 20 0 1 0 " + start + " 0 0",
		"kthreadd": pid + " (x) S 2 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 " + start + " 0 0",
	} {
		root := t.TempDir()
		dir := filepath.Join(root, pid)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644)
		os.WriteFile(filepath.Join(dir, "cmdline"), nil, 0o644)
		_, err := Run(context.Background(), Env{ProcRoot: root}, killReq(cmd, start, "1s"))
		if !errors.Is(err, ErrDenied) {
			t.Errorf("%s: %v, want ErrDenied", name, err)
		}
	}
	if !alive(cmd) {
		t.Error("kernel-thread lookalike was signalled")
	}
}

func TestKillProcessGone(t *testing.T) {
	cmd, start := startChild(t, "exit 0")
	cmd.Wait()
	_, err := Run(context.Background(), Env{}, killReq(cmd, start, "1s"))
	if !errors.Is(err, ErrFailed) {
		t.Errorf("gone process: %v, want ErrFailed", err)
	}
}

func TestParseStatCommWithParens(t *testing.T) {
	st, err := parseStat("42 (a) b) (c) S 7 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0")
	if err != nil || st.ppid != 7 || st.flags != 4194560 || st.startTime != 12345 {
		t.Errorf("parseStat = %+v, %v", st, err)
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add("1 (init) S 0 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0")
	f.Add("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0")
	f.Add(")")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := parseStat(s)
		if err == nil && !strings.Contains(s, ")") {
			t.Fatalf("parsed %+v from %q without ')'", st, s)
		}
	})
}

func FuzzValidate(f *testing.F) {
	f.Add("kill_process", "pid", "1")
	f.Add("restart_unit", "unit", "nginx.service")
	f.Add("restart_unit", "unit", "a;b.service")
	f.Add("journal_vacuum", "size", "500M")
	f.Add("nix_gc", "older_than", "14d")
	f.Fuzz(func(t *testing.T, action, key, value string) {
		env := DefaultEnv()
		req := Request{Action: action, Params: map[string]string{key: value}}
		if err := Validate(env, req); err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrDenied) && !errors.Is(err, ErrUnknown) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if action == "restart_unit" && strings.ContainsAny(value, " ;|&$`'\"<>()\n") {
			t.Fatalf("accepted unit %q", value)
		}
		if action == "kill_process" {
			t.Fatalf("accepted kill_process without start_time: %v", req)
		}
	})
}

func FuzzCheckUnitName(f *testing.F) {
	for _, s := range []string{"nginx.service", "a@b.service", "-.slice", "a b.service", `x\x2dy.mount`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckUnitName(s) != nil {
			return
		}
		if len(s) > maxUnitName || s[0] == '-' || strings.ContainsAny(s, " ;|&$`'\"<>()/\n\x00") {
			t.Fatalf("accepted %q", s)
		}
	})
}

// Another lmn-privd (the daemon, seen from `sudo lmn-privd exec`, or an
// exec run seen from the daemon) is lmn-privd too: never killed. The
// pidfd is real; the stat and the exe link it is checked against are a
// fixture naming this binary.
func TestKillProcessRefusesAnotherBroker(t *testing.T) {
	cmd, start := startChild(t, "exec sleep 60")
	pid := strconv.Itoa(cmd.Process.Pid)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ comm, exe string }{
		"same binary":     {"sleep", self},
		"replaced binary": {"sleep", self + " (deleted)"},
		"by name":         {"lmn-privd", "/bin/sleep"}, // exe unreadable without CAP_SYS_PTRACE: the name still counts
	} {
		root := t.TempDir()
		dir := filepath.Join(root, pid)
		os.MkdirAll(dir, 0o755)
		exe := c.exe
		os.WriteFile(filepath.Join(dir, "stat"), []byte(pid+" ("+c.comm+") S 1 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 "+start+" 0 0"), 0o644)
		os.WriteFile(filepath.Join(dir, "cmdline"), []byte("lmn-privd\x00serve\x00"), 0o644)
		if err := os.Symlink(exe, filepath.Join(dir, "exe")); err != nil {
			t.Fatal(err)
		}
		_, err := Run(context.Background(), Env{ProcRoot: root}, killReq(cmd, start, "1s"))
		if !errors.Is(err, ErrDenied) {
			t.Errorf("%s: %v, want ErrDenied", name, err)
		}
	}
	if !alive(cmd) {
		t.Error("a process running this broker's binary was signalled")
	}
}
