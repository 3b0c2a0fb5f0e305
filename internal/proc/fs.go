package proc

import (
	"errors"
	"fmt"
	"path/filepath"
)

// FS reads /proc files under a root directory ("/proc" on a live system).
// Each file is kept open between reads. An FS is not safe for concurrent use.
type FS struct {
	root                         string
	stat, meminfo, vmstat, load  *File
	pressure                     [3]*File
	mountinfo, diskstats, netdev *File
	route, route6                *File
	names                        interner
}

// PressureResources are the /proc/pressure files, in the order FS.Pressure
// takes them.
var PressureResources = [3]string{"cpu", "memory", "io"}

// NewFS returns an FS rooted at root.
func NewFS(root string) *FS {
	p := func(elem ...string) *File { return NewFile(filepath.Join(append([]string{root}, elem...)...)) }
	// Files the kernel writes with single_open() come whole in one read
	// when the buffer is large enough, so a short read is the end and the
	// second pread that would return 0 is saved. Files of many records
	// (diskstats, net/dev) come a page at a time and are read to the end.
	whole := func(elem ...string) *File { f := p(elem...); f.whole = true; return f }
	fs := &FS{
		root:      root,
		stat:      whole("stat"),
		meminfo:   whole("meminfo"),
		vmstat:    p("vmstat"),
		load:      whole("loadavg"),
		mountinfo: NewPolledFile(filepath.Join(root, "self", "mountinfo")),
		diskstats: p("diskstats"),
		netdev:    p("net", "dev"),
		route:     p("net", "route"),
		route6:    p("net", "ipv6_route"),
	}
	for i, r := range PressureResources {
		fs.pressure[i] = whole("pressure", r)
	}
	return fs
}

// Root is the directory the FS reads.
func (fs *FS) Root() string { return fs.root }

// Files lists every file the FS reads, for benchmarks that measure the cost
// of reading them alone.
func (fs *FS) Files() []*File { return fs.all() }

func (fs *FS) all() []*File {
	return []*File{fs.stat, fs.meminfo, fs.vmstat, fs.load, fs.pressure[0], fs.pressure[1],
		fs.pressure[2], fs.mountinfo, fs.diskstats, fs.netdev, fs.route, fs.route6}
}

// Close closes every kept-open file.
func (fs *FS) Close() error {
	var errs []error
	for _, f := range fs.all() {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// read reads f and parses it with parse, naming the file in any error.
func read[T any](f *File, parse func([]byte) (T, error)) (T, error) {
	b, err := f.Read()
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := parse(b)
	if err != nil {
		return v, fmt.Errorf("parse %s: %w", f.path, err)
	}
	return v, nil
}

// Stat reads <root>/stat.
func (fs *FS) Stat() (Stat, error) { return read(fs.stat, parseStat) }

// Meminfo reads <root>/meminfo.
func (fs *FS) Meminfo() (Meminfo, error) { return read(fs.meminfo, parseMeminfo) }

// VMStat reads <root>/vmstat.
func (fs *FS) VMStat() (VMStat, error) { return read(fs.vmstat, parseVMStat) }

// Loadavg reads <root>/loadavg.
func (fs *FS) Loadavg() (Loadavg, error) { return read(fs.load, parseLoadavg) }

// Pressure reads <root>/pressure/<PressureResources[i]>.
func (fs *FS) Pressure(i int) (Pressure, error) { return read(fs.pressure[i], parsePressure) }

// DefaultRoute reports whether <root>/net/route or <root>/net/ipv6_route
// has a usable default route. It fails only if both files fail.
func (fs *FS) DefaultRoute() (bool, error) {
	v4, err4 := read(fs.route, parseRoute)
	if err4 == nil && v4 {
		return true, nil
	}
	v6, err6 := read(fs.route6, parseIPv6Route)
	if err4 != nil && err6 != nil {
		return false, errors.Join(err4, err6)
	}
	return v6, nil
}

// MountsUnchanged reports whether the mount table is known not to have
// changed since the last Mounts (the kernel tells through poll(2) on a real
// /proc), so the caller can keep its last result.
func (fs *FS) MountsUnchanged() bool { return fs.mountinfo.Unchanged() }

// Mounts appends the mounts of <root>/self/mountinfo to dst.
func (fs *FS) Mounts(dst []Mount) ([]Mount, error) {
	b, err := fs.mountinfo.Read()
	if err != nil {
		return dst, err
	}
	dst, err = parseMountinfo(b, dst, &fs.names)
	if err != nil {
		return dst, fmt.Errorf("parse %s: %w", fs.mountinfo.path, err)
	}
	return dst, nil
}

// Diskstats appends the devices of <root>/diskstats to dst.
func (fs *FS) Diskstats(dst []DiskStat) ([]DiskStat, error) {
	b, err := fs.diskstats.Read()
	if err != nil {
		return dst, err
	}
	dst, err = parseDiskstats(b, dst, &fs.names)
	if err != nil {
		return dst, fmt.Errorf("parse %s: %w", fs.diskstats.path, err)
	}
	return dst, nil
}

// NetDev appends the interfaces of <root>/net/dev to dst.
func (fs *FS) NetDev(dst []NetDev) ([]NetDev, error) {
	b, err := fs.netdev.Read()
	if err != nil {
		return dst, err
	}
	dst, err = parseNetDev(b, dst, &fs.names)
	if err != nil {
		return dst, fmt.Errorf("parse %s: %w", fs.netdev.path, err)
	}
	return dst, nil
}
