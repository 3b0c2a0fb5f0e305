package heal

import (
	"strings"
	"testing"

	"github.com/lmn-heal/lmn/internal/record"
)

func genSubject(n, to string) map[string]string {
	s := map[string]string{"generation": n, "system": "/nix/store/" + n + "-nixos-system"}
	if to != "" {
		s["rollback_to"] = to
	}
	return s
}

var privd = Result{Tier: record.TierPrivd}

// A generation judged unhealthy is rolled back to the generation lmn-detect
// names, and the step that healed it says rolled_back.
func TestGenerationRolledBack(t *testing.T) {
	h := newHarness(t, nil, false)
	subj := genSubject("2", "1")
	h.observe(issueLine(t, at(t, "70s"), record.RuleGenerationUnhealthy, record.StateFiring, record.SeverityCritical, subj))
	if len(h.jobs) != 1 || h.jobs[0].Action != "switch_generation" || h.jobs[0].Params["generation"] != "1" {
		t.Fatalf("jobs %+v", h.jobs)
	}
	h.complete(privd)
	h.observe(issueLine(t, at(t, "80s"), record.RuleGenerationUnhealthy, record.StateResolved, record.SeverityCritical, subj))
	h.want("1:switch_generation:started 1:switch_generation:succeeded 1:switch_generation:verified:rolled_back")
	if len(h.jobs) != 0 {
		t.Errorf("a resolved issue lmn-heal tracked marks nothing: %+v", h.jobs)
	}
}

// With no generation to go back to, or when lmn-privd refuses (a rejected
// generation, a bound), the ladder ends in advice.
func TestGenerationNoRollback(t *testing.T) {
	h := newHarness(t, nil, false)
	h.observe(issueLine(t, at(t, "70s"), record.RuleGenerationUnhealthy, record.StateFiring, record.SeverityCritical, genSubject("1", "")))
	h.want("2:advise:advised")
	if a := h.recs[0].Advice; !strings.Contains(a, "no generation to roll back to") || !strings.Contains(a, "nixos-rebuild switch --rollback") {
		t.Errorf("advice %q", a)
	}
	h = newHarness(t, nil, false)
	h.observe(issueLine(t, at(t, "70s"), record.RuleGenerationUnhealthy, record.StateFiring, record.SeverityCritical, genSubject("3", "2")))
	h.complete(Result{Tier: record.TierPrivd, Err: "denied: automatic switch bound reached: a person decides"})
	h.want("1:switch_generation:started 1:switch_generation:failed 2:advise:advised")
}

// A change judged healthy (a resolved record of an issue that never
// fired) has lmn-privd mark the generation known good, once; not in a dry
// run, not while paused, not for a system that is no generation.
func TestGenerationMarkedGood(t *testing.T) {
	h := newHarness(t, nil, false)
	h.observe(issueLine(t, at(t, "65s"), record.RuleGenerationUnhealthy, record.StateResolved, record.SeverityCritical, genSubject("2", "1")))
	if len(h.jobs) != 1 || h.jobs[0].Action != "mark_generation_good" || h.jobs[0].Params["generation"] != "2" || !h.jobs[0].MarkGood {
		t.Fatalf("jobs %+v", h.jobs)
	}
	h.complete(privd)
	h.want("0:mark_generation_good:succeeded")
	if r := h.recs[0]; r.Tier != record.TierPrivd || r.Rule != record.RuleGenerationUnhealthy || r.Subject["generation"] != "2" {
		t.Errorf("record %+v", r)
	}

	h = newHarness(t, nil, false)
	h.observe(issueLine(t, at(t, "65s"), record.RuleGenerationUnhealthy, record.StateResolved, record.SeverityCritical, genSubject("2", "1")))
	h.complete(Result{Tier: record.TierAdvise, Advice: "run lmn-privd"})
	h.want("") // nothing to tell without lmn-privd

	h = newHarness(t, nil, true)
	h.observe(issueLine(t, at(t, "65s"), record.RuleGenerationUnhealthy, record.StateResolved, record.SeverityCritical, genSubject("2", "1")))
	h.want("0:mark_generation_good:planned")

	test := map[string]string{"system": "/nix/store/x-nixos-system"}
	h = newHarness(t, nil, false)
	h.observe(issueLine(t, at(t, "65s"), record.RuleGenerationUnhealthy, record.StateResolved, record.SeverityCritical, test))
	h.want("")
	if len(h.jobs) != 0 {
		t.Errorf("a test of a system outside the profile is marked: %+v", h.jobs)
	}
}
