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
	unit, scope, cgroup string
	file                *proc.File
}

// cgroupMaxDepth bounds how deep slices are walked below system.slice or a
// user manager (app.slice/app-gnome.slice/x.service is depth 2).
const cgroupMaxDepth = 4

// Cgroup layouts: the unified (v2) tree counts memory.current; on a legacy
// or hybrid host the memory controller's v1 tree counts
// memory.usage_in_bytes.
var cgroupLayouts = []struct{ dir, file string }{
	{"fs/cgroup", "memory.current"},
	{"fs/cgroup/memory", "memory.usage_in_bytes"},
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
	for _, l := range cgroupLayouts {
		root := filepath.Join(fs.root, l.dir)
		fs.walkServices(root, "system.slice", "system", l.file, 0)
		managers, _ := filepath.Glob(filepath.Join(root, "user.slice", "user-*.slice", "user@*.service"))
		for _, m := range managers {
			rel, _ := filepath.Rel(root, m)
			fs.walkServices(root, rel, "user", l.file, 0)
		}
		if len(fs.cgroups) > 0 {
			break
		}
	}
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

// walkServices adds the *.service directories under root/rel, descending
// into *.slice directories only.
func (fs *FS) walkServices(root, rel, scope, file string, depth int) {
	dir := filepath.Join(root, rel)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() {
			continue
		}
		switch {
		case strings.HasSuffix(name, ".service"):
			p := filepath.Join(dir, name, file)
			if _, err := os.Stat(p); err != nil {
				continue // not the memory controller's, or gone
			}
			fs.cgroups = append(fs.cgroups, cgroupFile{unit: name, scope: scope, cgroup: filepath.Join(rel, name),
				file: proc.NewAttr(p)})
		case strings.HasSuffix(name, ".slice") && depth < cgroupMaxDepth:
			fs.walkServices(root, filepath.Join(rel, name), scope, file, depth+1)
		}
	}
}

// UnitCgroup returns the cgroup of a service ScanUnitCgroups found, below
// the hierarchy's root ("system.slice/nginx.service", the same path in
// every hierarchy), or "" for a service it did not find.
func (fs *FS) UnitCgroup(unit, scope string) string {
	for _, c := range fs.cgroups {
		if c.unit == unit && c.scope == scope {
			return c.cgroup
		}
	}
	return ""
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
