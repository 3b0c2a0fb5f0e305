package pid1

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// storePath matches a Nix store path in the rendered units and its name.
var storePath = regexp.MustCompile(`/nix/store/[0-9a-z]{32}-([^/ "']+)`)

// inContainer maps the store paths of testdata/module to where this Debian
// has them. lmn's binaries and the module's preStart script are installed
// under /usr/local by install; the rest is Debian's own. A path not listed
// fails the test: the module has grown a dependency to place here.
func inContainer(name string) (string, bool) {
	switch {
	case name == "lmn-eval":
		return "/usr/local", true
	case strings.HasPrefix(name, "unit-script-"):
		return "/usr/local/lib/lmn/" + name, true
	case name == "luminous-privd.json":
		return "/etc/luminous/privd.json", true
	}
	switch name {
	case "systemd", "nix", "jq", "getent", "coreutils":
		return "/usr", true
	}
	return "", false
}

// moduleFile reads testdata/module/NAME with its store paths mapped.
func moduleFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/module/" + name)
	if err != nil {
		t.Fatalf("%v (nix/check-eval.sh writes it with CHECK_EVAL_UPDATE=1)", err)
	}
	return storePath.ReplaceAllFunc(b, func(p []byte) []byte {
		pkg := string(storePath.FindSubmatch(p)[1])
		to, ok := inContainer(pkg)
		if !ok {
			t.Fatalf("testdata/module/%s: store path %s: not placed in the container (see inContainer)", name, p)
		}
		return []byte(to)
	})
}

// install puts lmn-privd, this test binary (the client) and the module's
// units into the container, creates the client user, runs the key
// generator and starts the socket, as NixOS's activation would. edit, if
// not nil, changes the module's lmn-privd config first.
func install(t *testing.T, m *machine, edit func(cfg map[string]any)) {
	t.Helper()
	copyIn(t, m, privdBin, "/usr/local/bin/lmn-privd")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copyIn(t, m, self, "/usr/local/bin/pid1.test")
	for _, u := range []string{"luminous-privd.service", "luminous-privd.socket", "luminous-keygen.service"} {
		m.writeFile(t, "/etc/systemd/system/"+u, moduleFile(t, u), 0o644)
	}
	// NixOS runs preStart as a script of its own with set -e.
	pre := append([]byte("#!/bin/bash\nset -e\n"), moduleFile(t, "luminous-privd-pre-start")...)
	m.writeFile(t, "/usr/local/lib/lmn/unit-script-luminous-privd-pre-start/bin/luminous-privd-pre-start", pre, 0o755)
	cfg := moduleFile(t, "luminous-privd.json")
	if edit != nil {
		var v map[string]any
		if err := json.Unmarshal(cfg, &v); err != nil {
			t.Fatal(err)
		}
		edit(v)
		cfg, _ = json.Marshal(v)
	}
	m.writeFile(t, "/etc/luminous/privd.json", cfg, 0o644)
	m.sh(t, "useradd --system --user-group --no-create-home --shell /usr/sbin/nologin luminous && "+
		"systemctl daemon-reload && systemctl start luminous-keygen.service luminous-privd.socket")
}

// copyIn copies a host file into the container, mode 0755.
func copyIn(t *testing.T, m *machine, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	m.writeFile(t, to, b, 0o755)
}

// request sends one request as the client user (the module's, luminous)
// through this test binary and returns the answer.
func request(t *testing.T, m *machine, act string, params ...string) answer {
	t.Helper()
	argv := append([]string{"setpriv", "--reuid=luminous", "--regid=luminous", "--clear-groups",
		"env", clientEnv + "=1", "/usr/local/bin/pid1.test", act}, params...)
	out, err := m.exec(context.Background(), nil, argv...)
	if err != nil {
		t.Fatalf("client %s %v: %v\n%s", act, params, err, out)
	}
	var a answer
	if err := json.Unmarshal(lastLine(out), &a); err != nil {
		t.Fatalf("client %s %v: %v\n%s", act, params, err, out)
	}
	return a
}

// ok fails t unless a is a success.
func ok(t *testing.T, a answer, what string) {
	t.Helper()
	if a.Error != "" {
		t.Fatalf("%s: %s", what, a.Error)
	}
}

func lastLine(s string) []byte {
	lines := bytes.Split(bytes.TrimSpace([]byte(s)), []byte("\n"))
	return lines[len(lines)-1]
}
