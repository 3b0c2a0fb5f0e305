package heal

import (
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// alertLine is an issue as lmn-detect writes it for an Alertmanager alert.
func alertLine(t testing.TB, ts time.Time, state string, labels map[string]string) record.Line {
	t.Helper()
	subject := map[string]string{"alertname": labels["alertname"]}
	if u := labels["unit"]; u != "" {
		subject["unit"] = u
	}
	is := record.Issue{
		Header: record.NewHeader(record.KindIssue, "lmn-detect", "h", ts),
		ID:     "am-" + labels["alertname"], Rule: "alertmanager", Subject: subject,
		State: state, Severity: record.SeverityCritical, Since: record.Time{Time: ts},
		Fingerprint: "956e152bb7f5d01a", Labels: labels,
	}
	return lineOfRecord(t, is, record.KindIssue)
}

// alertPolicy is the example ladder of docs/policy.md, over the defaults.
const alertPolicy = `{"extend": true, "ladders": [
 {"name": "nginx_down", "rules": ["alertmanager"],
  "match": {"alertname": "NginxDown", "unit": "nginx.service", "team": "web"},
  "steps": [{"actions": [{"action": "restart_unit", "params": {"unit": "{{unit}}"}}], "verify": "2m"}],
  "advice": "nginx keeps failing on {{instance}}: {{journalctl}} -u {{unit}}"}]}`

func TestAlertLadderMatchesLabels(t *testing.T) {
	p, err := ParsePolicy("policy.json", []byte(alertPolicy), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, p, false)
	labels := map[string]string{"alertname": "NginxDown", "unit": "nginx.service", "team": "web", "instance": "web1:9113"}
	h.observe(alertLine(t, t0, record.StateFiring, labels))
	h.want("1:restart_unit:started")
	if j := h.jobs[0]; j.Params["unit"] != "nginx.service" || j.Scope != "" {
		t.Fatalf("job %+v: want restart_unit nginx.service as a system unit", j)
	}
	if until, ok := h.e.Verifying("am-NginxDown"); ok || !until.IsZero() {
		t.Error("verifying before the action ended")
	}
	h.complete(ok)
	if until, ok := h.e.Verifying("am-NginxDown"); !ok || !until.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("Verifying = %v, %v; want the window to close at t0+2m", until, ok)
	}
	h.observe(alertLine(t, at(t, "30s"), record.StateResolved, labels))
	h.unitIs("active/running") // the unit's real state, read before recovered
	h.want("1:restart_unit:started 1:restart_unit:succeeded 1:restart_unit:verified:recovered")
	if _, ok := h.e.Verifying("am-NginxDown"); ok {
		t.Error("still verifying after the outcome")
	}
}

// TestAlertWithoutLadderAdvises: an alert no ladder of the user's matches
// (another team's nginx; another alert) ends in the built-in advice, and
// nothing runs.
func TestAlertWithoutLadderAdvises(t *testing.T) {
	p, err := ParsePolicy("policy.json", []byte(alertPolicy), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, labels := range []map[string]string{
		{"alertname": "NginxDown", "unit": "nginx.service", "team": "db"},
		{"alertname": "NginxDown", "unit": "nginx.service"},
		{"alertname": "DiskFull", "mount": "/var"},
	} {
		h := newHarness(t, p, false)
		h.observe(alertLine(t, t0, record.StateFiring, labels))
		h.want("1:advise:advised")
		if a := h.recs[0].Advice; !strings.Contains(a, labels["alertname"]+" (from Alertmanager)") || len(h.all) != 0 {
			t.Errorf("%v: advice %q, %d jobs", labels, a, len(h.all))
		}
	}
}

// TestLabelsNeverReplaceVars: a label of the same name as the subject, a
// fact or a name lmn computes is ignored; only names that are free are
// taken from labels.
func TestLabelsNeverReplaceVars(t *testing.T) {
	is := record.Issue{ID: "id1", Rule: "alertmanager", Subject: map[string]string{"alertname": "A", "unit": "a.service"},
		Labels: map[string]string{"alertname": "B", "unit": "evil.service", "rule": "unit_failed", "issue": "x",
			"systemctl": "rm -rf /", "top_memory_unit": "dbus.service", "holds_nix_store": "true", "job": "web"}}
	v := New(Config{Policy: DefaultPolicy()}).vars(is)
	want := map[string]string{"alertname": "A", "unit": "a.service", "rule": "alertmanager", "issue": "id1",
		"systemctl": "systemctl", "journalctl": "journalctl", "job": "web"}
	if len(v) != len(want) {
		t.Errorf("vars %v; want %v", v, want)
	}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("vars[%s] = %q; want %q", k, v[k], w)
		}
	}
}
