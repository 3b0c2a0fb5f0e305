package statefile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Write replaces the file whole and leaves no temporary file behind.
func TestWriteReplacesWhole(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	for _, content := range []string{`{"v":1,"note":"the first, longer state"}`, `{"v":2}`} {
		if err := Write(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("read back %q, %v; want %q", got, err, content)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the state file", len(entries))
	}
}

// A directory that cannot be written to gives an error naming the file.
func TestWriteIntoMissingDirectoryFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "state.json")
	err := Write(path, []byte("{}"))
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Write into a missing directory: %v, want an error naming %s", err, path)
	}
}

// WritePerm gives the file its mode before it takes the name, whatever
// the umask: lmn-privd's record of generations is read by lmn-collect.
func TestWritePermSetsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "generations.json")
	for _, perm := range []os.FileMode{0o644, 0o600} {
		if err := WritePerm(path, []byte("{}"), perm); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != perm {
			t.Fatalf("mode %v, %v; want %v", fi.Mode().Perm(), err, perm)
		}
	}
}

func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	if err := CheckWritable(filepath.Join(dir, "state.json")); err != nil {
		t.Errorf("a writable directory: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left %d files behind", len(ents))
	}
	for _, bad := range []string{filepath.Join(dir, "missing", "state.json"), dir} {
		if err := CheckWritable(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("CheckWritable(%s) = %v, want an error naming it", bad, err)
		}
	}
}
