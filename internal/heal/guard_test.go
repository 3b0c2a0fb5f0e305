package heal

import (
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"

	"github.com/lmn-heal/lmn/internal/config"
)

func root(used float64) record.Mount {
	return record.Mount{Mount: "/", UsedRatio: used, InodesUsedRatio: 0.02, HoldsNixStore: true, HoldsVarLog: true}
}

// TestDestructiveNeedsAStrongSignal is the run that deleted NixOS
// generations: after ten minutes of history / went from 14.5% to 15.4%,
// lmn-detect fired "/ full in 5h 54m", and the nix_store_full ladder ran
// nix_gc at once. A destructive action now needs the disk nearly full and
// the issue held for a while; until then the ladder advises and says why,
// and it takes the step up when the signal becomes strong.
func TestDestructiveNeedsAStrongSignal(t *testing.T) {
	for _, dry := range []bool{false, true} {
		h := newHarness(t, nil, dry)
		h.observe(sampleLine(t, t0, root(0.154)))
		h.observe(issueLine(t, t0, "disk_fill_trend", record.StateFiring, record.SeverityWarning, map[string]string{"mount": "/"}))
		for m := 1; m <= 60; m++ { // an hour of a slowly filling disk
			h.observe(sampleLine(t, t0.Add(time.Duration(m)*time.Minute), root(0.154+float64(m)*0.001)))
		}
		h.want("3:advise:advised")
		if len(h.all) != 0 {
			t.Fatalf("dry=%v: a weak trend ran %+v", dry, h.all)
		}
		a := h.recs[0].Advice
		for _, want := range []string{"step 1 (nix_gc) held back: / is 15.4% full and destructive actions need 90%",
			"step 2 (journal_vacuum) held back"} {
			if !strings.Contains(a, want) {
				t.Errorf("dry=%v: advice %q lacks %q", dry, a, want)
			}
		}
		// Nearly full: the step is taken up with the next sample.
		h.observe(sampleLine(t, at(t, "61m"), root(0.93)))
		if dry {
			h.want("3:advise:advised 1:nix_gc:planned")
		} else {
			h.want("3:advise:advised 1:nix_gc:started")
		}
	}
}

// TestDestructiveWaitsForTheIssueToHold: a disk at 95% whose issue has
// just fired waits min_firing before anything is deleted.
func TestDestructiveWaitsForTheIssueToHold(t *testing.T) {
	h := newHarness(t, nil, false)
	h.observe(sampleLine(t, t0, root(0.95)))
	h.observe(issueLine(t, t0, "disk_usage", record.StateFiring, record.SeverityCritical, map[string]string{"mount": "/"}))
	if a := h.recs[0].Advice; !strings.Contains(a, "the issue has held for 0s and destructive actions need 10m0s") {
		t.Errorf("advice %q", a)
	}
	for _, d := range []string{"1m", "5m", "9m59s"} {
		h.observe(sampleLine(t, at(t, d), root(0.95)))
	}
	if len(h.all) != 0 {
		t.Fatalf("deleted before the issue held 10m: %+v", h.all)
	}
	h.observe(sampleLine(t, at(t, "10m"), root(0.95)))
	if len(h.jobs) != 1 || h.jobs[0].Action != "nix_gc" {
		t.Fatalf("jobs %+v, records %s", h.jobs, h.phases())
	}
}

// TestDestructiveNeedsAMount: a destructive action in a ladder for an
// issue that names no mount never runs.
func TestDestructiveNeedsAMount(t *testing.T) {
	p := DefaultPolicy()
	p.Ladders = append([]Ladder{{Name: "odd", Rules: []string{"cpu_pressure"},
		Steps:  []Step{{Actions: []Act{{Action: "journal_vacuum", Params: map[string]string{"size": "1G"}}}, Verify: config.Duration(time.Minute)}},
		Advice: "look"}}, p.Ladders...)
	h := newHarness(t, p, false)
	h.observe(issueLineSince(t, at(t, "1h"), t0, "cpu_pressure", record.SeverityCritical, map[string]string{}))
	h.want("2:advise:advised")
	if a := h.recs[0].Advice; !strings.Contains(a, "this issue names none") {
		t.Errorf("advice %q", a)
	}
}

// TestDefaultPolicyDestructiveActions: the built-in ladders that run a
// destructive action answer disk rules only.
func TestDefaultPolicyDestructiveActions(t *testing.T) {
	disk := map[string]bool{"disk_usage": true, "disk_fill_trend": true, "inode_usage": true, "nix_store_usage": true}
	for _, l := range DefaultPolicy().Ladders {
		for _, s := range l.Steps {
			if a := stepDestructive(s); a != "" {
				for _, r := range l.Rules {
					if !disk[r] {
						t.Errorf("ladder %s runs %s for %s, not a disk rule", l.Name, a, r)
					}
				}
			}
		}
	}
}
