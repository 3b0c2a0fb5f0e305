package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRecordCommand: `lmn-dash record --file FILE` passes every record on
// unchanged, writes them to FILE rotated by size, and `lmn-dash summary`
// over the log's files says what the stream said.
func TestRecordCommand(t *testing.T) {
	in, err := os.ReadFile("../../internal/summary/testdata/keeps-crashing.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "records.ndjson")
	var out, errb bytes.Buffer
	if code := recordCmd([]string{"--max-size", "4K", "--keep", "9", "--file", path}, bytes.NewReader(in), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !bytes.Equal(out.Bytes(), in) {
		t.Fatal("stdout is not the input")
	}
	files, _ := filepath.Glob(path + "*")
	if len(files) < 3 {
		t.Fatalf("files %q: want the log rotated at 4K", files)
	}
	var logged int
	for _, f := range files {
		fi, _ := os.Stat(f)
		if fi.Size() > 4<<10 {
			t.Errorf("%s: %d bytes, past 4K", f, fi.Size())
		}
		logged += int(fi.Size())
	}
	if logged != len(in) {
		t.Errorf("the log holds %d bytes of %d", logged, len(in))
	}
	// The summary of the log's files (in any order) is the stream's.
	var fromLog, fromStream bytes.Buffer
	summaryCmd(files, os.Stdin, &fromLog, &errb)
	summaryCmd([]string{"../../internal/summary/testdata/keeps-crashing.ndjson"}, os.Stdin, &fromStream, &errb)
	if fromLog.String() != fromStream.String() {
		t.Errorf("summary of the log:\n%s\nof the stream:\n%s", fromLog.String(), fromStream.String())
	}
	// A log that cannot be opened is a usage error, before any record.
	out.Reset()
	if code := recordCmd([]string{"--file", filepath.Join(dir, "missing", "r.ndjson")}, bytes.NewReader(in), &out, &errb); code != 2 || out.Len() != 0 {
		t.Errorf("unwritable log: exit %d, %d bytes out; want 2 and nothing", code, out.Len())
	}
	for _, args := range [][]string{{}, {"--max-size", "lots", "--file", path}, {"--keep", "-1", "--file", path}, {"--file", path, path}} {
		if code := recordCmd(args, strings.NewReader(""), &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}
