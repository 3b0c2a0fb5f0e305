package privd

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// targetLocks make one action per target hold across processes: an
// action takes an exclusive flock on a file named for its target in a
// directory beside the audit log, so the daemon and a concurrent
// `lmn-privd exec` under sudo refuse each other's busy target. A lock file
// exists only while its action runs: it is taken only for an action that
// was admitted, and removed when the action ends, so the directory holds
// at most one file per running action (and what a crash left, swept at
// the next start).
type targetLocks struct{ dir string }

func (l targetLocks) path(target string) string {
	sum := sha256.Sum256([]byte(target))
	return filepath.Join(l.dir, hex.EncodeToString(sum[:8]))
}

// tryLock takes target's lock without waiting; an error wrapping
// unix.EWOULDBLOCK means another action holds it.
func (l targetLocks) tryLock(target string) (*os.File, error) {
	if err := os.Mkdir(l.dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("target locks: %w", err)
	}
	return lockPath(l.path(target), true)
}

// lockPath locks the file at name, creating it if create. A file removed
// by its holder between open and flock is a lock on nothing: it is noticed
// (its inode no longer at name) and the lock taken again.
func lockPath(name string, create bool) (*os.File, error) {
	flags := os.O_RDWR | unix.O_NOFOLLOW | unix.O_CLOEXEC
	if create {
		flags |= os.O_CREATE
	}
	for range 8 {
		f, err := os.OpenFile(name, flags, 0o600)
		if err != nil {
			return nil, fmt.Errorf("target lock %s: %w", name, err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			return nil, fmt.Errorf("target lock %s: %w", name, err)
		}
		held, err1 := f.Stat()
		now, err2 := os.Lstat(name)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return f, nil
		}
		f.Close()
		if !create {
			return nil, fmt.Errorf("target lock %s: %w", name, os.ErrNotExist)
		}
	}
	return nil, fmt.Errorf("target lock %s: %w", name, syscall.EAGAIN)
}

// unlock removes the held lock's file and releases it.
func (l targetLocks) unlock(f *os.File) {
	if f == nil {
		return
	}
	os.Remove(f.Name())
	f.Close()
}

// sweep removes lock files nobody holds: what a crashed action left.
func (l targetLocks) sweep() {
	ents, err := os.ReadDir(l.dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if f, err := lockPath(filepath.Join(l.dir, e.Name()), false); err == nil {
			l.unlock(f)
		}
	}
}
