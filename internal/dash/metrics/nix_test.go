package metrics

import (
	"os/exec"
	"strings"
	"testing"
)

// The generations lmn rejected are reported, one series each, beside the
// running and the booted system; promtool accepts them.
func TestNixRejectedGenerations(t *testing.T) {
	const sample = `{"kind":"sample","v":1,"ts":"2026-11-26T18:00:00Z","host":"h","src":"lmn-collect","seq":1,"interval_seconds":30,` +
		`"nix":{"system_generation":7,"generations":3,"current_system":"/nix/store/b-nixos-system","current_generation":6,` +
		`"booted_system":"/nix/store/a-nixos-system","reboot_pending":true,` +
		`"rejected":[{"generation":5,"store_path":"/nix/store/x-nixos-system"},{"generation":7,"store_path":"/nix/store/c-nixos-system"}]}}` + "\n"
	text := exposition(t, streamModel(t, strings.NewReader(sample)))
	fams, err := parseStrict(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	want := map[string]float64{
		`lmn_nix_current_generation`:   6,
		`lmn_nix_reboot_pending`:       1,
		`lmn_nix_rejected_generations`: 2,
		`lmn_nix_rejected_generation{generation="5",store_path="/nix/store/x-nixos-system"}`: 1,
		`lmn_nix_rejected_generation{generation="7",store_path="/nix/store/c-nixos-system"}`: 1,
	}
	for k, w := range want {
		var got float64
		found := false
		for _, f := range fams {
			if v, ok := f.series[k]; ok {
				got, found = v, true
			}
		}
		if !found || got != w {
			t.Errorf("%s = %v (present %v), want %v\n%s", k, got, found, w, text)
		}
	}
	if path, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(path, "check", "metrics")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	}
}
