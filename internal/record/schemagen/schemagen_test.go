package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedIsCurrent fails when the generated files of internal/record
// differ from what schemagen writes for the structs as they are now: a
// field was added or changed and go generate was not run.
func TestGeneratedIsCurrent(t *testing.T) {
	files, err := generate("..")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date with the structs of internal/record: run go generate ./internal/record", name)
		}
	}
}

// schemaDir writes a package of one file holding src (and the Header and
// Time that every sample has) and returns its directory.
func schemaDir(t *testing.T, src string) string {
	dir := t.TempDir()
	base := "package record\n\ntype Time struct{}\n\ntype Header struct {\n\tKind string `json:\"kind\"`\n\tTS Time `json:\"ts\"`\n}\n\n"
	if err := os.WriteFile(filepath.Join(dir, "sample.go"), []byte(base+src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestNewField shows what adding a field gives: each kind of field turns
// up in the encoder, the decoder, the field enumeration and, for numbers,
// the metric table, with no other edit.
func TestNewField(t *testing.T) {
	dir := schemaDir(t, "type Sample struct {\n\tHeader `lmn:\"nometric\"`\n"+
		"\tTrigger string `json:\"trigger,omitempty\"`\n"+
		"\tProbes []Probe `json:\"probes,omitempty\" lmn:\"subject=probe,name=name\"`\n"+
		"\tNix *Nix `json:\"nix,omitempty\"`\n}\n\n"+
		"type Probe struct {\n\tName string `json:\"name\"`\n\tOK bool `json:\"ok\"`\n\tLatencySeconds *float64 `json:\"latency_seconds,omitempty\"`\n\tLabels map[string]string `json:\"labels,omitempty\"`\n}\n\n"+
		"type Nix struct {\n\tGenerations int `json:\"generations\"`\n\tStorePaths int64 `json:\"store_paths,omitempty\"`\n}\n")
	files, err := generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	all := ""
	for _, b := range files {
		all += string(b)
	}
	for _, want := range []string{
		"e.str(`,\"trigger\":`, g.Trigger)",
		`case "trigger":`, `d.stringF(FieldTrigger, &g.Trigger)`,
		`FieldProbesLatencySeconds`, `decodeOpt(d, FieldProbesLatencySeconds, &g.LatencySeconds, d.floatF)`,
		`decodeRaw(d, FieldProbesLabels, &g.Labels)`, `e.json(g.Labels, "probes[].labels")`,
		`{Path: "probes[].ok", Field: FieldProbesOK, Bool: true, List: &listProbesSubjects`,
		`{Path: "nix.store_paths", Field: FieldNixStorePaths`, `d.int64F(FieldNixStorePaths, &g.StorePaths)`,
		`Path: "probes[]", Key: "probe", NameField: FieldProbesName`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("generated code lacks %s", want)
		}
	}
	if strings.Contains(all, `Path: "probes[].labels"`) || strings.Contains(all, `Path: "trigger"`) {
		t.Error("a string or a map became a metric")
	}
}

// TestSchemaMistakes checks that a schema the generated code could not
// serve exactly is refused, saying what to do.
func TestSchemaMistakes(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"type Sample struct {\n\tHeader\n\tX []E `json:\"x\"`\n}\ntype E struct {\n\tN float64 `json:\"n\"`\n}\n", `add one, or tag the field lmn:"nometric"`},
		{"type Sample struct {\n\tHeader\n\tX []E `json:\"x\" lmn:\"subject=name\"`\n}\ntype E struct {\n\tN float64 `json:\"n\"`\n}\n", `"name", which is not a string field of E`},
		{"type Sample struct {\n\tHeader\n\tX int `json:\"X\"`\n}\n", "lower-case letters"},
		{"type Sample struct {\n\tHeader\n\tX int `json:\"x,string\"`\n}\n", "knows only omitempty"},
		{"type Sample struct {\n\tHeader\n\tX int `json:\"x\" lmn:\"metric\"`\n}\n", "want nometric"},
		{"type Sample struct {\n\tHeader\n\tX *Loop `json:\"x\"`\n}\ntype Loop struct {\n\tL *Loop `json:\"l\"`\n}\n", "holds itself"},
		{"type Sample struct {\n\tHeader\n\tX E `json:\"x,omitempty\"`\n}\ntype E struct {\n\tN int `json:\"n\"`\n}\n", "omitempty on E"},
		{"type Sample struct {\n\tHeader\n\tLoad float64 `json:\"load\"`\n}\n", `field Load: a float64 needs a range`},
		{"type Sample struct {\n\tHeader\n\tLoad float64 `json:\"load\" lmn:\"range=5:1\"`\n}\n", `range=5:1: empty`},
		{"type Sample struct {\n\tHeader\n\tLoad float64 `json:\"load\" lmn:\"range=0\"`\n}\n", `want LO:HI`},
	} {
		_, err := generate(schemaDir(t, c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\nerr = %v, want one saying %q", c.src, err, c.want)
		}
	}
}

// TestAddFieldEndToEnd does what a person adding fields does: it copies
// internal/record, adds a top-level string, a list of subjects with a scope
// and an optional number to a group in sample.go, runs the generator and then the
// copy's own tests, which fill every field of the struct and hold the
// encoder and decoder to encoding/json, and every metric to a full decode.
// The names added are ones the real schema does not use.
func TestAddFieldEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a copy of internal/record: not in -short")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the copy with")
	}
	root := t.TempDir()
	dir := filepath.Join(root, "internal", "record")
	copyTree(t, "..", dir)
	copyTree(t, filepath.Join("..", "..", "..", "cmd", "lmn-detect", "testdata", "replay"), filepath.Join(root, "cmd", "lmn-detect", "testdata", "replay"))
	os.RemoveAll(filepath.Join(dir, "schemagen"))
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module github.com/lmn-heal/lmn\n\ngo 1.26.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	edit(t, filepath.Join(dir, "sample.go"),
		"\tProbes []ProbeResult `json:\"probes,omitempty\" lmn:\"subject=probe,name=name\"`\n",
		"\tProbes []ProbeResult `json:\"probes,omitempty\" lmn:\"subject=probe,name=name\"`\n\tOrigin string `json:\"origin,omitempty\"`\n\tChecks []Check `json:\"checks,omitempty\" lmn:\"subject=check,name=name,scope=scope\"`\n}\n\ntype Check struct {\n\tName string `json:\"name\"`\n\tScope string `json:\"scope\"`\n\tOK bool `json:\"ok\"`\n\tLatencySeconds *float64 `json:\"latency_seconds,omitempty\"`\n")
	edit(t, filepath.Join(dir, "sample.go"),
		"\tGenerations      int    `json:\"generations\"`\n",
		"\tGenerations      int    `json:\"generations\"`\n\tClosureBytes *uint64 `json:\"closure_bytes,omitempty\"`\n")
	files, err := generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range files {
		if err := os.WriteFile(name, src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(goTool, "test", "-count=1", "-run", "AppendSampleMatches|DecodeSampleEveryField|DecodeSampleMatchesJSON|GivesWhatMetricsRead", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the copy's tests: %v\n%s", err, out)
	}
	if _, ok := files[filepath.Join(dir, "sample_fields.go")]; !ok || !bytes.Contains(files[filepath.Join(dir, "sample_fields.go")], []byte(`"checks[].latency_seconds"`)) {
		t.Error("no metric checks[].latency_seconds")
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func edit(t *testing.T, file, old, new string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s has no %q", file, old)
	}
	if err := os.WriteFile(file, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}
