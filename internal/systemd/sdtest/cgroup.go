package sdtest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupRoot is where cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// errCgroupSetup is wrapped by errors creating the sandbox's cgroups, as in a
// container whose cgroup tree is read-only: a reason to skip, not to fail.
var errCgroupSetup = errors.New("cannot create cgroups")

// hierarchies returns the cgroup hierarchies the manager must be moved into:
// the cgroup2 mount (the whole tree in unified mode, /sys/fs/cgroup/unified in
// hybrid mode) and, in hybrid and legacy mode, the name=systemd v1 hierarchy
// that systemd uses to track its processes there.
func hierarchies() ([]string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil {
		return nil, fmt.Errorf("cgroup: statfs %s: %w", cgroupRoot, err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return []string{cgroupRoot}, nil // unified mode
	}
	unified := filepath.Join(cgroupRoot, "unified")
	if err := unix.Statfs(unified, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return nil, fmt.Errorf("cgroup: no cgroup2 hierarchy at %s or %s", cgroupRoot, unified)
	}
	named := filepath.Join(cgroupRoot, "systemd")
	if err := unix.Statfs(named, &st); err != nil || st.Type != unix.CGROUP_SUPER_MAGIC {
		return nil, fmt.Errorf("cgroup: hybrid layout without a name=systemd hierarchy at %s", named)
	}
	return []string{unified, named}, nil
}

// makeCgroups creates one fresh, empty cgroup named leaf in each hierarchy.
// On failure it removes what it created.
func makeCgroups(leaf string) ([]string, error) {
	hs, err := hierarchies()
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, h := range hs {
		d := filepath.Join(h, leaf)
		if err := os.Mkdir(d, 0o755); err != nil {
			removeCgroups(dirs)
			return nil, fmt.Errorf("cgroup: %w: %w", errCgroupSetup, err)
		}
		dirs = append(dirs, d)
	}
	return dirs, nil
}

// cgroupPids lists the processes in dir and every cgroup below it.
func cgroupPids(dir string) ([]int, error) {
	var pids []int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(path, "cgroup.procs"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cgroup: list processes under %s: %w", dir, err)
	}
	return pids, nil
}

// killCgroups sends SIGKILL to every process left in dirs until they are
// empty or the deadline passes. It never signals PID 1 or this process,
// which cannot be in these cgroups unless something else moved them there.
func killCgroups(dirs []string, deadline time.Time) error {
	for {
		var left []int
		for _, d := range dirs {
			if kill := filepath.Join(d, "cgroup.kill"); exists(kill) {
				os.WriteFile(kill, []byte("1"), 0) // cgroup2 since Linux 5.14: kills the whole subtree
			}
			pids, err := cgroupPids(d)
			if err != nil {
				return err
			}
			left = append(left, pids...)
		}
		slices.Sort(left)
		left = slices.Compact(left)
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup: processes %v still in %v after SIGKILL", left, dirs)
		}
		for _, pid := range left {
			if pid == 1 || pid == os.Getpid() {
				return fmt.Errorf("cgroup: refusing to kill pid %d found in %v", pid, dirs)
			}
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// removeCgroups removes dirs and every cgroup systemd created below them,
// deepest first. Cgroups of exited processes can stay busy for a moment.
func removeCgroups(dirs []string) error {
	var errs []error
	for _, top := range dirs {
		var sub []string
		filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				sub = append(sub, path)
			}
			return nil
		})
		slices.Reverse(sub) // WalkDir visits parents first
		for _, d := range sub {
			if err := rmdirRetry(d); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func rmdirRetry(dir string) error {
	var err error
	for range 100 {
		err = unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("cgroup: remove %s: %w", dir, err)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
