package sysfs

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lmn-heal/lmn/internal/proc"
)

// Manager is a service manager whose units' cgroups lie outside the
// usual places (system.slice, user.slice/user-UID.slice/user@UID.service):
// a sandboxed or nested manager. Cgroup is its cgroup as /proc/PID/cgroup
// names it ("/lmn-sdtest-1-2"), the same in every hierarchy; its services
// below it have scope Scope.
type Manager struct {
	Scope  string
	Cgroup string
}

// WithManagers adds managers whose services ScanUnitCgroups lists, besides
// the system's and its users'. It returns fs.
func (fs *FS) WithManagers(ms []Manager) *FS {
	fs.managers = append([]Manager(nil), ms...)
	return fs
}

// WithProc names the procfs (a root such as "/proc") through which a
// unit's processes lead to its v1 memory cgroup when its own path in that
// hierarchy has none. It returns fs.
func (fs *FS) WithProc(root string) *FS {
	fs.procRoot = root
	return fs
}

// procsMaxDepth bounds how deep a unit's cgroup is walked for its
// processes (a service with Delegate= has cgroups of its own below).
const procsMaxDepth = 3

// maxProcs bounds how many of a unit's processes are looked at.
const maxProcs = 256

// v1ByProcesses finds a unit's memory cgroup in the v1 hierarchy through
// its processes, for a unit whose own path there has none: a hybrid
// host's user services, whose manager's cgroup is the v1 one at most, or
// a service whose start joined a memory cgroup made for it. unified is
// the unit's cgroup in the unified tree. The answer is the memory cgroup
// every process of the unit is in (from /proc/PID/cgroup), when that is
// not the hierarchy's root and holds no process outside the unit, so that
// a cgroup shared with others (the user manager's, a login session's) is
// never reported as the unit's. It is "" otherwise, and without a procfs.
func (fs *FS) v1ByProcesses(unified string) string {
	if fs.procRoot == "" || fs.layout.memory == "" || !fs.layout.v1 {
		return ""
	}
	pids := appendProcs(nil, unified, 0)
	if len(pids) == 0 {
		return ""
	}
	mine := make(map[string]bool, len(pids))
	var path string
	for _, pid := range pids {
		mine[pid] = true
		b, err := os.ReadFile(filepath.Join(fs.procRoot, pid, "cgroup"))
		if err != nil {
			continue // exited since the listing
		}
		cgs, err := proc.ParseProcessCgroups(string(b))
		if err != nil {
			return ""
		}
		p, ok := proc.CgroupOf(cgs, "memory")
		if !ok || path != "" && p != path {
			return ""
		}
		path = p
	}
	if path == "" || path == "/" || strings.Contains(path, "..") {
		return ""
	}
	dir := filepath.Join(fs.layout.memory, path)
	members := appendProcs(nil, dir, procsMaxDepth)
	for _, pid := range members {
		if !mine[pid] {
			return ""
		}
	}
	if len(members) == 0 {
		return ""
	}
	return dir
}

// appendProcs appends the pids in dir's cgroup.procs and, down to
// procsMaxDepth, its sub-cgroups', at most maxProcs.
func appendProcs(dst []string, dir string, depth int) []string {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return dst
	}
	for _, f := range bytes.Fields(b) {
		if len(dst) >= maxProcs {
			return dst
		}
		if _, err := strconv.ParseUint(string(f), 10, 31); err == nil {
			dst = append(dst, string(f))
		}
	}
	if depth >= procsMaxDepth {
		return dst
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return dst
	}
	for _, e := range ents {
		if e.IsDir() {
			dst = appendProcs(dst, filepath.Join(dir, e.Name()), depth+1)
		}
	}
	return dst
}
