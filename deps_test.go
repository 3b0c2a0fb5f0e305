// Package lmn_test holds tests about the whole module: which modules it may
// require, and which way the arrows between its packages point.
package lmn_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/lmn-heal/lmn"

// allowedModules are the only modules go.mod may require, with the reason
// for each. Indirect ones are the allowed modules' own requirements.
var allowedModules = map[string]string{
	"golang.org/x/sys":           "direct: syscalls the standard library lacks (pidfd, ioctls, statfs)",
	"github.com/mdlayher/socket": "direct: the privd socket with deadlines and peer credentials",
	"golang.org/x/net":           "indirect: required by github.com/mdlayher/socket",
	"golang.org/x/sync":          "indirect: required by github.com/mdlayher/socket",
}

func TestGoModRequiresOnlyAllowedModules(t *testing.T) {
	data, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	inBlock := false
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		var mod string
		switch {
		case strings.HasPrefix(line, "require ("):
			inBlock = true
			continue
		case inBlock && line == ")":
			inBlock = false
			continue
		case inBlock && line != "" && !strings.HasPrefix(line, "//"):
			mod = strings.Fields(line)[0]
		case strings.HasPrefix(line, "require "):
			mod = strings.Fields(line)[1]
		default:
			continue
		}
		if _, ok := allowedModules[mod]; !ok {
			t.Errorf("go.mod:%d requires %s, which is not on the allowlist in deps_test.go", i+1, mod)
		}
	}
}

// Rules for the arrows between packages. Keys are package paths relative to
// the module; a rule applies to the package and everything below it.
var (
	// pure packages make decisions over records: no effects. (internal/record
	// is the stream itself and does its I/O.)
	pure = []string{"internal/detect", "internal/heal"}
	// effects pure packages must not import.
	effects = []string{"os/exec", "syscall", "net", "golang.org/x/sys/unix"}
	// mayImport lists, for each package, the internal packages it may
	// import; data flows one way. Every package of the module falls under
	// one of these (TestEveryPackageHasArrowRules), so a new package gets
	// its rule when it is added.
	mayImport = map[string][]string{
		// The leaves: the stream, configuration, files, the machine.
		"internal/record":    {}, // the stream: schema, codecs (schemagen included), reader, writer
		"internal/config":    {}, // JSON configuration files: strict decoding, field paths, Duration
		"internal/statefile": {},
		"internal/recordlog": {}, // the record log: size-bounded, rotated by its writer
		"internal/cli":       {}, // the command line every binary shares
		"internal/proc":      {},
		"internal/sysfs":     {"internal/proc"},
		"internal/systemd":   {},                                                          // its D-Bus client (internal/systemd/dbus) and sdtest included
		"internal/action":    {"internal/proc", "internal/sysfs", "internal/generations"}, // the catalogue of actions, each written once; kill_process reads cgroups, switch_generation the generations
		"internal/privproto": {"internal/action"},
		// event sources: each stands on the kernel alone.
		"internal/psi":       {},
		"internal/rtnetlink": {},
		"internal/oom":       {},
		// One concept each, over the leaves.
		"internal/collect": {"internal/record", "internal/proc", "internal/sysfs", "internal/systemd/dbus", "internal/psi", "internal/rtnetlink", "internal/oom", "internal/probe", "internal/generations"}, // probe: the results samples carry; generations: the profile's link names and lmn-privd's record
		"internal/detect":  {"internal/record", "internal/config"},
		"internal/heal":    {"internal/record", "internal/config", "internal/action", "internal/detect"}, // detect: the rules' names
		"internal/tier":    {"internal/action", "internal/heal", "internal/privproto", "internal/record"},
		"internal/privd":   {"internal/action", "internal/privproto", "internal/record", "internal/systemd", "internal/config", "internal/statefile", "internal/generations"},
		"internal/dash":    {"internal/record", "internal/detect"}, // detect: the rules' names and levels
		"internal/probe":   {"internal/config"},                    // service probes and their scheduler
		"internal/notify":  {"internal/record", "internal/config"}, // what a person is told, and its channels
		"internal/listen":  {},                                     // listen addresses of the HTTP endpoints
		"internal/ptytest": {},                                     // real pseudo-terminals for tests
		"internal/pipe":    {},                                     // a stage of an interactive pipe: its downstream gone, its stderr held
		"internal/summary": {"internal/record"},                    // what lmn did: a line per event, a report over a stream
		// speaking to Alertmanager: the webhook receiver (issues) and the API client (silences)
		"internal/alertmanager": {"internal/record", "internal/detect"},
		// the system generations: the profile's links, lmn's record of them
		"internal/generations": {"internal/record", "internal/config", "internal/statefile"},
		// The binaries, the whole-pipe tests and the benchmark drivers wire
		// the packages together (never one command into another).
		"cmd":   {"internal"},
		"e2e":   {"internal"},
		"bench": {"internal"},
	}
	// testOnly packages start real service managers; only tests use them.
	testOnly = []string{"internal/ptytest", "internal/systemd/sdtest", "internal/alertmanager/amtest", "internal/generations/gentest"}
	banned   = []string{"util", "utils", "common", "helpers", "types", "misc"}
)

func TestPackageArrows(t *testing.T) {
	imports := packageImports(t)
	if len(imports) == 0 {
		t.Fatal("found no packages")
	}
	for pkg, imps := range imports {
		if slicesContains(banned, path.Base(pkg)) {
			t.Errorf("package %s: a package named %q says nothing; name it for its concept", pkg, path.Base(pkg))
		}
		for _, imp := range imps {
			rel, internal := strings.CutPrefix(imp, module+"/")
			if internal && strings.HasPrefix(rel, "cmd/") {
				t.Errorf("%s imports %s: nothing imports a command", pkg, imp)
			}
			if internal && under(rel, testOnly...) && !under(pkg, testOnly...) {
				t.Errorf("%s imports %s, which only tests may use", pkg, rel)
			}
			if under(pkg, pure...) && slicesContains(effects, imp) {
				t.Errorf("%s imports %s: decision logic has no effects", pkg, imp)
			}
			for owner, allowed := range mayImport {
				if !under(pkg, owner) || !internal || under(rel, owner) {
					continue
				}
				if !under(rel, allowed...) {
					t.Errorf("%s imports %s: %s may import only %v", pkg, rel, owner, allowed)
				}
			}
		}
	}
}

func TestEveryPackageHasArrowRules(t *testing.T) {
	for pkg := range packageImports(t) {
		if pkg == "." {
			continue
		}
		covered := false
		for owner := range mayImport {
			covered = covered || under(pkg, owner)
		}
		if !covered {
			t.Errorf("package %s has no rule in mayImport: say which internal packages it may import", pkg)
		}
	}
}

func under(pkg string, roots ...string) bool {
	for _, r := range roots {
		if pkg == r || strings.HasPrefix(pkg, r+"/") {
			return true
		}
	}
	return false
}

func slicesContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// packageImports parses the non-test Go files of the module and returns each
// package directory's imports.
func packageImports(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "vendor" || strings.HasPrefix(d.Name(), ".")) && p != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(p))
		for _, imp := range f.Imports {
			s, _ := strconv.Unquote(imp.Path.Value)
			out[dir] = append(out[dir], s)
		}
		if _, ok := out[dir]; !ok {
			out[dir] = nil
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
