package proc

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFileReadsWholeLargeFile(t *testing.T) {
	for _, attr := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "big")
		want := bytes.Repeat([]byte("0123456789abcdef\n"), 1000) // 17000 bytes, over 4 pages
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		f := NewFile(path)
		if attr {
			f = NewAttr(path)
		}
		for range 2 {
			got, err := f.Read()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("attr=%v: read %d bytes, want %d", attr, len(got), len(want))
			}
		}
		f.Close()
	}
}

func TestFileRereadsChangedContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v")
	if err := os.WriteFile(path, []byte("first\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := NewFile(path)
	defer f.Close()
	if b, err := f.Read(); err != nil || string(b) != "first\n" {
		t.Fatalf("got %q, %v", b, err)
	}
	if err := os.WriteFile(path, []byte("second, longer\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := f.Read(); err != nil || string(b) != "second, longer\n" {
		t.Fatalf("after change got %q, %v", b, err)
	}
}

func TestFileMissingThenAppears(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later")
	f := NewFile(path)
	defer f.Close()
	_, err := f.Read()
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want ErrNotExist naming %s", err, path)
	}
	if err := os.WriteFile(path, []byte("here"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := f.Read(); err != nil || string(b) != "here" {
		t.Fatalf("got %q, %v after the file appeared", b, err)
	}
}

// TestFileRereadsProcFresh checks that pread at offset 0 on a kept-open
// /proc file gives the kernel's current content: /proc/self/io's rchar
// counts the bytes this process has read, including the previous read.
func TestFileRereadsProcFresh(t *testing.T) {
	f := NewFile("/proc/self/io")
	defer f.Close()
	rchar := func() uint64 {
		b, err := f.Read()
		if err != nil {
			t.Skipf("no readable /proc/self/io here: %v", err)
		}
		line, _ := nextLine(b, 0)
		_, v, _ := nextFieldPair(line)
		n, ok := parseUint(v)
		if !ok {
			t.Fatalf("unexpected /proc/self/io: %q", b)
		}
		return n
	}
	first := rchar()
	if second := rchar(); second <= first {
		t.Errorf("rchar did not grow between reads: %d then %d", first, second)
	}
}

// TestFSRealProc reads this machine's /proc and checks the values are sane.
func TestFSRealProc(t *testing.T) {
	p := NewFS("/proc")
	defer p.Close()
	st, err := p.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if st.CPUs < 1 || st.CPU.Total() == 0 {
		t.Errorf("stat: %+v", st)
	}
	m, err := p.Meminfo()
	if err != nil {
		t.Fatal(err)
	}
	if m.MemTotal == 0 || m.MemAvailable > m.MemTotal || m.MemFree > m.MemTotal || m.SwapFree > m.SwapTotal {
		t.Errorf("meminfo: %+v", m)
	}
	if _, err := p.Loadavg(); err != nil {
		t.Error(err)
	}
	if _, err := p.VMStat(); err != nil {
		t.Error(err)
	}
	ms, err := p.Mounts(nil)
	if err != nil {
		t.Fatal(err)
	}
	root := false
	for _, m := range ms {
		root = root || m.MountPoint == "/"
	}
	if !root {
		t.Errorf("no / among %d mounts", len(ms))
	}
	ns, err := p.NetDev(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) == 0 || ns[0].Name == "" {
		t.Errorf("net/dev: %+v", ns)
	}
	if _, err := p.Diskstats(nil); err != nil {
		t.Error(err)
	}
	if _, err := p.DefaultRoute(); err != nil {
		t.Error(err)
	}
	for i, r := range PressureResources {
		if _, err := p.Pressure(i); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("pressure/%s: %v", r, err)
		}
	}
	if len(p.Files()) != 12 || p.Files()[0].Reads() != 1 {
		t.Errorf("Files() = %v", p.Files())
	}
}

func TestFSFixtureErrorsNameFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "meminfo"), []byte("0"), 0o644)
	p := NewFS(dir)
	defer p.Close()
	if _, err := p.Meminfo(); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "meminfo")) {
		t.Errorf("err = %v, want one naming the file", err)
	}
	if _, err := p.Stat(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing stat: err = %v, want ErrNotExist", err)
	}
}

// TestFileUnchanged checks change detection on a real mount table: after a
// read it is unchanged; a regular file (a fixture) never claims to be.
func TestFileUnchanged(t *testing.T) {
	f := NewPolledFile("/proc/self/mountinfo")
	defer f.Close()
	if f.Unchanged() {
		t.Error("Unchanged before the first read")
	}
	if _, err := f.Read(); err != nil {
		t.Skipf("no /proc/self/mountinfo here: %v", err)
	}
	if !f.Unchanged() {
		t.Error("a real mount table changed between two calls (is something mounting?)")
	}
	path := filepath.Join(t.TempDir(), "mountinfo")
	os.WriteFile(path, []byte("x"), 0o644)
	g := NewPolledFile(path)
	defer g.Close()
	g.Read()
	if g.Unchanged() {
		t.Error("a regular file claimed to be unchanged")
	}
}
