// Package proc reads the kernel's process and system information files
// (/proc) under a root directory passed in, so tests and fixture trees can
// stand in for the real /proc.
//
// Files are kept open and re-read from offset 0 with pread(2) into reused
// buffers: reopening a /proc file each tick costs about three times as much
// as re-reading it. Parsing is split from I/O (parseX([]byte)) and scans
// bytes without regular expressions or fmt.
package proc

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// File is a file kept open and re-read whole from offset 0 with pread(2)
// into a buffer that is reused between reads. It serves /proc and /sys
// alike. The zero value is not usable; use NewFile.
type File struct {
	path string
	// whole is set for files the kernel returns in one read (sysfs
	// attributes): a short read then means the end, saving a second pread.
	whole bool
	// polled is set for procfs files whose poll(2) reports a change of
	// content (mountinfo): see Unchanged.
	polled bool
	fd     int
	buf    []byte
	reads  uint64
}

// NewFile returns a File for path. The file is opened on the first Read.
func NewFile(path string) *File { return &File{path: path, fd: -1} }

// NewAttr returns a File for a sysfs attribute, which the kernel returns
// whole in one read of at most a page.
func NewAttr(path string) *File { return &File{path: path, fd: -1, whole: true} }

// NewPolledFile returns a File for a /proc file that reports changes through
// poll(2) with POLLPRI, as the mount tables do, so Unchanged can tell
// whether it needs reading again.
func NewPolledFile(path string) *File { return &File{path: path, fd: -1, polled: true} }

// Unchanged reports whether the file is known not to have changed since
// the last Read: only a polled file on procfs can say so (a fixture tree's
// regular file cannot, so it is always read again). It is false before the
// first Read and on any error.
func (f *File) Unchanged() bool {
	if f.fd < 0 || !f.polled {
		return false
	}
	fds := []unix.PollFd{{Fd: int32(f.fd), Events: unix.POLLPRI}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n == 0
}

// Reads counts the successful Reads, so a benchmark can tell which files a
// sample read.
func (f *File) Reads() uint64 { return f.reads }

// Path is the file's path.
func (f *File) Path() string { return f.path }

// Read returns the file's whole content. The slice is valid until the next
// Read. After an error the file is closed and reopened on the next Read, so
// a file that appears later (a new interface) is picked up.
func (f *File) Read() ([]byte, error) {
	if f.fd < 0 {
		fd, err := unix.Open(f.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: f.path, Err: err}
		}
		f.fd = fd
		if f.polled {
			var st unix.Statfs_t
			if unix.Fstatfs(fd, &st) != nil || st.Type != unix.PROC_SUPER_MAGIC {
				f.polled = false
			}
		}
	}
	if f.buf == nil {
		f.buf = make([]byte, 4096)
	}
	n := 0
	for {
		if n == len(f.buf) {
			f.buf = append(f.buf, make([]byte, len(f.buf))...)
		}
		m, err := unix.Pread(f.fd, f.buf[n:], int64(n))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			f.Close()
			return nil, &os.PathError{Op: "pread", Path: f.path, Err: err}
		}
		if m == 0 || (f.whole && n+m < len(f.buf)) {
			f.reads++
			return f.buf[:n+m], nil
		}
		n += m
		if n > maxFile {
			f.Close()
			return nil, fmt.Errorf("read %s: larger than %d bytes", f.path, maxFile)
		}
	}
}

// maxFile bounds one file's size, so a runaway file cannot grow the buffer
// without limit.
const maxFile = 16 << 20

// Close closes the descriptor; a later Read reopens it.
func (f *File) Close() error {
	if f.fd < 0 {
		return nil
	}
	err := unix.Close(f.fd)
	f.fd = -1
	return err
}
