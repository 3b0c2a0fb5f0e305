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

// maxKeyFile bounds how much of a key file is read.
const maxKeyFile = 4096

// LoadKey reads the shared key from path. It refuses a symlink, anything
// but a regular file, a file others can read or write, and a key shorter
// than KeyLen bytes. Errors wrap ErrBadKey.
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
	if perm := fi.Mode().Perm(); perm&0o007 != 0 {
		return nil, fmt.Errorf("key file %s: %w: mode %04o lets others read or write it (chmod 600)", path, ErrBadKey, perm)
	}
	key, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w: %w", path, ErrBadKey, err)
	}
	if len(key) < KeyLen || len(key) > maxKeyFile {
		return nil, fmt.Errorf("key file %s: %w: %d bytes, want %d..%d (lmn-privd keygen writes one)", path, ErrBadKey, len(key), KeyLen, maxKeyFile)
	}
	return key, nil
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
