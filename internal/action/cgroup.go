package action

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lmn-heal/lmn/internal/proc"
)

// kill_process signals only processes inside the cgroup of a unit the
// unit policy allows: the unit is read from /proc/PID/cgroup, as systemd
// itself reads it (cg_pid_get_unit), after the pidfd pins the process.

var errNoUnit = errors.New("not in a unit's cgroup")

// parseCgroup returns the path of the hierarchy systemd keeps its units
// in, from the content of /proc/PID/cgroup ("ID:CONTROLLERS:PATH" lines):
// the name=systemd hierarchy's on a legacy or hybrid host (where systemd
// tracks processes there and mirrors the tree into the unified one), else
// the unified hierarchy's (the "0::" line).
func parseCgroup(s string) (string, error) {
	cgs, err := proc.ParseProcessCgroups(s)
	if err != nil {
		return "", err
	}
	if p, ok := proc.CgroupOf(cgs, "name=systemd"); ok {
		return p, nil
	}
	if p, ok := proc.CgroupOf(cgs, ""); ok {
		return p, nil
	}
	return "", errors.New("cgroup: neither a name=systemd nor a unified hierarchy line")
}

// cgroupUnit returns the system unit a cgroup path belongs to: its first
// component that is not a slice, which must be a unit name. A process in
// a user's service (user.slice/user-1000.slice/user@1000.service/…) is
// in user@1000.service, the user's manager.
func cgroupUnit(path string) (string, error) {
	trimmed := strings.Trim(path, "/")
	if trimmed == "" {
		return "", fmt.Errorf("%w: cgroup / is the root", errNoUnit)
	}
	for c := range strings.SplitSeq(trimmed, "/") {
		// systemd prefixes a name with '_' where it would clash with a
		// kernel file name (cg_escape).
		c = strings.TrimPrefix(c, "_")
		if strings.HasSuffix(c, ".slice") {
			continue
		}
		if CheckUnitName(c) != nil {
			return "", fmt.Errorf("%w: cgroup %s: %q is not a unit name", errNoUnit, clip(path), clip(c))
		}
		return c, nil
	}
	return "", fmt.Errorf("%w: cgroup %s is a slice", errNoUnit, clip(path))
}

// processUnit is the unit pid belongs to, read under env.ProcRoot.
func processUnit(env Env, pid int) (string, error) {
	raw, err := readSmall(filepath.Join(env.ProcRoot, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return "", err
	}
	p, err := parseCgroup(raw)
	if err != nil {
		return "", err
	}
	return cgroupUnit(p)
}

// checkKillUnit refuses pid unless its unit is one the unit policy allows.
func checkKillUnit(env Env, pid int) error {
	unit, err := processUnit(env, pid)
	if err != nil {
		return fmt.Errorf("%w: pid %d: %w: kill_process signals only processes of an allowed unit", ErrDenied, pid, err)
	}
	if err := env.Units.Check(unit); err != nil {
		return fmt.Errorf("pid %d is in %s: %w", pid, unit, err)
	}
	return nil
}
