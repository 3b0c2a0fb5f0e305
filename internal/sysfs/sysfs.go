// Package sysfs reads the kernel's device tree (/sys) under a root directory
// passed in, so fixture trees can stand in for the real /sys: network link
// state, which block devices are whole disks, temperature sensors, and the
// memory of services from their cgroups (each service's use, and the use,
// limit, OOM kills and memory pressure of the units watched closely).
//
// Attribute files are kept open and re-read with pread(2) (see proc.File);
// directories are listed only when Scan is called, not every tick.
package sysfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lmn-heal/lmn/internal/proc"
)

// FS reads files under a /sys root. It is not safe for concurrent use.
type FS struct {
	root  string
	links map[string]*linkFiles
	block map[string]bool
	temps []tempFiles
	// cgroups are the services' memory counters (ScanUnitCgroups), found
	// in layout; unifiedUnits are the services of a hybrid host's unified
	// tree, listed when a watched unit is not among cgroups.
	cgroups      []cgroupFile
	layout       cgroupLayout
	unifiedUnits []cgroupFile
	// watched are the units whose own cgroup files are read (Watch).
	watched []watchedUnit
	// managers are further service managers (WithManagers); procRoot
	// leads from a unit's processes to its v1 memory cgroup (WithProc).
	managers []Manager
	procRoot string
}

// NewFS returns an FS rooted at root ("/sys" on a live system).
func NewFS(root string) *FS {
	return &FS{root: root, links: map[string]*linkFiles{}, block: map[string]bool{}}
}

// Root is the directory the FS reads.
func (fs *FS) Root() string { return fs.root }

// Close closes every kept-open file.
func (fs *FS) Close() error {
	var errs []error
	for name, l := range fs.links {
		errs = append(errs, l.flags.Close(), l.operstate.Close())
		delete(fs.links, name)
	}
	for _, t := range fs.temps {
		errs = append(errs, t.input.Close())
	}
	fs.temps = nil
	errs = append(errs, fs.closeCgroups())
	for _, w := range fs.watched {
		errs = append(errs, w.close())
	}
	fs.watched = nil
	return errors.Join(errs...)
}

// Files lists the attribute files the FS keeps open, for benchmarks.
func (fs *FS) Files() []*proc.File {
	var out []*proc.File
	for _, l := range fs.links {
		out = append(out, l.flags, l.operstate)
	}
	for _, t := range fs.temps {
		out = append(out, t.input)
	}
	for _, c := range fs.cgroups {
		out = append(out, c.file)
	}
	for _, w := range fs.watched {
		out = append(out, w.files()...)
	}
	return out
}

// IsWholeDisk reports whether the block device name (as in /proc/diskstats)
// is a whole disk rather than a partition: whole disks, and virtual devices
// such as dm-0 and md0, are the entries of <root>/block. Answers are cached.
// Without a <root>/block directory every device counts as whole.
func (fs *FS) IsWholeDisk(name string) bool {
	if v, ok := fs.block[name]; ok {
		return v
	}
	_, err := os.Lstat(filepath.Join(fs.root, "block", name))
	whole := err == nil
	if !whole {
		if _, err := os.Stat(filepath.Join(fs.root, "block")); err != nil {
			whole = true
		}
	}
	if len(fs.block) > 4096 {
		clear(fs.block)
	}
	fs.block[name] = whole
	return whole
}

// parseInt parses a sysfs integer attribute such as "45000\n" or "-5".
func parseInt(b []byte) (int64, error) {
	b = bytes.TrimSpace(b)
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, fmt.Errorf("not an integer: %q", clip(b))
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not an integer: %q", clip(b))
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, nil
}

func clip(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}

// readSmall reads a small attribute once, for values read at scan time.
func readSmall(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return bytes.TrimSpace(b), nil
}
