package collect

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// nixReader reads the NixOS system profile under a nix root ("/nix").
// The count of generations is cached while the profiles directory's
// modification time stays the same, so it is not listed every tick.
type nixReader struct {
	root    string
	dirTime time.Time
	count   int
}

// nixGroup is the nix group: present when <nix-root>/var/nix/profiles/system
// is a link "system-N-link" (a NixOS machine); absent otherwise, including
// machines that have /nix for the package manager alone.
func (c *Collector) nixGroup() *record.Nix {
	if c.nix.root == "" {
		return nil
	}
	dir := filepath.Join(c.nix.root, "var", "nix", "profiles")
	target, err := os.Readlink(filepath.Join(dir, "system"))
	if err != nil {
		return nil
	}
	gen, ok := parseGeneration(filepath.Base(target))
	if !ok {
		c.warn.problem("nix", &os.PathError{Op: "parse generation", Path: filepath.Join(dir, "system"), Err: os.ErrInvalid})
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil
	}
	if !fi.ModTime().Equal(c.nix.dirTime) {
		n, err := countGenerations(dir)
		if !c.warn.check("nix", err) {
			return nil
		}
		c.nix.count, c.nix.dirTime = n, fi.ModTime()
	}
	c.warn.fine("nix")
	g := &c.g.nix
	*g = record.Nix{SystemGeneration: gen, Generations: c.nix.count}
	return g
}

func countGenerations(dir string) (int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if _, ok := parseGeneration(e.Name()); ok {
			n++
		}
	}
	return n, nil
}

// parseGeneration parses "system-42-link" as 42.
func parseGeneration(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, "system-")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "-link")
	if !ok || len(s) == 0 || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}
