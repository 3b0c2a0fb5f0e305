// Package sdtest runs a real, private systemd user manager for tests and
// benchmarks, without touching the host's service manager or PID 1.
//
// The manager runs inside
//   - its own fresh, empty cgroups (one per hierarchy: the cgroup2 tree and,
//     on hybrid hosts, the name=systemd v1 tree); only the manager's process is
//     moved into them, before it execs systemd, so it never adopts other
//     processes as it would when started bare;
//   - a private mount namespace (unshare --mount --propagation private) with a
//     tmpfs over /run/systemd holding /run/systemd/system, so systemctl sees a
//     booted systemd there and nothing the manager mounts reaches the host,
//     and with a pipe bound over /dev/kmsg that carries the manager's log;
//   - its own $XDG_RUNTIME_DIR, $XDG_CONFIG_HOME and $HOME in a temp dir, so
//     systemctl --user reaches it through $XDG_RUNTIME_DIR/systemd/private.
//
// Close (or the test cleanup registered by Start) stops the manager, kills
// whatever is left in its cgroups, removes them and checks that no process,
// cgroup or mount namespace of the sandbox is left. See docs/testing.md.
package sdtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Manager is a running private systemd user manager.
type Manager struct {
	dir     string   // caller's directory holding everything below
	runtime string   // $XDG_RUNTIME_DIR
	config  string   // $XDG_CONFIG_HOME
	logPath string   // manager log (its kmsg output and the wrapper's stderr)
	cgroups []string // the cgroups created for the manager, one per hierarchy
	mntNS   string   // readlink of the manager's /proc/PID/ns/mnt
	pid     int
	// sweepErr says what of an earlier, killed run could not be removed;
	// it does not stop this manager.
	sweepErr error

	cmd     *exec.Cmd
	exited  chan struct{} // closed once cmd.Wait returns
	waitErr error
	logFile *os.File
	fifo    *os.File
	copied  sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// startTimeout bounds how long the manager may take to reach "running".
const startTimeout = 60 * time.Second

// wrapper runs in the new mount namespace as the process that becomes the
// manager: it moves itself (and nothing else) into the fresh cgroups, hides
// the host's /run/systemd, routes /dev/kmsg to the log pipe and execs systemd.
// Positional parameters: $1 systemd binary, $2 log fifo, $3... cgroup.procs files.
const wrapper = `set -eu
bin=$1 fifo=$2
shift 2
for procs in "$@"; do echo $$ > "$procs"; done
if [ -d /run/systemd ]; then
	mount -t tmpfs -o mode=0755,size=64m lmn-sdtest /run/systemd
else
	mount -t tmpfs -o mode=0755,size=64m lmn-sdtest /run
fi
mkdir -p /run/systemd/system
target=null
if [ -e /dev/kmsg ]; then
	mount --bind "$fifo" /dev/kmsg
	target=kmsg
fi
exec "$bin" --user --log-target=$target --log-level=debug --log-color=no
`

// StartManager starts a private user manager with its state under dir, which
// must exist and be short enough for socket paths (about 80 bytes), and waits
// until it reports "running". The caller must call Close. It needs root and
// is meant for tests, benchmarks and the end-to-end suite, never for hosts
// whose service manager matters to the caller more than the test does.
func StartManager(dir string) (*Manager, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	m := &Manager{
		dir:     dir,
		runtime: filepath.Join(dir, "run"),
		config:  filepath.Join(dir, "config"),
		logPath: filepath.Join(dir, "manager.log"),
		exited:  make(chan struct{}),
	}
	if n := len(m.runtime + "/systemd/private"); n > 100 {
		return nil, fmt.Errorf("sdtest: directory %q too long for the manager's socket path (%d bytes)", dir, n)
	}
	if err := m.prepareDirs(); err != nil {
		return nil, err
	}
	if err := sweepStale(); err != nil {
		m.sweepErr = fmt.Errorf("sdtest: clean up after an earlier run: %w", err)
	}
	leaf := fmt.Sprintf("%s%d-%d", leafPrefix, os.Getpid(), time.Now().UnixNano())
	cgroups, err := makeCgroups(leaf)
	if err != nil {
		return nil, errors.Join(err, m.Close())
	}
	m.cgroups = cgroups
	if err := m.start(); err != nil {
		return nil, errors.Join(err, m.Close())
	}
	if err := m.waitRunning(); err != nil {
		return nil, errors.Join(fmt.Errorf("%w\nmanager log:\n%s", err, m.Log()), m.Close())
	}
	return m, nil
}

func (m *Manager) prepareDirs() error {
	for _, d := range []string{m.runtime, m.UnitDir(), filepath.Join(m.dir, "home")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("sdtest: %w", err)
		}
	}
	f, err := os.OpenFile(m.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("sdtest: %w", err)
	}
	m.logFile = f
	return nil
}

// start opens the log pipe and launches the wrapper in a new mount namespace.
func (m *Manager) start() error {
	fifo := filepath.Join(m.dir, "kmsg")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		return fmt.Errorf("sdtest: log pipe: %w", err)
	}
	// Opened read-write so writers never see EPIPE and this never blocks.
	r, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("sdtest: log pipe: %w", err)
	}
	m.fifo = r
	m.copied.Add(1)
	go m.copyLog(r)

	bin, _ := systemdBinary()
	args := []string{"--mount", "--propagation", "private", "--", "/bin/sh", "-c", wrapper, "sh", bin, fifo}
	for _, cg := range m.cgroups {
		args = append(args, filepath.Join(cg, "cgroup.procs"))
	}
	cmd := exec.Command("unshare", args...)
	cmd.Env = m.managerEnv()
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = m.logFile, m.logFile
	// If this process dies without Close, take the manager down with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("sdtest: start %v: %w", cmd.Args[:3], err)
	}
	m.cmd, m.pid = cmd, cmd.Process.Pid
	go func() {
		m.waitErr = cmd.Wait()
		close(m.exited)
	}()
	return nil
}

// copyLog moves the manager's kmsg lines ("<31>systemd[42]: ...") to the log
// file, one line at a time so concurrent writers do not interleave.
func (m *Manager) copyLog(r io.Reader) {
	defer m.copied.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m.logFile.Write(append(sc.Bytes(), '\n'))
	}
}

func (m *Manager) managerEnv() []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	return []string{
		"PATH=" + path,
		"HOME=" + filepath.Join(m.dir, "home"),
		"USER=root",
		"LOGNAME=root",
		"LANG=C.UTF-8",
		"XDG_RUNTIME_DIR=" + m.runtime,
		"XDG_CONFIG_HOME=" + m.config,
	}
}

// waitRunning waits for the manager's private socket, then for startup to
// finish (is-system-running --wait), or for the manager to die.
func (m *Manager) waitRunning() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	sock := filepath.Join(m.runtime, "systemd", "private")
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		select {
		case <-m.exited:
			return fmt.Errorf("sdtest: manager exited during startup: %v", m.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("sdtest: manager did not create %s within %v", sock, startTimeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := m.readNamespace(); err != nil {
		return err
	}
	out, err := m.Output(ctx, "is-system-running", "--wait")
	switch state := strings.TrimSpace(out); state {
	case "running", "degraded":
		return nil
	default:
		return fmt.Errorf("sdtest: manager state %q: %v", state, err)
	}
}

func (m *Manager) readNamespace() error {
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", m.pid))
	if err != nil {
		return fmt.Errorf("sdtest: manager mount namespace: %w", err)
	}
	self, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return fmt.Errorf("sdtest: own mount namespace: %w", err)
	}
	if ns == self {
		return fmt.Errorf("sdtest: manager pid %d shares this process's mount namespace %s", m.pid, ns)
	}
	m.mntNS = ns
	return nil
}

// SweepErr reports cgroups of earlier, killed runs that StartManager could
// not remove (nil normally). They do not affect this manager.
func (m *Manager) SweepErr() error { return m.sweepErr }

// Pid is the manager's process id.
func (m *Manager) Pid() int { return m.pid }

// Cgroups are the cgroup directories the manager runs in, one per hierarchy.
func (m *Manager) Cgroups() []string { return append([]string(nil), m.cgroups...) }

// Systemctl is the argv prefix that reaches this manager: systemctl --user
// run inside the manager's mount namespace, where /run/systemd/system exists.
func (m *Manager) Systemctl() []string {
	return []string{"nsenter", "-t", strconv.Itoa(m.pid), "-m", "--", "systemctl", "--user"}
}

// SystemdRun is the argv prefix of systemd-run --user reaching this
// manager, as Systemctl is for systemctl: what it runs becomes a transient
// unit of the sandboxed manager.
func (m *Manager) SystemdRun() []string {
	return []string{"nsenter", "-t", strconv.Itoa(m.pid), "-m", "--", "systemd-run", "--user"}
}

// Env is the environment the Systemctl prefix needs, to be added to the
// caller's: the runtime directory whose systemd/private socket it dials.
func (m *Manager) Env() []string {
	return []string{"XDG_RUNTIME_DIR=" + m.runtime, "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0"}
}

// UnitDir is where user unit files go ($XDG_CONFIG_HOME/systemd/user).
func (m *Manager) UnitDir() string { return filepath.Join(m.config, "systemd", "user") }

// Log returns the manager's log so far (debug level).
func (m *Manager) Log() string {
	b, err := os.ReadFile(m.logPath)
	if err != nil {
		return fmt.Sprintf("(manager log unavailable: %v)", err)
	}
	return string(b)
}
