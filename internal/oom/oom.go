// Package oom says when the kernel's OOM killer acts in a watched cgroup,
// as soon as it does.
//
//   - cgroup v2: memory.events counts oom_kill, and every change of the
//     file is a "modified" event for inotify(7). The watcher reads the
//     count at each event and reports when it grew (the file also changes
//     for the low, high and max counters, which are no kill).
//   - cgroup v1 (the memory controller of hybrid hosts): memory.oom_control
//     has no such event, but an eventfd registered with it through
//     cgroup.event_control is signalled when the cgroup runs out of memory,
//     just before the OOM killer picks a victim
//     (Documentation/admin-guide/cgroup-v1/memory.rst, "OOM Control"). The
//     watcher reports each signal of a cgroup that still exists; removing a
//     cgroup signals the eventfd too, and is not reported.
//
// Both read through Go's poller: no thread waits. The count is read with
// a small parser of its own until the per-unit cgroup readers of
// internal/sysfs cover memory.events.
package oom

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// Watcher reports OOM kills in a set of cgroup directories.
type Watcher struct {
	fire func(dir string)

	mu      sync.Mutex
	closed  bool
	inotify *os.File
	byWD    map[int32]*v2Watch
	v2      map[string]*v2Watch
	v1      map[string]*v1Watch
	wg      sync.WaitGroup
}

type v2Watch struct {
	dir   string
	wd    int32
	kills uint64
}

type v1Watch struct {
	dir string
	efd *os.File
}

// New returns a Watcher with nothing watched. fire is called from the
// watcher's goroutines and must return quickly.
func New(fire func(dir string)) (*Watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("oom: inotify_init1: %w", err)
	}
	w := &Watcher{fire: fire, inotify: os.NewFile(uintptr(fd), "inotify"),
		byWD: map[int32]*v2Watch{}, v2: map[string]*v2Watch{}, v1: map[string]*v1Watch{}}
	w.wg.Add(1)
	go w.readInotify()
	return w, nil
}

// Set watches the cgroup directories in dirs, each through memory.events
// (v2) or else memory.oom_control (v1), and stops watching the others. It
// returns the errors of the directories it cannot watch, joined; a
// directory with neither file is such an error.
func (w *Watcher) Set(dirs []string) error {
	keep := make(map[string]bool, len(dirs))
	for _, d := range dirs {
		keep[d] = true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("oom: watcher closed")
	}
	for d, v := range w.v2 {
		if !keep[d] {
			w.unwatchV2(v)
		}
	}
	for d, v := range w.v1 {
		if !keep[d] {
			v.close()
			delete(w.v1, d)
		}
	}
	var errs []error
	for _, d := range dirs {
		if w.v2[d] != nil || w.v1[d] != nil {
			continue
		}
		err := w.watchV2(d)
		if errors.Is(err, os.ErrNotExist) {
			err = w.watchV1(d)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Watched lists the watched directories, in no order.
func (w *Watcher) Watched() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for d := range w.v2 {
		out = append(out, d)
	}
	for d := range w.v1 {
		out = append(out, d)
	}
	return out
}

// Close stops watching everything.
func (w *Watcher) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	for d, v := range w.v1 {
		v.close()
		delete(w.v1, d)
	}
	err := w.inotify.Close()
	w.mu.Unlock()
	w.wg.Wait()
	return err
}

// watchV2 watches dir's memory.events; w.mu is held.
func (w *Watcher) watchV2(dir string) error {
	p := filepath.Join(dir, "memory.events")
	kills, err := readCount(p, "oom_kill")
	if err != nil {
		return err
	}
	var wd int
	err = w.rawInotify(func(fd int) error {
		wd, err = unix.InotifyAddWatch(fd, p, unix.IN_MODIFY)
		return err
	})
	if err != nil {
		return fmt.Errorf("oom: watch %s: %w", p, err)
	}
	v := &v2Watch{dir: dir, wd: int32(wd), kills: kills}
	w.v2[dir], w.byWD[v.wd] = v, v
	return nil
}

func (w *Watcher) unwatchV2(v *v2Watch) {
	w.rawInotify(func(fd int) error {
		_, err := unix.InotifyRmWatch(fd, uint32(v.wd))
		return err
	})
	delete(w.v2, v.dir)
	delete(w.byWD, v.wd)
}

// rawInotify runs f on the inotify descriptor.
func (w *Watcher) rawInotify(f func(fd int) error) error {
	rc, err := w.inotify.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// readInotify reads inotify events until Close.
func (w *Watcher) readInotify() {
	defer w.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, err := w.inotify.Read(buf)
		if err != nil {
			return // closed
		}
		eachEvent(buf[:n], w.inotifyEvent)
	}
}

func (w *Watcher) inotifyEvent(wd int32, mask uint32) {
	if mask&unix.IN_Q_OVERFLOW != 0 { // events were lost: look at every file
		w.mu.Lock()
		wds := make([]int32, 0, len(w.byWD))
		for wd := range w.byWD {
			wds = append(wds, wd)
		}
		w.mu.Unlock()
		for _, wd := range wds {
			w.inotifyEvent(wd, unix.IN_MODIFY)
		}
		return
	}
	w.mu.Lock()
	v := w.byWD[wd]
	if v == nil {
		w.mu.Unlock()
		return
	}
	if mask&unix.IN_IGNORED != 0 { // the cgroup went away; Set watches it again if it comes back
		delete(w.v2, v.dir)
		delete(w.byWD, wd)
		w.mu.Unlock()
		return
	}
	kills, err := readCount(filepath.Join(v.dir, "memory.events"), "oom_kill")
	grew := err == nil && kills > v.kills
	if err == nil {
		v.kills = kills
	}
	w.mu.Unlock()
	if grew {
		w.fire(v.dir)
	}
}

// eachEvent calls fn for each struct inotify_event in b.
func eachEvent(b []byte, fn func(wd int32, mask uint32)) {
	for len(b) >= unix.SizeofInotifyEvent {
		wd := int32(binary.NativeEndian.Uint32(b))
		mask := binary.NativeEndian.Uint32(b[4:])
		n := unix.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(b[12:]))
		if n > len(b) || n < unix.SizeofInotifyEvent {
			return
		}
		fn(wd, mask)
		b = b[n:]
	}
}

// watchV1 registers an eventfd for dir's OOM notifications; w.mu is held.
func (w *Watcher) watchV1(dir string) error {
	ctrlPath := filepath.Join(dir, "memory.oom_control")
	ctrl, err := unix.Open(ctrlPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("oom: %s has neither memory.events nor memory.oom_control: %w", dir,
			&os.PathError{Op: "open", Path: ctrlPath, Err: err})
	}
	// The registration holds what it needs; the control file's
	// descriptor only names the file in it.
	defer unix.Close(ctrl)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("oom: eventfd: %w", err)
	}
	v := &v1Watch{dir: dir, efd: os.NewFile(uintptr(efd), "eventfd")}
	line := fmt.Sprintf("%d %d", efd, ctrl)
	if err := os.WriteFile(filepath.Join(dir, "cgroup.event_control"), []byte(line), 0); err != nil {
		v.close()
		return fmt.Errorf("oom: register for %s: %w", ctrlPath, err)
	}
	w.v1[dir] = v
	w.wg.Add(1)
	go w.readEventfd(v)
	return nil
}

// close closes the eventfd, which ends the kernel's registration.
func (v *v1Watch) close() { v.efd.Close() }

// readEventfd waits for v's OOM notifications until v is closed.
func (w *Watcher) readEventfd(v *v1Watch) {
	defer w.wg.Done()
	var buf [8]byte
	for {
		if _, err := v.efd.Read(buf[:]); err != nil {
			return // closed
		}
		if !exists(filepath.Join(v.dir, "memory.oom_control")) {
			w.mu.Lock()
			if w.v1[v.dir] == v {
				v.close()
				delete(w.v1, v.dir)
			}
			w.mu.Unlock()
			return // the cgroup was removed
		}
		w.fire(v.dir)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// readCount reads the value of key in a flat keyed cgroup file.
func readCount(path, key string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := parseCount(b, key)
	if err != nil {
		return 0, fmt.Errorf("oom: %s: %w", path, err)
	}
	return v, nil
}

// parseCount returns the value of key in a flat keyed file ("key value"
// lines: memory.events, memory.oom_control).
func parseCount(b []byte, key string) (uint64, error) {
	for line := range bytes.Lines(b) {
		k, v, ok := bytes.Cut(bytes.TrimSuffix(line, []byte("\n")), []byte(" "))
		if !ok || string(k) != key {
			continue
		}
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: not a count: %q", key, v)
		}
		return n, nil
	}
	return 0, fmt.Errorf("no %s line", key)
}
