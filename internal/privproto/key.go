package privproto

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// KeyLen is the length of the shared HMAC key: 32 random bytes.
const KeyLen = 32

// minDistinct is the fewest different byte values a key may hold. 32
// random bytes hold about 30 (17 or fewer with a probability of 2e-15); a
// key of one repeated byte, a short pattern, or 32 characters of hex or
// decimal text (at most 16 values) never reaches it.
const minDistinct = 17

// LoadKey reads the shared key from path: exactly KeyLen bytes, as
// `lmn-privd keygen` writes them, in a regular file (not a symlink)
// owned by the user reading it (root for lmn-privd, whose copy systemd
// puts in $CREDENTIALS_DIRECTORY owned by the service's user) that no
// group or other user may read or write. Errors wrap ErrBadKey.
func LoadKey(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("key file %s: %w: is a symlink", path, ErrBadKey)
		}
		return nil, fmt.Errorf("key file: %w: %w", ErrBadKey, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w: %w", path, ErrBadKey, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s: %w: not a regular file (%v)", path, ErrBadKey, fi.Mode().Type())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Geteuid() {
		owner := -1
		if ok {
			owner = int(st.Uid)
		}
		return nil, fmt.Errorf("key file %s: %w: owned by uid %d, not by uid %d reading it (chown it, or give each side its own copy)", path, ErrBadKey, owner, os.Geteuid())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("key file %s: %w: mode %04o lets others or the group read or write it (chmod 600)", path, ErrBadKey, perm)
	}
	key, err := io.ReadAll(io.LimitReader(f, KeyLen+1))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w: %w", path, ErrBadKey, err)
	}
	if err := CheckKey(key); err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return key, nil
}

// CheckKey checks the content of a key: exactly KeyLen bytes holding at
// least minDistinct different values. Errors wrap ErrBadKey.
func CheckKey(key []byte) error {
	if len(key) != KeyLen {
		return fmt.Errorf("%w: %d bytes, want exactly %d raw bytes (lmn-privd keygen writes one; not text, no newline)", ErrBadKey, len(key), KeyLen)
	}
	var seen [256]bool
	distinct := 0
	for _, b := range key {
		if !seen[b] {
			seen[b] = true
			distinct++
		}
	}
	if distinct < minDistinct {
		return fmt.Errorf("%w: only %d different byte values, not random (lmn-privd keygen writes a random key)", ErrBadKey, distinct)
	}
	return nil
}

// WriteKey writes KeyLen fresh random bytes to a new file at path with mode
// 0600. It never overwrites or follows an existing file.
func WriteKey(path string) error {
	key := make([]byte, KeyLen)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	// The umask may have narrowed the mode; never widened it. Make it exact.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("keygen %s: %w", path, err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return fmt.Errorf("keygen %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("keygen %s: %w", path, err)
	}
	return f.Close()
}
