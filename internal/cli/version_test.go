package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionFromBuildInfo(t *testing.T) {
	rev := "3f5a9a7d4d67a364634d2b40ab7606a346582ba4"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	for _, tc := range []struct {
		ldflags string
		bi      *debug.BuildInfo
		want    string
	}{
		{"1.4.0", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-x"}, Settings: vcs("true")}, "1.4.0"},
		{"dev", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{"dev", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261207230637-3f5a9a7d4d67+dirty"}, Settings: vcs("true")}, "v0.0.0-20261207230637-3f5a9a7d4d67+dirty"},
		{"dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("false")}, "dev-3f5a9a7d4d67"},
		{"", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("true")}, "dev-3f5a9a7d4d67-dirty"},
		{"dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
		{"dev", nil, "dev"},
	} {
		readBuildInfo = func() (*debug.BuildInfo, bool) { return tc.bi, tc.bi != nil }
		got := Version(tc.ldflags)
		var out bytes.Buffer
		fs := New("lmn-x", tc.ldflags, "", &out, &bytes.Buffer{})
		fs.Parse([]string{"--version"})
		if got != tc.want || out.String() != tc.want+"\n" {
			t.Errorf("Version(%q) with %+v = %q, --version %q; want %q", tc.ldflags, tc.bi, got, out.String(), tc.want)
		}
	}
	readBuildInfo = debug.ReadBuildInfo
}

// TestVersionOfBuiltBinary builds a small program from this module's
// checkout with the go command's default -buildvcs and checks that its
// version names the checkout's revision.
func TestVersionOfBuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds with the go command")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "lmn-detect")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "../../cmd/lmn-detect")
	build.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Skipf("go build -buildvcs=true: %v\n%s", err, out)
	}
	if m, err := exec.Command("go", "version", "-m", bin).Output(); err == nil {
		t.Logf("%s", m)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); !strings.Contains(got, string(head[:12])) {
		t.Errorf("--version %q, want the revision %s", got, head[:12])
	}
}
