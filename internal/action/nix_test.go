package action

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// nixStore is a real Nix store of its own (a chroot store under a
// temporary root, so the host's /nix is never touched) holding a system
// profile with one generation per name.
type nixStore struct {
	root    string
	profile string
	run     string // holds booted-system and current-system
	paths   []string
	env     Env
}

func newNixStore(t *testing.T, gens int) *nixStore {
	t.Helper()
	for _, tool := range []string{"nix-env", "nix-store"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (Debian's nix-bin): %v", tool, err)
		}
	}
	dir := t.TempDir()
	s := &nixStore{root: filepath.Join(dir, "root"), run: filepath.Join(dir, "run")}
	s.profile = filepath.Join(s.root, "nix/var/nix/profiles/system")
	if err := os.MkdirAll(s.run, 0o755); err != nil {
		t.Fatal(err)
	}
	s.env = Env{NixEnv: []string{"nix-env", "--store", s.root}, NixStore: []string{"nix-store", "--store", s.root},
		NixProfile: s.profile, RunRoot: s.run, ExtraEnv: []string{"NIX_REMOTE="}}
	for i := 1; i <= gens; i++ {
		f := filepath.Join(dir, "system-"+strconv.Itoa(i))
		if err := os.WriteFile(f, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
		out := s.nix(t, "nix-store", "--store", s.root, "--add", f)
		path := lastLine(out)
		if !strings.HasPrefix(path, "/nix/store/") {
			t.Skipf("nix-store --add in a chroot store gave %q", out)
		}
		s.nix(t, "nix-env", "--store", s.root, "--profile", s.profile, "--set", path)
		s.paths = append(s.paths, path)
	}
	return s
}

func (s *nixStore) nix(t *testing.T, argv ...string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "NIX_REMOTE=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("%s: %v: %s (a chroot Nix store does not work here)", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// age sets the mtime of generation n's link to d ago.
func (s *nixStore) age(t *testing.T, n int, d time.Duration) {
	t.Helper()
	link := filepath.Join(filepath.Dir(s.profile), "system-"+strconv.Itoa(n)+"-link")
	at := unix.NsecToTimespec(time.Now().Add(-d).UnixNano())
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, link, []unix.Timespec{at, at}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatal(err)
	}
}

// link points name in the run directory at generation n's store path.
func (s *nixStore) link(t *testing.T, name string, n int) {
	t.Helper()
	if err := os.Symlink(s.paths[n-1], filepath.Join(s.run, name)); err != nil {
		t.Fatal(err)
	}
}

func (s *nixStore) inStore(path string) bool {
	_, err := os.Lstat(filepath.Join(s.root, path))
	return err == nil
}

// TestNixGCKeepsWhatARollbackNeeds runs nix_gc on a real store: eight
// generations, all a month old; the machine booted generation 2, runs 7
// and boots 8 next (nixos-rebuild boot). older_than=1d alone would delete
// seven of them; nix_gc keeps the booted, running, current and rollback
// generations and the newest keep=2, and deletes only the rest, store
// paths included.
func TestNixGCKeepsWhatARollbackNeeds(t *testing.T) {
	s := newNixStore(t, 8)
	for n := 1; n <= 8; n++ {
		s.age(t, n, 30*24*time.Hour)
	}
	s.link(t, "booted-system", 2)
	s.link(t, "current-system", 7)
	params := map[string]string{"older_than": "1d", "keep": "2"}
	plan, err := planNixGC(s.env.withDefaults(), params, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.kept(); got != "2 (booted), 7 (running, rollback, newest 2), 8 (current, newest 2)" {
		t.Errorf("kept %s", got)
	}
	res, err := Run(context.Background(), s.env, Request{Action: "nix_gc", Params: params})
	if err != nil {
		t.Fatalf("nix_gc: %v (%s)", err, res.Output)
	}
	if !strings.Contains(res.Output, "deleted generations [1 3 4 5 6]") {
		t.Errorf("output %q", res.Output)
	}
	gens, current, err := listGenerations(s.profile)
	if err != nil {
		t.Fatal(err)
	}
	var left []int
	for _, g := range gens {
		left = append(left, g.N)
	}
	if current != 8 || len(left) != 3 || left[0] != 2 || left[1] != 7 || left[2] != 8 {
		t.Errorf("generations left %v, current %d; want [2 7 8], 8", left, current)
	}
	for i, p := range s.paths {
		want := i+1 == 2 || i+1 >= 7
		if got := s.inStore(p); got != want {
			t.Errorf("generation %d's store path present = %v, want %v", i+1, got, want)
		}
	}
}

// TestNixGCKeepsYoungGenerations: older_than still holds; a generation
// younger than it is kept even past keep=.
func TestNixGCKeepsYoungGenerations(t *testing.T) {
	s := newNixStore(t, 4)
	s.age(t, 1, 30*24*time.Hour)
	plan, err := planNixGC(s.env.withDefaults(), map[string]string{"older_than": "14d", "keep": "1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Delete) != 1 || plan.Delete[0] != 1 {
		t.Errorf("plan deletes %v, want [1]; kept %s", plan.Delete, plan.kept())
	}
	if cmd := nixGCCommand(s.env.withDefaults(), map[string]string{"older_than": "14d", "keep": "1"}); !strings.Contains(cmd, "--delete-generations 1 &&") {
		t.Errorf("command %q", cmd)
	}
}

// TestNixGCRefusesAnUnknownProfile: a profile that does not point at a
// generation deletes nothing.
func TestNixGCRefusesAnUnknownProfile(t *testing.T) {
	dir := t.TempDir()
	profile := filepath.Join(dir, "system")
	if err := os.Symlink("/nix/store/x-not-a-generation", profile); err != nil {
		t.Fatal(err)
	}
	for _, env := range []Env{{NixProfile: filepath.Join(dir, "missing")}, {NixProfile: profile}} {
		if _, err := planNixGC(env.withDefaults(), nil, time.Now()); err == nil {
			t.Errorf("%s: planned a GC", env.NixProfile)
		}
	}
}

func TestNixToolsBesideNixGC(t *testing.T) {
	e, s := nixTools(Env{NixGC: []string{"/nix/store/x-nix/bin/nix-collect-garbage"}})
	if e[0] != "/nix/store/x-nix/bin/nix-env" || s[0] != "/nix/store/x-nix/bin/nix-store" {
		t.Errorf("nixTools = %v %v", e, s)
	}
	e, s = nixTools(Env{NixGC: []string{"nix-collect-garbage"}})
	if e[0] != "nix-env" || s[0] != "nix-store" {
		t.Errorf("nixTools = %v %v", e, s)
	}
}
