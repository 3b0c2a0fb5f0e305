// Package statefile writes the files lmn-detect and lmn-heal keep their
// memory in across runs (--state), and lmn-privd its record of system
// generations, so that a crash at any moment leaves the old file or the
// new one, never a torn one.
package statefile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write replaces path with data: a temporary file in the same directory,
// fsynced, renamed over path, and the directory fsynced. The file is
// readable by its owner only.
func Write(path string, data []byte) error { return WritePerm(path, data, 0o600) }

// WritePerm is Write for a file with mode perm, set before the rename so
// that the file is never seen with another mode.
func WritePerm(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write state %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("write state %s: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write state %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync state %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close state %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace state %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// CheckWritable reports whether a state file can be written at path, the
// way Write writes it: a temporary file created in its directory (then
// removed), and path itself not a directory. Binaries call it at start,
// so that a --state nobody can write is a usage error then, not a loss
// found at exit.
func CheckWritable(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("state %s: is a directory", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("state %s: cannot write there: %w", path, err)
	}
	f.Close()
	return os.Remove(f.Name())
}
