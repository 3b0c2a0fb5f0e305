// Package collecttest gives tests of lmn-collect the fixture machine under
// internal/collect/testdata: a /proc, /sys and /nix tree copied from a real
// machine plus hand-made sensors, disks and a NixOS profile, the statfs(2)
// figures of its mounts, and a stand-in systemctl.
package collecttest

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Dir is internal/collect/testdata, found from the module root above the
// test's working directory (its package directory), so tests in any
// package can use it, also when built with -trimpath.
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("collecttest: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "internal", "collect", "testdata")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("collecttest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Root is the fixture machine's root: proc, sys and nix below it.
func Root(t testing.TB) string { return filepath.Join(Dir(t), "root") }

// Systemctl is the stand-in systemctl, a shell script printing units.json.
func Systemctl(t testing.TB) []string { return []string{filepath.Join(Dir(t), "systemctl")} }

// fsFigures is one mount's entry in statfs.json.
type fsFigures struct {
	Bsize  int64  `json:"bsize"`
	Blocks uint64 `json:"blocks"`
	Bfree  uint64 `json:"bfree"`
	Bavail uint64 `json:"bavail"`
	Files  uint64 `json:"files"`
	Ffree  uint64 `json:"ffree"`
	RO     bool   `json:"ro"`
}

// Statfs returns a statfs function answering from root/statfs.json. The
// fixture's mount points do not exist on the test machine, so statfs(2)
// itself cannot be used; a mount point missing from the file fails with
// ENOENT, as the real call would.
func Statfs(t testing.TB) func(string, *unix.Statfs_t) error {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Root(t), "statfs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var figs map[string]fsFigures
	if err := json.Unmarshal(b, &figs); err != nil {
		t.Fatalf("statfs.json: %v", err)
	}
	return func(path string, st *unix.Statfs_t) error {
		f, ok := figs[path]
		if !ok {
			return fmt.Errorf("fixture statfs.json has no %q: %w", path, unix.ENOENT)
		}
		*st = unix.Statfs_t{Bsize: f.Bsize, Frsize: f.Bsize, Blocks: f.Blocks, Bfree: f.Bfree,
			Bavail: f.Bavail, Files: f.Files, Ffree: f.Ffree}
		if f.RO {
			st.Flags |= unix.ST_RDONLY
		}
		return nil
	}
}

// CopyRoot copies the fixture machine to a new temporary directory, so a
// test can change its files between readings. Symbolic links are copied as
// links.
func CopyRoot(t testing.TB) string {
	t.Helper()
	src, dst := Root(t), t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		default:
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(to, b, 0o644)
		}
	})
	if err != nil {
		t.Fatalf("copy fixture root: %v", err)
	}
	return dst
}
