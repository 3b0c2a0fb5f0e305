package generations

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// ErrChanged: the profile moved between reading it and switching it (a
// nixos-rebuild ran meanwhile); nothing was changed.
var ErrChanged = errors.New("the system profile changed meanwhile")

// SwitchProfile points the profile at generation n, as
// `nix-env --profile P --switch-generation N` does: under Nix's own lock on
// the profile (an flock on P.lock, so a concurrent nix-env or nixos-rebuild
// waits), a new relative symlink "system-N-link" renamed over P, so the
// profile is never missing or torn. It refuses, with ErrChanged, when the
// profile no longer points where s says it did.
func (s System) SwitchProfile(n int) error {
	if _, ok := s.Find(n); !ok {
		return fmt.Errorf("switch profile %s: no generation %d", s.Profile, n)
	}
	unlock, err := lockProfile(s.Profile)
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := os.Readlink(s.Profile)
	if err != nil {
		return fmt.Errorf("switch profile %s: %w", s.Profile, err)
	}
	if got := Number(filepath.Base(cur), filepath.Base(s.Profile)); got != s.Current {
		return fmt.Errorf("switch profile %s: %w: it points at %q now", s.Profile, ErrChanged, cur)
	}
	tmp := s.Profile + ".tmp-lmn-" + strconv.Itoa(os.Getpid())
	os.Remove(tmp) // a leftover of a crashed run of this pid
	if err := os.Symlink(filepath.Base(s.Link(n)), tmp); err != nil {
		return fmt.Errorf("switch profile %s: %w", s.Profile, err)
	}
	if err := os.Rename(tmp, s.Profile); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("switch profile %s: %w", s.Profile, err)
	}
	syncDir(filepath.Dir(s.Profile))
	return nil
}

// lockProfile takes Nix's lock on a profile: an exclusive flock on
// "P.lock". Nix deletes its lock files when done, writing "d" into them
// first so that a waiter that got the lock of a deleted file (size not 0)
// knows to open it again; this does the same.
func lockProfile(profile string) (func(), error) {
	path := profile + ".lock"
	for range 100 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lock profile: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock profile %s: %w", path, err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock profile %s: %w", path, err)
		}
		if fi.Size() != 0 { // deleted by its last holder: take the new one
			f.Close()
			continue
		}
		return func() {
			os.Remove(path)
			f.WriteString("d")
			f.Close()
		}, nil
	}
	return nil, fmt.Errorf("lock profile %s: deleted under us 100 times", path)
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
