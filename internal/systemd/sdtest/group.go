package sdtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Group is a cgroup a test creates and owns, for loads it starts there
// itself (memory or CPU pressure, an OOM kill) without a service manager:
// a fresh cgroup in the cgroup2 tree and, where memory is a v1 controller
// (hybrid hosts such as this one), one of the same name in the v1 memory
// hierarchy. The test's cleanup kills what is left in it and removes it;
// StartManager's sweep removes the groups of test binaries that died.
type Group struct {
	// Name is the group's path below each hierarchy's root.
	Name string
	// Unified is the cgroup2 directory, which holds the pressure files.
	Unified string
	// Memory is where the memory controller counts the group: a v1
	// directory on a hybrid host, Unified on a unified one with the
	// memory controller enabled, "" where there is none.
	Memory string
	// MemoryV1 says Memory is a v1 directory.
	MemoryV1 bool
}

// memoryV1 is the v1 memory controller's hierarchy of hybrid hosts.
const memoryV1 = cgroupRoot + "/memory"

// NewGroup creates a Group; with memLimit > 0 it limits the group's memory
// to that many bytes (v1 memory.limit_in_bytes, or memory.max). It skips
// the test where it cannot: not root, no cgroup2 tree, a read-only tree, or
// a limit asked for where there is no memory controller.
func NewGroup(t testing.TB, memLimit int64) *Group {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a cgroup")
	}
	g, err := makeGroup(memLimit)
	if err != nil {
		t.Skipf("cannot create a cgroup for the test: %v", err)
	}
	t.Cleanup(func() {
		if err := g.remove(); err != nil {
			t.Error(err)
		}
	})
	return g
}

func makeGroup(memLimit int64) (*Group, error) {
	hs, err := hierarchies()
	if err != nil {
		return nil, err
	}
	g := &Group{Name: fmt.Sprintf("%s%d-%d", leafPrefix, os.Getpid(), time.Now().UnixNano())}
	g.Unified = filepath.Join(hs[0], g.Name)
	if err := os.Mkdir(g.Unified, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup: %w: %w", errCgroupSetup, err)
	}
	switch {
	case exists(filepath.Join(g.Unified, "memory.max")):
		g.Memory = g.Unified
	case exists(filepath.Join(memoryV1, "memory.limit_in_bytes")):
		g.Memory, g.MemoryV1 = filepath.Join(memoryV1, g.Name), true
		if err := os.Mkdir(g.Memory, 0o755); err != nil {
			return nil, errors.Join(fmt.Errorf("cgroup: %w: %w", errCgroupSetup, err), g.remove())
		}
	}
	if memLimit > 0 {
		if err := g.limit(memLimit); err != nil {
			return nil, errors.Join(err, g.remove())
		}
	}
	return g, nil
}

func (g *Group) limit(bytes int64) error {
	file := "memory.max"
	if g.MemoryV1 {
		file = "memory.limit_in_bytes"
	}
	if g.Memory == "" {
		return errors.New("cgroup: no memory controller to limit the group's memory")
	}
	p := filepath.Join(g.Memory, file)
	if err := os.WriteFile(p, []byte(strconv.FormatInt(bytes, 10)), 0); err != nil {
		return fmt.Errorf("cgroup: limit memory: %w", err)
	}
	return nil
}

// Start starts cmd in the group: straight into the cgroup2 directory
// (clone3 with CLONE_INTO_CGROUP) and, where memory is a v1 controller,
// through a shell that moves itself into the v1 memory group before it
// execs cmd's program. The process gets SIGKILL if the test binary dies.
func (g *Group) Start(cmd *exec.Cmd) error {
	if g.MemoryV1 {
		procs := filepath.Join(g.Memory, "cgroup.procs")
		cmd.Args = append([]string{"/bin/sh", "-c", `echo $$ > "$0" && exec "$@"`, procs, cmd.Path}, cmd.Args[1:]...)
		cmd.Path = "/bin/sh"
	}
	fd, err := unix.Open(g.Unified, unix.O_DIRECTORY|unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cgroup: open %s: %w", g.Unified, err)
	}
	defer unix.Close(fd)
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cgroup: start %s in %s: %w", cmd.Path, g.Name, err)
	}
	return nil
}

// Sub creates a group below g at path ("system.slice/app.service"), in
// every hierarchy g is in, and with memLimit > 0 limits its memory. g's
// cleanup removes it.
func (g *Group) Sub(path string, memLimit int64) (*Group, error) {
	sub := &Group{Name: filepath.Join(g.Name, path), Unified: filepath.Join(g.Unified, path), MemoryV1: g.MemoryV1}
	if g.Memory != "" {
		sub.Memory = filepath.Join(g.Memory, path)
	}
	for _, d := range []string{sub.Unified, sub.Memory} {
		if d == "" {
			continue
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("cgroup: %w", err)
		}
	}
	if memLimit > 0 {
		if err := sub.limit(memLimit); err != nil {
			return nil, err
		}
	}
	return sub, nil
}

// Procs lists the processes in the group.
func (g *Group) Procs() ([]int, error) { return cgroupPids(g.Unified) }

// remove kills what is left in the group and removes its directories.
func (g *Group) remove() error {
	var dirs []string
	for _, d := range []string{g.Unified, g.Memory} {
		if d != "" && (len(dirs) == 0 || d != dirs[0]) && exists(d) {
			dirs = append(dirs, d)
		}
	}
	if err := killCgroups(dirs, time.Now().Add(stopTimeout)); err != nil {
		return err
	}
	return removeCgroups(dirs)
}

// String names the group for test logs.
func (g *Group) String() string {
	return strings.Join([]string{g.Unified, g.Memory}, " ")
}
