package action

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestParseCgroupAndUnit(t *testing.T) {
	cases := []struct{ content, unit string }{
		{"0::/system.slice/nginx.service\n", "nginx.service"},
		{"0::/system.slice/system-getty.slice/getty@tty1.service\n", "getty@tty1.service"},
		{"0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n", "user@1000.service"},
		{"0::/user.slice/user-1000.slice/session-2.scope\n", "session-2.scope"},
		{"0::/init.scope\n", "init.scope"},
		{"0::/system.slice/docker.service/payload\n", "docker.service"},
		{"0::/system.slice/_cpu.service\n", "cpu.service"},
		// Hybrid and legacy hosts: systemd's own hierarchy is name=systemd.
		{"12:memory:/elsewhere\n1:name=systemd:/system.slice/sshd.service\n0::/system.slice/sshd.service\n", "sshd.service"},
		{"4:memory:/process_api/x\n9:name=systemd:/system.slice/redis.service\n0::/\n", "redis.service"},
		{"0::/\n", ""},
		{"0::/system.slice\n", ""},
		{"0::/lmn-sdtest-1/app.slice/x.service\n", ""},
		{"9:name=systemd:/\n0::/system.slice/x.service\n", ""},
	}
	for _, c := range cases {
		p, err := parseCgroup(c.content)
		if err != nil {
			t.Errorf("parseCgroup(%q): %v", c.content, err)
			continue
		}
		unit, err := cgroupUnit(p)
		if c.unit == "" {
			if !errors.Is(err, errNoUnit) {
				t.Errorf("%q: unit %q, %v; want none", c.content, unit, err)
			}
		} else if unit != c.unit || err != nil {
			t.Errorf("%q: unit %q, %v; want %s", c.content, unit, err, c.unit)
		}
	}
	for _, bad := range []string{"", "garbage", "0:/x", "1:cpu:relative", "3:memory:/x\n"} {
		if _, err := parseCgroup(bad); err == nil {
			t.Errorf("parseCgroup(%q) accepted", bad)
		}
	}
}

func FuzzParseCgroup(f *testing.F) {
	f.Add("0::/system.slice/nginx.service\n")
	f.Add("1:name=systemd:/system.slice/a.service\n0::/system.slice/a.service\n")
	f.Add("0::/\n")
	f.Add("0::/a.slice/_b.service/c\n")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseCgroup(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(p, "/") {
			t.Fatalf("path %q does not start with /", p)
		}
		unit, err := cgroupUnit(p)
		if err == nil && (CheckUnitName(unit) != nil || strings.HasSuffix(unit, ".slice")) {
			t.Fatalf("unit %q from %q", unit, p)
		}
	})
}

// hierarchies returns the mount points of the hierarchies systemd tracks
// units in here: name=systemd (legacy and hybrid hosts) and the unified
// one.
func hierarchies(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		t.Skip("no /proc/self/mounts")
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 {
			continue
		}
		if fields[2] == "cgroup2" || fields[2] == "cgroup" && strings.Contains(","+fields[3]+",", ",name=systemd,") {
			out = append(out, fields[1])
		}
	}
	return out
}

// victimIn starts a real process and moves it into the cgroup dir/unit of
// every hierarchy, as systemd places a unit's processes.
func victimIn(t *testing.T, roots []string, slice, unit string) (*exec.Cmd, string) {
	t.Helper()
	for _, root := range roots {
		dir := filepath.Join(root, slice, unit)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { // after the process is killed and reaped (cleanups run last first)
			if err := os.Remove(dir); err != nil {
				t.Errorf("cgroup left behind: %v", err)
			}
		})
	}
	cmd, start := startChild(t, "exec sleep 60")
	for _, root := range roots {
		dir := filepath.Join(root, slice, unit)
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
			t.Fatalf("move pid %d into %s: %v", cmd.Process.Pid, dir, err)
		}
	}
	return cmd, start
}

// Real processes in real cgroups, as systemd lays out units: kill_process
// signals the one in an allowed service and refuses those in a denied
// service, a scope (a login session), and no unit at all. As the issue
// found, before this check every one of them was killed.
func TestKillProcessOnlyInAllowedUnits(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make cgroups")
	}
	roots := hierarchies(t)
	if len(roots) == 0 {
		t.Skip("no name=systemd or cgroup2 hierarchy mounted")
	}
	slice := "lmn-killtest-" + strconv.Itoa(os.Getpid()) + ".slice"
	for _, root := range roots {
		t.Cleanup(func() { // after the units' cgroups
			if err := os.Remove(filepath.Join(root, slice)); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("cgroup left behind: %v", err)
			}
		})
	}
	env := Env{Units: DefaultUnitPolicy()}
	env.Units.Deny = append(env.Units.Deny, "lmn-denied*")
	allowed, allowedStart := victimIn(t, roots, slice, "lmn-allowed.service")
	refused := map[string]*exec.Cmd{}
	starts := map[string]string{}
	for _, name := range []string{"lmn-denied.service", "sshd.service", "dbus.service", "session-7.scope", "user@1000.service"} {
		refused[name], starts[name] = victimIn(t, roots, slice, name)
	}
	refused["no unit"], starts["no unit"] = startChild(t, "exec sleep 60")
	for name, cmd := range refused {
		_, err := Run(context.Background(), env, killReq(cmd, starts[name], "1s"))
		if !errors.Is(err, ErrDenied) {
			t.Errorf("kill_process of a process in %s: %v, want ErrDenied", name, err)
		}
		if !alive(cmd) {
			t.Errorf("the process in %s was signalled", name)
		}
	}
	if _, err := Run(context.Background(), env, killReq(allowed, allowedStart, "5s")); err != nil {
		t.Fatalf("kill_process in an allowed service: %v", err)
	}
	var ee *exec.ExitError
	if err := allowed.Wait(); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Errorf("the allowed service's process ended with %v, want SIGTERM", err)
	}
	t.Logf("hierarchies %v: 1 process of an allowed unit killed, %d others refused and alive", roots, len(refused))
}
