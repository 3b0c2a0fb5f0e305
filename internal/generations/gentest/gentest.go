// Package gentest builds fake Nix roots for tests: a system profile with
// generation links, each pointing at a "store path" whose
// bin/switch-to-configuration is a shell script, and a run directory with
// current-system and booted-system. Nix itself is not needed: these are the
// files lmn reads and the one symlink it changes, laid out as NixOS lays
// them out. Only tests use it.
package gentest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Root is a fake machine: Nix is the --nix-root (holding var/nix/profiles
// and store), Run the run directory (/run).
type Root struct {
	Dir, Nix, Run string
	// Profile is Nix/var/nix/profiles/system.
	Profile string
	// Log is the file every activation appends "N ACTION" to.
	Log string
}

// New makes an empty fake root in a temporary directory.
func New(t testing.TB) *Root {
	t.Helper()
	dir := t.TempDir()
	r := &Root{Dir: dir, Nix: filepath.Join(dir, "nix"), Run: filepath.Join(dir, "run"), Log: filepath.Join(dir, "activations")}
	r.Profile = filepath.Join(r.Nix, "var", "nix", "profiles", "system")
	for _, d := range []string{filepath.Dir(r.Profile), filepath.Join(r.Nix, "store"), r.Run} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// StorePath is the store path of generation n.
func (r *Root) StorePath(n int) string {
	return filepath.Join(r.Nix, "store", strconv.Itoa(n)+"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-fake-"+strconv.Itoa(n))
}

// Add adds generation n. Its switch-to-configuration does what a real one
// does to the run directory (for "switch" and "test" it points
// current-system at its store path), appends "N ACTION" to Log, then runs
// body (sh; "$1" is the action); its exit status is body's.
func (r *Root) Add(t testing.TB, n int, body string) string {
	t.Helper()
	store := r.StorePath(n)
	if err := os.MkdirAll(filepath.Join(store, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nset -e\n" +
		"case \"$1\" in switch|test) ln -sfn " + quote(store) + " " + quote(filepath.Join(r.Run, "current-system")) + ";; esac\n" +
		"echo \"" + strconv.Itoa(n) + " $1\" >> " + quote(r.Log) + "\n" + body + "\n"
	if err := os.WriteFile(filepath.Join(store, "bin", "switch-to-configuration"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(store, r.link(n)); err != nil {
		t.Fatal(err)
	}
	return store
}

func (r *Root) link(n int) string { return r.Profile + "-" + strconv.Itoa(n) + "-link" }

// SetProfile points the profile at generation n (nix-env --set).
func (r *Root) SetProfile(t testing.TB, n int) {
	t.Helper()
	r.relink(t, r.Profile, filepath.Base(r.link(n)))
}

// SetRunning points current-system at generation n's store path.
func (r *Root) SetRunning(t testing.TB, n int) {
	t.Helper()
	r.relink(t, filepath.Join(r.Run, "current-system"), r.StorePath(n))
}

// SetBooted points booted-system at generation n's store path.
func (r *Root) SetBooted(t testing.TB, n int) {
	t.Helper()
	r.relink(t, filepath.Join(r.Run, "booted-system"), r.StorePath(n))
}

func (r *Root) relink(t testing.TB, link, target string) {
	t.Helper()
	os.Remove(link)
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// Activations are the lines the activations wrote, in order.
func (r *Root) Activations(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(r.Log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(b)), " ", "_"))
}

// ProfileTarget is what the profile link says ("system-2-link").
func (r *Root) ProfileTarget(t testing.TB) string {
	t.Helper()
	s, err := os.Readlink(r.Profile)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// SystemdRun writes a stand-in for systemd-run, for tests without a
// service manager: it logs its arguments to Dir/systemd-run.argv, one call
// a line, and runs the command after "--" itself (the real one hands it to
// the manager as a transient unit; internal/systemd/sdtest runs that).
func (r *Root) SystemdRun(t testing.TB) []string {
	t.Helper()
	run := filepath.Join(r.Dir, "systemd-run")
	script := "#!/bin/sh\necho \"$@\" >> " + quote(filepath.Join(r.Dir, "systemd-run.argv")) +
		"\nwhile [ \"$1\" != -- ]; do shift; done\nshift\nexec \"$@\"\n"
	if err := os.WriteFile(run, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{run}
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
