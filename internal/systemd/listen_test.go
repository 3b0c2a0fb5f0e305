package systemd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func pidForTest() int { return os.Getpid() }

// childEnv marks the re-executed test binary as the socket-activated child.
const childEnv = "LMN_SYSTEMD_TEST_LISTENERS_CHILD"

// childReport is what the activated child tells the parent on stdout.
type childReport struct {
	Names   []string  `json:"names"`
	Fds     []uintptr `json:"fds"`
	Cloexec []bool    `json:"cloexec"`
	Env     []string  `json:"env"` // LISTEN_* variables still set after Listeners
	Err     string    `json:"err"`
}

// TestMain lets the test binary act as a socket-activated service: the
// parent starts it through /bin/sh so that LISTEN_PID can be set to the pid
// the child really has, as systemd does between fork and exec.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(activatedChild())
	}
	os.Exit(m.Run())
}

func activatedChild() int {
	var rep childReport
	files, err := Listeners()
	if err != nil {
		rep.Err = err.Error()
	}
	for _, f := range files {
		rep.Names = append(rep.Names, f.Name())
		rep.Fds = append(rep.Fds, f.Fd())
		flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
		rep.Cloexec = append(rep.Cloexec, err == nil && flags&unix.FD_CLOEXEC != 0)
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "LISTEN_") {
			rep.Env = append(rep.Env, kv)
		}
	}
	json.NewEncoder(os.Stdout).Encode(rep)
	os.Stdout.Sync()
	// Serve one connection on the first listener so the parent proves the
	// descriptor is the socket it passed.
	if len(files) > 0 && os.Getenv(childEnv) == "serve" {
		ln, err := net.FileListener(files[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, "FileListener:", err)
			return 1
		}
		conn, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "Accept:", err)
			return 1
		}
		io.WriteString(conn, "hello from "+files[0].Name())
		conn.Close()
	}
	return 0
}

// activate runs the test binary as a socket-activated child with files as
// fds 3.., mode selecting what the child does, and extra LISTEN_* env.
// pidExpr is the shell expression for LISTEN_PID ("$$" is the child itself).
func activate(t *testing.T, mode, pidExpr string, files []*os.File, env ...string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=`+pidExpr+`; export LISTEN_PID; exec "$@"`, "sh", exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	cmd.Env = append(cmd.Env, env...)
	cmd.ExtraFiles = files
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start activated child: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, bufio.NewReader(out)
}

func readReport(t *testing.T, r *bufio.Reader) childReport {
	t.Helper()
	line, err := r.ReadBytes('\n')
	if err != nil {
		t.Fatalf("read child report: %v", err)
	}
	var rep childReport
	if err := json.Unmarshal(line, &rep); err != nil {
		t.Fatalf("decode child report %q: %v", line, err)
	}
	return rep
}

func unixListenerFile(t *testing.T, path string) *os.File {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false) // the child now owns the socket; keep its path
	ln.Close()
	t.Cleanup(func() { f.Close() })
	return f
}

func TestListenersActivated(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "privd.sock")
	files := []*os.File{unixListenerFile(t, sock), unixListenerFile(t, filepath.Join(dir, "other.sock"))}
	cmd, out := activate(t, "serve", "$$", files, "LISTEN_FDS=2", "LISTEN_FDNAMES=privd:")
	rep := readReport(t, out)
	if rep.Err != "" {
		t.Fatalf("Listeners in child: %s", rep.Err)
	}
	if want := []string{"privd", "LISTEN_FD_4"}; fmt.Sprint(rep.Names) != fmt.Sprint(want) {
		t.Errorf("names = %q, want %q", rep.Names, want)
	}
	if fmt.Sprint(rep.Fds) != "[3 4]" {
		t.Errorf("fds = %v, want [3 4]", rep.Fds)
	}
	for i, c := range rep.Cloexec {
		if !c {
			t.Errorf("fd %d: close-on-exec not set", 3+i)
		}
	}
	if len(rep.Env) != 0 {
		t.Errorf("LISTEN_* left in environment: %q", rep.Env)
	}
	conn, err := net.DialTimeout("unix", sock, 10*time.Second)
	if err != nil {
		t.Fatalf("dial activated socket: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(conn)
	if err != nil || string(got) != "hello from privd" {
		t.Fatalf("child answered %q, %v; want %q", got, err, "hello from privd")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
}

func TestListenersOtherPid(t *testing.T) {
	f := unixListenerFile(t, filepath.Join(t.TempDir(), "s"))
	cmd, out := activate(t, "report", "1", []*os.File{f}, "LISTEN_FDS=1")
	rep := readReport(t, out)
	if rep.Err != "" || len(rep.Names) != 0 {
		t.Errorf("LISTEN_PID of another process: got files %q, err %q; want none", rep.Names, rep.Err)
	}
	if len(rep.Env) != 0 {
		t.Errorf("LISTEN_* left in environment: %q", rep.Env)
	}
	cmd.Wait()
}

func TestListenersBadEnv(t *testing.T) {
	for _, env := range [][]string{
		{"LISTEN_FDS=two"},
		{"LISTEN_FDS=2", "LISTEN_FDNAMES=a:b:c"},
		// Only fd 3 is passed; the Go runtime of the child opens a few
		// descriptors of its own, but not sixty.
		{"LISTEN_FDS=64"},
	} {
		f := unixListenerFile(t, filepath.Join(t.TempDir(), "s"))
		cmd, out := activate(t, "report", "$$", []*os.File{f}, env...)
		rep := readReport(t, out)
		if rep.Err == "" || len(rep.Names) != 0 {
			t.Errorf("%q: got files %q and no error", env, rep.Names)
		}
		if !strings.Contains(rep.Err, "LISTEN_") {
			t.Errorf("%q: error %q does not name the variable", env, rep.Err)
		}
		cmd.Wait()
	}
}

func TestListenersAbsent(t *testing.T) {
	t.Setenv("LISTEN_PID", "")
	t.Setenv("LISTEN_FDS", "")
	files, err := Listeners()
	if files != nil || err != nil {
		t.Fatalf("Listeners without env = %v, %v; want nil, nil", files, err)
	}
}

func FuzzParseListenEnv(f *testing.F) {
	f.Add("42", "2", "a:b")
	f.Add("42", "1", "")
	f.Add("41", "1", "")
	f.Add("42", "0", "")
	f.Add("42", "3", "::")
	f.Add("x", "-1", "a")
	f.Add("42", "99999999", "")
	f.Fuzz(func(t *testing.T, pid, fds, names string) {
		const self = 42
		out, err := parseListenEnv(pid, fds, names, self)
		if err != nil {
			if out != nil {
				t.Fatalf("names %q with error %v", out, err)
			}
			return
		}
		if len(out) > maxListenFds {
			t.Fatalf("%d names", len(out))
		}
		for i, n := range out {
			if n == "" {
				t.Fatalf("fd %d has an empty name (env %q %q %q)", 3+i, pid, fds, names)
			}
			if names != "" && strings.Contains(n, ":") {
				t.Fatalf("name %q contains the separator", n)
			}
		}
	})
}
