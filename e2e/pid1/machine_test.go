package pid1

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
)

// machine is a booted container: systemd as its PID 1, on an overlay of the
// cached Debian root that is thrown away with the test.
type machine struct {
	leader int // the container's PID 1, as this (the host's) pid namespace sees it
	sd     *sdtest.Manager
}

// boot starts a container and waits until its manager is running. Its
// cleanup powers it off; the sdtest manager it runs under then removes
// everything left.
func boot(t *testing.T) *machine {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: boots a container")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: systemd-nspawn boots a container")
	}
	nspawn, err := exec.LookPath("systemd-nspawn")
	if err != nil {
		t.Skip("no systemd-nspawn (apt-get install systemd-container)")
	}
	if !hasOverlayfs() {
		t.Skip("no overlay file system in this kernel")
	}
	root := image(t)
	// Registered before sdtest.Start, so removed after the manager is gone.
	dir := t.TempDir()
	for _, d := range []string{"upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sd := sdtest.Start(t)
	name := fmt.Sprintf("lmn-pid1-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	sd.WriteUnit(t, "pid1.service", nspawnUnit(nspawn, root, dir, name))
	sd.Run(t, "start", "pid1.service") // Type=notify: returns once the container's manager is up
	m := &machine{sd: sd}
	t.Cleanup(func() { m.poweroff(t) })
	nspawnPid, err := strconv.Atoi(strings.TrimSpace(sd.Run(t, "show", "--property=MainPID", "--value", "pid1.service")))
	if err != nil || nspawnPid <= 0 {
		t.Fatalf("no nspawn pid: %v", err)
	}
	if m.leader, err = childNamed(nspawnPid, "systemd"); err != nil {
		t.Fatalf("container PID 1: %v\n%s", err, sd.Log())
	}
	if out, err := m.exec(context.Background(), nil, "systemctl", "is-system-running", "--wait"); err != nil &&
		strings.TrimSpace(out) != "degraded" {
		t.Fatalf("container manager: %v: %s", err, out)
	}
	return m
}

// nspawnUnit is the user unit that runs systemd-nspawn: in a mount
// namespace of its own it mounts the overlay, then nspawn boots it. nspawn
// keeps the unit's (delegated) cgroup and registers with no machined: this
// host's PID 1 is not systemd.
func nspawnUnit(nspawn, root, dir, name string) string {
	script := fmt.Sprintf("set -eu; mount -t overlay overlay -o lowerdir=%s,upperdir=%s/upper,workdir=%s/work %s/merged; exec %s "+
		"--quiet --boot --keep-unit --register=no --notify-ready=yes --private-network --console=pipe "+
		"--resolv-conf=off --timezone=off --link-journal=no --machine=%s --directory=%s/merged",
		root, dir, dir, dir, nspawn, name, dir)
	return "[Service]\nType=notify\nNotifyAccess=all\nDelegate=yes\nKillMode=mixed\nTimeoutStartSec=90s\nTimeoutStopSec=30s\n" +
		"ExecStart=/usr/bin/unshare --mount --propagation private /bin/sh -c '" + script + "'\n"
}

// poweroff shuts the container down cleanly (nspawn passes SIGTERM on as
// a halt request to the container's systemd).
func (m *machine) poweroff(t *testing.T) {
	if out, err := m.sd.Output(context.Background(), "stop", "pid1.service"); err != nil {
		t.Errorf("stopping the container: %v: %s", err, out)
	}
}

// childNamed returns the child of pid whose command name is comm, waiting
// up to 10 seconds for it.
func childNamed(pid int, comm string) (int, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		for _, f := range strings.Fields(string(b)) {
			c, _ := os.ReadFile("/proc/" + f + "/comm")
			if strings.TrimSpace(string(c)) == comm {
				return strconv.Atoi(f)
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no child %q of pid %d (children: %q)", comm, pid, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func hasOverlayfs() bool {
	b, err := os.ReadFile("/proc/filesystems")
	return err == nil && bytes.Contains(b, []byte("\toverlay\n"))
}

// exec runs argv inside the container (all its namespaces, its root) as
// root, with stdin if not nil, and returns stdout and stderr together.
func (m *machine) exec(ctx context.Context, stdin io.Reader, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	args := append([]string{"--target", strconv.Itoa(m.leader), "--all", "--root", "--wd", "--"}, argv...)
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0"}
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// sh runs a shell script inside the container and fails t if it fails.
func (m *machine) sh(t *testing.T, script string) string {
	t.Helper()
	out, err := m.exec(context.Background(), nil, "/bin/sh", "-ec", script)
	if err != nil {
		t.Fatalf("in the container: %s: %v\n%s", script, err, out)
	}
	return out
}

// writeFile writes data to path inside the container with mode.
func (m *machine) writeFile(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	script := fmt.Sprintf("mkdir -p \"$(dirname %[1]s)\" && cat >%[1]s && chmod %[2]o %[1]s", path, mode)
	if out, err := m.exec(context.Background(), bytes.NewReader(data), "/bin/sh", "-ec", script); err != nil {
		t.Fatalf("write %s in the container: %v\n%s", path, err, out)
	}
}

// show returns one property of a unit of the container's manager.
func (m *machine) show(t *testing.T, unit, property string) string {
	t.Helper()
	return strings.TrimSpace(m.sh(t, "systemctl show --property="+property+" --value -- "+unit))
}

// waitFor polls cond every 100 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
