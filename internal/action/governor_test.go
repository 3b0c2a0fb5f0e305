package action

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// sysTree builds a cpufreq tree with the given current governor per policy.
func sysTree(t *testing.T, cur map[string]string, avail string) string {
	t.Helper()
	root := t.TempDir()
	for pol, gov := range cur {
		dir := filepath.Join(root, "devices/system/cpu/cpufreq", pol)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "scaling_governor"), []byte(gov+"\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "scaling_available_governors"), []byte(avail+"\n"), 0o644)
	}
	return root
}

func governors(t *testing.T, root string, pols ...string) []string {
	var out []string
	for _, p := range pols {
		s, err := readSmall(filepath.Join(root, "devices/system/cpu/cpufreq", p, "scaling_governor"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestSetGovernorAndRestore(t *testing.T) {
	root := sysTree(t, map[string]string{"policy0": "schedutil", "policy4": "performance"}, "performance powersave schedutil")
	env := Env{SysRoot: root}
	req := Request{Action: "set_cpu_governor", Params: map[string]string{"governor": "powersave"}}
	res, err := Run(context.Background(), env, req)
	if err != nil {
		t.Fatal(err)
	}
	if g := governors(t, root, "policy0", "policy4"); g[0] != "powersave" || g[1] != "powersave" {
		t.Errorf("after set: %v", g)
	}
	if res.Restore["policy0"] != "schedutil" || res.Restore["policy4"] != "performance" || len(res.Restore) != 2 {
		t.Errorf("Restore = %v", res.Restore)
	}
	back, ok := RestoreRequest(req, res)
	if !ok || back.Params["policy"] != "policy0:schedutil,policy4:performance" {
		t.Fatalf("RestoreRequest = %v %v", back, ok)
	}
	if _, err := Run(context.Background(), env, back); err != nil {
		t.Fatal(err)
	}
	if g := governors(t, root, "policy0", "policy4"); g[0] != "schedutil" || g[1] != "performance" {
		t.Errorf("after restore: %v", g)
	}
}

func TestSetGovernorRefusesUnlisted(t *testing.T) {
	root := sysTree(t, map[string]string{"policy0": "schedutil"}, "performance schedutil")
	env := Env{SysRoot: root}
	for _, p := range []map[string]string{
		{"governor": "powersave"},
		{"governor": "perf"},
		{"governor": "../x"},
		{"policy": "policy9:performance"},
		{"policy": "policy0:performance,policy0:schedutil"},
		{"governor": "performance", "policy": "policy0:performance"},
		{},
	} {
		_, err := Run(context.Background(), env, Request{Action: "set_cpu_governor", Params: p})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%v: %v, want ErrInvalid", p, err)
		}
	}
	if g := governors(t, root, "policy0"); g[0] != "schedutil" {
		t.Errorf("governor changed to %v", g)
	}
}

func FuzzParsePolicies(f *testing.F) {
	for _, s := range []string{"policy0:schedutil", "policy0:a,policy1:b", "", ",", "policy0:", ":x", "policy0:a,policy0:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parsePolicies(s)
		if err != nil {
			return
		}
		for pol, gov := range m {
			if !policyRE.MatchString(pol) || checkGovernor(gov) != nil {
				t.Fatalf("accepted %q:%q from %q", pol, gov, s)
			}
		}
	})
}
