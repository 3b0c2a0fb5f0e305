package recordlog

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRotation appends numbered lines and checks that every file stays
// within the bound, holds whole lines only, that the files together hold
// the newest lines in order with none lost but the oldest beyond Keep.
func TestRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "records.ndjson")
	l, err := Open(path, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for i := range 40 {
		line := fmt.Sprintf(`{"n":%d}`+"\n", i)
		all = append(all, line)
		if err := l.Append([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	var kept string
	for _, name := range []string{path + ".2", path + ".1", path} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 100 || !bytes.HasSuffix(b, []byte("\n")) {
			t.Errorf("%s: %d bytes, ends %q", name, len(b), b[max(0, len(b)-3):])
		}
		kept += string(b)
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Error("a fourth file kept")
	}
	if !strings.HasSuffix(strings.Join(all, ""), kept) || len(kept) < 250 {
		t.Errorf("kept %d bytes, not the newest lines in order:\n%s", len(kept), kept)
	}
	// Reopened, it appends to what is there.
	l, _ = Open(path, 100, 2)
	before, _ := os.ReadFile(path)
	l.Append([]byte("{}\n"))
	l.Close()
	if after, _ := os.ReadFile(path); string(after) != string(before)+"{}\n" {
		t.Errorf("reopened: %q, want %q and a line", after, before)
	}
}

func TestKeepNone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r")
	l, _ := Open(path, 10, 0)
	for range 5 {
		l.Append([]byte("123456\n"))
	}
	l.Close()
	if b, _ := os.ReadFile(path); string(b) != "123456\n" {
		t.Errorf("got %q", b)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("%d files", len(ents))
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"100": 100, "64K": 64 << 10, "32M": 32 << 20, "1G": 1 << 30} {
		if got, err := ParseSize(in); got != want || err != nil {
			t.Errorf("ParseSize(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "0", "-1M", "1T", "M", "1.5M", "9999999999999G"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	f.Add("64M")
	f.Add("1G")
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := ParseSize(s); err == nil && n <= 0 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
	})
}
