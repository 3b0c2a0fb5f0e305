package collect

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/generations"
	"github.com/lmn-heal/lmn/internal/record"
)

// nixReader reads the NixOS system profile under a nix root ("/nix"), what
// runs and booted under a run root ("/run"), and lmn-privd's record of
// generations. The profile's links (number → store path) are cached while
// the profiles directory's modification time stays the same, and the
// record while its file's does, so neither is read every tick.
type nixReader struct {
	root, run, record string

	dirTime time.Time
	links   map[int]string // generation → store path
	newest  map[string]int // store path → the newest generation pointing at it

	recTime time.Time
	recSize int64
	rec     generations.Record
}

// nixGroup is the nix group: present when <nix-root>/var/nix/profiles/system
// is a link "system-N-link" (a NixOS machine); absent otherwise, including
// machines that have /nix for the package manager alone.
func (c *Collector) nixGroup() *record.Nix {
	r := &c.nix
	if r.root == "" {
		return nil
	}
	dir := filepath.Join(r.root, "var", "nix", "profiles")
	profile := filepath.Join(dir, "system")
	target, err := os.Readlink(profile)
	if err != nil {
		return nil
	}
	gen := generations.Number(filepath.Base(target), "system")
	if gen == 0 {
		c.warn.problem("nix", &os.PathError{Op: "parse generation", Path: profile, Err: os.ErrInvalid})
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil
	}
	if !fi.ModTime().Equal(r.dirTime) || r.links == nil {
		if !c.warn.check("nix", r.readLinks(dir)) {
			return nil
		}
		r.dirTime = fi.ModTime()
	}
	g := &c.g.nix
	*g = record.Nix{SystemGeneration: gen, Generations: len(r.links), System: r.links[gen]}
	if r.run != "" {
		g.CurrentSystem = target0(filepath.Join(r.run, "current-system"))
		g.BootedSystem = target0(filepath.Join(r.run, "booted-system"))
		g.CurrentGeneration = r.newest[g.CurrentSystem]
		g.RebootPending = r.rebootPending(g.CurrentSystem, g.BootedSystem)
	}
	if !c.warn.check("nix record", r.readRecord(g)) {
		g.KnownGood, g.Rejected = nil, nil
	}
	c.warn.fine("nix")
	return g
}

// readLinks lists the profile's generation links.
func (r *nixReader) readLinks(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	links, newest := map[int]string{}, map[string]int{}
	for _, e := range ents {
		n := generations.Number(e.Name(), "system")
		if n == 0 {
			continue
		}
		p := target0(filepath.Join(dir, e.Name()))
		if p == "" {
			continue // removed meanwhile, or not a link: not a generation
		}
		links[n] = p
		if newest[p] < n {
			newest[p] = n
		}
	}
	r.links, r.newest = links, newest
	return nil
}

// rebootPending reports whether the booted system's kernel differs from
// the running one's; false when either is unknown.
func (r *nixReader) rebootPending(current, booted string) bool {
	if current == "" || booted == "" || current == booted {
		return false
	}
	a, b := target0(r.inRoot(filepath.Join(current, "kernel"))), target0(r.inRoot(filepath.Join(booted, "kernel")))
	return a != "" && b != "" && a != b
}

// readRecord fills the record's part of g, reading the file again only
// when it changed. A missing file is no record.
func (r *nixReader) readRecord(g *record.Nix) error {
	if r.record == "" {
		return nil
	}
	fi, err := os.Stat(r.record)
	if errors.Is(err, os.ErrNotExist) {
		r.rec, r.recTime = generations.Record{}, time.Time{}
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.ModTime().Equal(r.recTime) || fi.Size() != r.recSize {
		rec, err := generations.Load(r.record)
		if err != nil {
			return err
		}
		r.rec, r.recTime, r.recSize = rec, fi.ModTime(), fi.Size()
	}
	if k := r.rec.KnownGood; k != nil {
		g.KnownGood = &record.NixSystem{Generation: k.Generation, StorePath: k.StorePath}
	}
	g.Rejected = g.Rejected[:0]
	for _, e := range r.rec.Rejected {
		g.Rejected = append(g.Rejected, record.NixSystem{Generation: e.Generation, StorePath: e.StorePath})
	}
	return nil
}

// inRoot is where path p, as the machine names it (/nix/store/…), is read
// under this reader's nix root: a fixture tree's links name the real
// store.
func (r *nixReader) inRoot(p string) string {
	if r.root == "/nix" || strings.HasPrefix(p, r.root+"/") {
		return p
	}
	if rest, ok := strings.CutPrefix(p, "/nix/"); ok {
		return filepath.Join(r.root, rest)
	}
	return p
}

// target0 is where link points, made absolute and clean; "" when it is
// not a link.
func target0(link string) string {
	t, err := os.Readlink(link)
	if err != nil {
		return ""
	}
	if !filepath.IsAbs(t) {
		t = filepath.Join(filepath.Dir(link), t)
	}
	return filepath.Clean(t)
}
