package sysfs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lmn-heal/lmn/internal/proc"
)

// UnitMem is one service's memory use as its cgroup counts it.
type UnitMem struct {
	Unit  string // "nginx.service"
	Scope string // "system", or "user" for a service of a user's manager
	Bytes uint64
}

type cgroupFile struct {
	unit, scope string
	// rel is the unit's cgroup below the layout's root
	// ("system.slice/nginx.service").
	rel  string
	file *proc.File
}

// cgroupMaxDepth bounds how deep slices are walked below system.slice or a
// user manager (app.slice/app-gnome.slice/x.service is depth 2).
const cgroupMaxDepth = 4

// Cgroup layouts: the unified (v2) tree counts memory.current; on a legacy
// or hybrid host the memory controller's v1 tree counts
// memory.usage_in_bytes.
var cgroupLayouts = []struct {
	dir, file string
	v1        bool
}{
	{"fs/cgroup", "memory.current", false},
	{"fs/cgroup/memory", "memory.usage_in_bytes", true},
}

// ScanUnitCgroups (re)lists the services' cgroups and reports how many it
// found. The system's services are the *.service directories under
// system.slice (and its sub-slices, where template instances live); user
// services are those under user.slice/user-UID.slice/user@UID.service, with
// scope "user" (the user manager itself is not listed: it holds them all).
// The unified tree is used when it has services; otherwise the v1 memory
// controller's tree. A host without either has none, which is not an error.
//
// What is counted is the cgroup's own charge, children included: on v2
// memory.current (anonymous memory, page cache, kernel memory such as slab
// and socket buffers), on v1 memory.usage_in_bytes (anonymous memory and
// page cache; kernel memory only where kmem accounting is on; not swap).
// Nothing is subtracted, so a service's reclaimable cache counts too.
func (fs *FS) ScanUnitCgroups() int {
	// Files of services still there are kept open across the scan.
	old := make(map[string]*proc.File, len(fs.cgroups))
	for _, c := range fs.cgroups {
		old[c.file.Path()] = c.file
	}
	fs.cgroups = fs.cgroups[:0]
	fs.layout = cgroupLayout{unified: fs.unifiedRoot()}
	for _, l := range cgroupLayouts {
		root := filepath.Join(fs.root, l.dir)
		fs.cgroups = fs.appendServices(fs.cgroups, root, l.file)
		if len(fs.cgroups) > 0 {
			fs.layout.memory, fs.layout.v1 = root, l.v1
			break
		}
	}
	if fs.layout.memory == "" {
		// No services yet: where would the memory controller be?
		v2 := filepath.Join(fs.root, "fs/cgroup")
		if b, _ := readSmall(filepath.Join(v2, "cgroup.controllers")); bytes.Contains(b, []byte("memory")) {
			fs.layout.memory = v2
		} else if _, err := os.Stat(filepath.Join(v2, "memory/memory.usage_in_bytes")); err == nil {
			// A v1 memory controller: units found through their
			// processes read it (v1ByProcesses).
			fs.layout.memory, fs.layout.v1 = filepath.Join(v2, "memory"), true
		}
	}
	fs.unifiedUnits = nil
	for i := range fs.cgroups {
		c := &fs.cgroups[i]
		if f, ok := old[c.file.Path()]; ok {
			c.file = f
			delete(old, c.file.Path())
		}
	}
	for _, f := range old {
		f.Close()
	}
	return len(fs.cgroups)
}

// appendServices appends the services of the cgroup tree at root that
// have file (memory.current, or "" for any): those under system.slice,
// those of each user manager with scope "user", and those of the managers
// WithManagers named, in their scope.
func (fs *FS) appendServices(dst []cgroupFile, root, file string) []cgroupFile {
	dst = walkServices(dst, root, "system.slice", "system", file, 0)
	managers, _ := filepath.Glob(filepath.Join(root, "user.slice", "user-*.slice", "user@*.service"))
	for _, m := range managers {
		rel, _ := filepath.Rel(root, m)
		dst = walkServices(dst, root, rel, "user", file, 0)
	}
	for _, m := range fs.managers {
		dst = walkServices(dst, root, strings.Trim(filepath.Clean(m.Cgroup), "/"), m.Scope, file, 0)
	}
	return dst
}

// walkServices appends the *.service directories under root/rel,
// descending into *.slice directories only.
func walkServices(dst []cgroupFile, root, rel, scope, file string, depth int) []cgroupFile {
	ents, err := os.ReadDir(filepath.Join(root, rel))
	if err != nil {
		return dst
	}
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() {
			continue
		}
		sub := filepath.Join(rel, name)
		switch {
		case strings.HasSuffix(name, ".service"):
			c := cgroupFile{unit: name, scope: scope, rel: sub}
			if file != "" {
				p := filepath.Join(root, sub, file)
				if _, err := os.Stat(p); err != nil {
					continue // not the memory controller's, or gone
				}
				c.file = proc.NewAttr(p)
			}
			dst = append(dst, c)
		case strings.HasSuffix(name, ".slice") && depth < cgroupMaxDepth:
			dst = walkServices(dst, root, sub, scope, file, depth+1)
		}
	}
	return dst
}

func (fs *FS) closeCgroups() error {
	var first error
	for _, c := range fs.cgroups {
		if err := c.file.Close(); err != nil && first == nil {
			first = err
		}
	}
	fs.cgroups = fs.cgroups[:0]
	return first
}

// UnitMemory appends the current memory of every service ScanUnitCgroups
// found to dst. A service stopped since the scan (its cgroup removed) is
// left out without an error; a value that does not parse is left out and
// the error names the first such file.
func (fs *FS) UnitMemory(dst []UnitMem) ([]UnitMem, error) {
	var bad error
	for _, c := range fs.cgroups {
		b, err := c.file.Read()
		if err != nil {
			// The service restarted (a new cgroup where the kept-open
			// file's was: one reopen reads it) or stopped (the next scan
			// forgets it).
			b, err = c.file.Read()
		}
		if err != nil {
			continue
		}
		v, err := parseBytes(b)
		if err != nil {
			if bad == nil {
				bad = fmt.Errorf("parse %s: %w", c.file.Path(), err)
			}
			continue
		}
		dst = append(dst, UnitMem{Unit: c.unit, Scope: c.scope, Bytes: v})
	}
	return dst, bad
}

// parseBytes parses a cgroup byte count such as "123456\n".
func parseBytes(b []byte) (uint64, error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '-' {
		return 0, fmt.Errorf("not a byte count: %q", clip(b))
	}
	v, err := parseInt(b)
	if err != nil {
		return 0, err
	}
	return uint64(v), nil
}
