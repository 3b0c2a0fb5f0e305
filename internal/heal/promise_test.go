package heal

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
)

// TestWrittenPromise holds the default policy to what docs/policy.md
// ("Destructive actions") and the README promise: which actions are
// destructive (the catalogue's word, said once), the signal each needs,
// and what is never touched.
func TestWrittenPromise(t *testing.T) {
	var catalogue []string
	for _, s := range action.Specs() {
		if s.Destructive {
			catalogue = append(catalogue, s.Name)
		}
	}
	if len(catalogue) == 0 {
		t.Fatal("the catalogue names no destructive action")
	}
	policyDoc := readDoc(t, "../../docs/policy.md")
	readme := readDoc(t, "../../README.md")
	section := policyDoc[strings.Index(policyDoc, "## Destructive actions"):]
	section = section[:strings.Index(section[3:], "\n## ")+3]
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(section, -1) {
		documented = append(documented, m[1])
	}
	slices.Sort(documented)
	if !slices.Equal(documented, catalogue) {
		t.Errorf("docs/policy.md lists %v as destructive, the catalogue %v", documented, catalogue)
	}
	for _, name := range catalogue {
		if !strings.Contains(readme, "`"+name+"`") {
			t.Errorf("the README does not name destructive action %s", name)
		}
	}
	d := DefaultPolicy().Destructive
	if d.MinUsedRatio != 0.9 || d.MinFiring.D() != 10*time.Minute {
		t.Fatalf("the default signal changed (%v, %v): update docs/policy.md and the README, then this test", d.MinUsedRatio, d.MinFiring)
	}
	for doc, wants := range map[string][]string{
		"docs/policy.md": {"default 90 %", "default 10 min", "the current generation, the booted one", "the newest `keep` (default 5)", "a journal within `keep` (default 256M)"},
		"README.md":      {"at least 90 % full", "held for 10 minutes", "never on a\ntrend alone", "the newest 5", "at least 256M", "never kills a process, drops caches or deletes your\nfiles"},
	} {
		text := policyDoc
		if doc == "README.md" {
			text = readme
		}
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s no longer says %q", doc, w)
			}
		}
	}
	// What is never touched: no built-in ladder kills or drops caches.
	for _, l := range DefaultPolicy().Ladders {
		for _, s := range l.Steps {
			for _, a := range s.Actions {
				if a.Action == "kill_process" || a.Action == "drop_caches" {
					t.Errorf("ladder %s runs %s by default", l.Name, a.Action)
				}
			}
		}
	}
}

func readDoc(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
