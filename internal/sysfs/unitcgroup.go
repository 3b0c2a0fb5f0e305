package sysfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/lmn-heal/lmn/internal/proc"
)

// UnitID names a unit of a service manager.
type UnitID struct {
	Unit  string // "redis.service"
	Scope string // "system", or "user"
}

// UnitCgroup is where a watched unit's cgroup is, so that other readers of
// the same files (PSI triggers on memory.pressure, inotify on
// memory.events) find them without walking the tree again. Paths are
// absolute under the FS root; a part the host lacks is "".
type UnitCgroup struct {
	UnitID
	// Memory is the unit's cgroup in the memory controller's hierarchy:
	// the unified tree on a cgroup v2 host, the v1 memory hierarchy on a
	// legacy or hybrid one (V1).
	Memory string
	V1     bool
	// Unified is the unit's cgroup in the cgroup2 tree (the whole tree on
	// v2, fs/cgroup/unified on a hybrid host), which holds memory.pressure.
	Unified string
}

// Current, Max, Events and Pressure are the files the FS reads for the
// unit ("" where the host has none): memory.current or
// memory.usage_in_bytes; memory.max or memory.limit_in_bytes;
// memory.events (v2; it changes, for inotify, when oom_kill grows) or
// memory.oom_control (v1, which does not notify); memory.pressure.
func (c UnitCgroup) Current() string  { return c.memoryFile("memory.current", "memory.usage_in_bytes") }
func (c UnitCgroup) Max() string      { return c.memoryFile("memory.max", "memory.limit_in_bytes") }
func (c UnitCgroup) Events() string   { return c.memoryFile("memory.events", "memory.oom_control") }
func (c UnitCgroup) Pressure() string { return join(c.Unified, "memory.pressure") }

func (c UnitCgroup) memoryFile(v2, v1 string) string {
	if c.V1 {
		return join(c.Memory, v1)
	}
	return join(c.Memory, v2)
}

func join(dir, file string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, file)
}

// UnitResources is a watched unit's memory as its own cgroup reports it.
// A value the host cannot give has its Has flag false.
type UnitResources struct {
	UnitID
	CurrentBytes uint64
	HasCurrent   bool
	// MaxBytes is the unit's memory limit (MemoryMax=); HasMax is false
	// when it is unlimited.
	MaxBytes uint64
	HasMax   bool
	// OOMKills counts the processes of the unit the kernel's OOM killer
	// killed since the cgroup was made (the unit's last start).
	OOMKills    uint64
	HasOOMKills bool
	// Pressure is the cgroup's memory.pressure.
	Pressure    proc.Pressure
	HasPressure bool
}

// cgroupLayout is where ScanUnitCgroups found the services' cgroups.
type cgroupLayout struct {
	memory  string // root of the hierarchy with the memory controller; "" for none
	v1      bool
	unified string // root of the cgroup2 tree; "" for none
}

// watchedUnit is a unit Watch was given, with its kept-open files (nil
// where the host lacks the file).
type watchedUnit struct {
	cg                             UnitCgroup
	current, max, events, pressure *proc.File
	// The limit is read once per Watch (the 10 s rescan): it changes only
	// when a person sets it (systemctl set-property), and is a quarter of
	// a sample's reads of the unit.
	maxBytes uint64
	hasMax   bool
	maxErr   error
	maxRead  bool
}

// unifiedRoot is the cgroup2 tree: fs/cgroup/unified on a hybrid host,
// else fs/cgroup when it is a cgroup2 mount (it has cgroup.controllers).
func (fs *FS) unifiedRoot() string {
	hybrid := filepath.Join(fs.root, "fs/cgroup/unified")
	if _, err := os.Stat(filepath.Join(hybrid, "cgroup.controllers")); err == nil {
		return hybrid
	}
	v2 := filepath.Join(fs.root, "fs/cgroup")
	if _, err := os.Stat(filepath.Join(v2, "cgroup.controllers")); err == nil {
		return v2
	}
	return ""
}

// CgroupCaveat says what per-unit figures this host cannot give, as found
// by the last ScanUnitCgroups, or "" when it gives them all (cgroup v2
// with the memory controller).
func (fs *FS) CgroupCaveat() string {
	l := fs.layout
	switch {
	case !l.v1 && l.memory == "" && l.unified == "":
		return "no cgroup tree with services: no per-unit memory, limits, OOM kills or pressure"
	case !l.v1 && l.memory == "":
		return "no memory controller in the cgroup tree: per-unit memory.pressure only, no memory use, limits or OOM kills"
	case l.v1 && l.unified == "":
		return "cgroup v1 (legacy) memory controller: per-unit memory is memory.usage_in_bytes (kernel memory only with kmem accounting), " +
			"limits from memory.limit_in_bytes, OOM kills from memory.oom_control; no per-unit memory pressure (no cgroup2 tree)"
	case l.v1:
		return "hybrid cgroup layout: per-unit memory is the v1 memory controller's memory.usage_in_bytes (kernel memory only with kmem accounting), " +
			"limits from memory.limit_in_bytes, OOM kills from memory.oom_control; memory.pressure from the unified tree; " +
			"a unit without a v1 memory cgroup of its own is found through its processes' when they are alone in it, " +
			"else it reports pressure only"
	}
	return ""
}

// Watch sets the units whose own cgroup UnitResources reads: call it after
// ScanUnitCgroups, which found where they are. Files of units still
// watched are kept open; a unit without a cgroup (stopped, or not a
// service ScanUnitCgroups lists) is left out until a later Watch finds
// it.
func (fs *FS) Watch(units []UnitID) {
	old := make(map[UnitID]watchedUnit, len(fs.watched))
	for _, w := range fs.watched {
		old[w.cg.UnitID] = w
	}
	fs.watched = fs.watched[:0]
	for _, id := range units {
		cg, ok := fs.locate(id)
		if !ok {
			continue
		}
		if w, ok := old[id]; ok && w.cg == cg {
			delete(old, id)
			w.maxRead = false
			fs.watched = append(fs.watched, w)
			continue
		}
		fs.watched = append(fs.watched, watchedUnit{cg: cg, current: attr(cg.Current()), max: attr(cg.Max()),
			events: attr(cg.Events()), pressure: attr(cg.Pressure())})
	}
	for _, w := range old {
		w.close()
	}
}

// locate finds the cgroup of id in the last scan: in the memory
// controller's hierarchy, else (a hybrid host's unit without a v1 memory
// cgroup) in the unified tree only.
func (fs *FS) locate(id UnitID) (UnitCgroup, bool) {
	l := fs.layout
	cg := UnitCgroup{UnitID: id, V1: l.v1}
	rel, ok := findUnit(fs.cgroups, id)
	if ok {
		cg.Memory = filepath.Join(l.memory, rel)
	} else if l.unified != "" && l.unified != l.memory {
		if fs.unifiedUnits == nil {
			fs.unifiedUnits = fs.appendServices(make([]cgroupFile, 0, 16), l.unified, "")
		}
		rel, ok = findUnit(fs.unifiedUnits, id)
	}
	if !ok {
		return UnitCgroup{}, false
	}
	if l.unified != "" {
		if _, err := os.Stat(filepath.Join(l.unified, rel)); err == nil {
			cg.Unified = filepath.Join(l.unified, rel)
		}
	}
	if cg.Memory == "" && cg.Unified != "" {
		cg.Memory = fs.v1ByProcesses(cg.Unified)
	}
	return cg, true
}

func findUnit(cgs []cgroupFile, id UnitID) (string, bool) {
	for _, c := range cgs {
		if c.unit == id.Unit && c.scope == id.Scope {
			return c.rel, true
		}
	}
	return "", false
}

// WatchedCgroups appends where each watched unit's cgroup is to dst.
func (fs *FS) WatchedCgroups(dst []UnitCgroup) []UnitCgroup {
	for _, w := range fs.watched {
		dst = append(dst, w.cg)
	}
	return dst
}

func attr(path string) *proc.File {
	if path == "" {
		return nil
	}
	return proc.NewAttr(path)
}

func (w watchedUnit) files() []*proc.File {
	var out []*proc.File
	for _, f := range []*proc.File{w.current, w.max, w.events, w.pressure} {
		if f != nil {
			out = append(out, f)
		}
	}
	return out
}

func (w watchedUnit) close() error {
	var errs []error
	for _, f := range w.files() {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// UnitResources appends the resources of every watched unit to dst, in
// the order Watch was given them; the limit is as read at the last
// Watch. A unit whose cgroup is gone (stopped
// since the scan) is left out without an error; a file that does not
// parse leaves its value out, and the error names the first such file.
func (fs *FS) UnitResources(dst []UnitResources) ([]UnitResources, error) {
	var bad error
	note := func(f *proc.File, err error) {
		if err != nil && bad == nil {
			bad = fmt.Errorf("parse %s: %w", f.Path(), err)
		}
	}
	for i := range fs.watched {
		w := &fs.watched[i]
		r := UnitResources{UnitID: w.cg.UnitID}
		var alive bool
		if b, ok, reopened := readAgain(w.current); ok {
			alive = true
			if reopened {
				w.maxRead = false // a new cgroup: its limit may differ
			}
			var err error
			r.CurrentBytes, err = parseBytes(b)
			r.HasCurrent = err == nil
			note(w.current, err)
		}
		if b, ok, _ := readAgain(w.pressure); ok {
			alive = true
			var err error
			r.Pressure, err = proc.ParsePressure(b)
			r.HasPressure = err == nil
			note(w.pressure, err)
		}
		if !alive {
			w.maxRead = false // stopped: a new start may have a new limit
			continue
		}
		if !w.maxRead {
			w.maxRead = true
			w.maxBytes, w.hasMax, w.maxErr = 0, false, nil
			if b, ok, _ := readAgain(w.max); ok {
				w.maxBytes, w.hasMax, w.maxErr = parseLimit(b)
			}
		}
		r.MaxBytes, r.HasMax = w.maxBytes, w.hasMax
		note(w.max, w.maxErr)
		if b, ok, _ := readAgain(w.events); ok {
			var err error
			r.OOMKills, r.HasOOMKills, err = parseKeyed(b, "oom_kill")
			note(w.events, err)
		}
		dst = append(dst, r)
	}
	return dst, bad
}

// readAgain reads f, once more after an error: a restarted unit has a new
// cgroup where the kept-open file's was, and one reopen reads it
// (reopened). It reports false for a nil f or a file that cannot be read
// (the unit stopped, or PSI is off: EOPNOTSUPP).
func readAgain(f *proc.File) (b []byte, ok, reopened bool) {
	if f == nil {
		return nil, false, false
	}
	b, err := f.Read()
	if err == nil {
		return b, true, false
	}
	b, err = f.Read()
	return b, err == nil, err == nil
}

// unlimitedV1 is the smallest memory.limit_in_bytes read as no limit: v1
// writes "unlimited" as the largest page-aligned int64 (9223372036854771712
// with 4 KiB pages), which no machine has.
const unlimitedV1 = 1 << 62

// parseLimit parses memory.max ("max" or bytes) or memory.limit_in_bytes
// and reports whether a limit is set.
func parseLimit(b []byte) (uint64, bool, error) {
	b = bytes.TrimSpace(b)
	if string(b) == "max" {
		return 0, false, nil
	}
	if len(b) == 0 || b[0] < '0' || b[0] > '9' {
		return 0, false, fmt.Errorf("not a limit: %q", clip(b))
	}
	v, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("not a limit: %q", clip(b))
	}
	if v >= unlimitedV1 {
		return 0, false, nil
	}
	return v, true, nil
}

// parseKeyed finds "key value" among the lines of a flat keyed file
// (memory.events, memory.oom_control). A file without the key (a kernel
// before 4.13 has no oom_kill in memory.oom_control) reports false.
func parseKeyed(b []byte, key string) (uint64, bool, error) {
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte("\n"))
		k, v, ok := bytes.Cut(line, []byte(" "))
		if !ok || string(k) != key {
			continue
		}
		v = bytes.TrimSpace(v)
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("%s: not a count: %q", key, clip(v))
		}
		return n, true, nil
	}
	return 0, false, nil
}
