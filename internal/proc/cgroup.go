package proc

import (
	"errors"
	"fmt"
	"strings"
)

// ProcessCgroup is one line of /proc/PID/cgroup: a hierarchy, the
// controllers bound to it ("memory", "name=systemd"; none for the unified
// cgroup2 hierarchy, ID 0) and the process's cgroup in it.
type ProcessCgroup struct {
	ID          string
	Controllers []string
	Path        string // "/system.slice/nginx.service"
}

// ParseProcessCgroups parses the content of /proc/PID/cgroup:
// "ID:CONTROLLERS:PATH" lines, each path absolute. A file without a line
// is an error.
func ParseProcessCgroups(s string) ([]ProcessCgroup, error) {
	var out []ProcessCgroup
	for line := range strings.Lines(s) {
		line = strings.TrimSuffix(line, "\n")
		id, rest, ok := strings.Cut(line, ":")
		if !ok || id == "" {
			return nil, fmt.Errorf("cgroup: line %q: want ID:CONTROLLERS:PATH", clipString(line))
		}
		controllers, p, ok := strings.Cut(rest, ":")
		if !ok || !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("cgroup: line %q: want ID:CONTROLLERS:/PATH", clipString(line))
		}
		cg := ProcessCgroup{ID: id, Path: p}
		if controllers != "" {
			cg.Controllers = strings.Split(controllers, ",")
		}
		out = append(out, cg)
	}
	if len(out) == 0 {
		return nil, errors.New("cgroup: no lines")
	}
	return out, nil
}

// CgroupOf returns the process's cgroup in the hierarchy bound to
// controller ("memory", "name=systemd"), or in the unified hierarchy (the
// "0::" line) for controller "". ok is false when there is no such
// hierarchy.
func CgroupOf(cgs []ProcessCgroup, controller string) (path string, ok bool) {
	for _, cg := range cgs {
		if controller == "" && cg.ID == "0" && len(cg.Controllers) == 0 {
			return cg.Path, true
		}
		for _, c := range cg.Controllers {
			if controller != "" && c == controller {
				return cg.Path, true
			}
		}
	}
	return "", false
}

func clipString(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}
