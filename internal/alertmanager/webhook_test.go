package alertmanager

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/detect"
	"github.com/lmn-heal/lmn/internal/record"
)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeAlertmanager decodes what Alertmanager 0.25 really posted
// (captured on this machine: testdata/alertmanager-0.25-*.json).
func TestDecodeAlertmanager(t *testing.T) {
	m, err := Decode(readFile(t, "alertmanager-0.25-firing.json"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != "4" || m.Receiver != "lmn" || m.Status != StatusFiring || len(m.Alerts) != 1 || len(m.Invalid) != 0 {
		t.Fatalf("message %+v", m)
	}
	a := m.Alerts[0]
	want := map[string]string{"alertname": "NginxDown", "instance": "web1:9113", "job": "nginx", "severity": "critical", "unit": "nginx.service"}
	if a.Status != StatusFiring || a.Fingerprint != "956e152bb7f5d01a" || !a.EndsAt.IsZero() ||
		a.StartsAt != time.Date(2026, 12, 4, 18, 53, 28, 0, time.UTC) || a.Annotations["summary"] != "nginx on web1 is down" || !sameMap(a.Labels, want) {
		t.Errorf("alert %+v", a)
	}
	m, err = Decode(readFile(t, "alertmanager-0.25-resolved.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r := m.Alerts[0]; r.Status != StatusResolved || r.EndsAt != time.Date(2026, 12, 4, 18, 53, 31, 0, time.UTC) || r.StartsAt != a.StartsAt {
		t.Errorf("resolved alert %+v", r)
	}
}

// TestDecodeGrafana decodes the shape Grafana's webhook contact point
// documents (Grafana cannot run here): version "1" and fields of its own,
// which are ignored.
func TestDecodeGrafana(t *testing.T) {
	m, err := Decode(readFile(t, "grafana.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Alerts) != 1 || len(m.Invalid) != 0 {
		t.Fatalf("message %+v", m)
	}
	a := m.Alerts[0]
	if a.Labels["mount"] != "/var" || a.StartsAt != time.Date(2026, 11, 26, 7, 51, 3, 157076000, time.UTC) {
		t.Errorf("alert %+v", a)
	}
}

func TestDecodeRefusesBodies(t *testing.T) {
	for body, want := range map[string]string{
		``:                              "not a JSON object",
		`[{"status":"firing"}]`:         "not a JSON object",
		`garbage`:                       "not a JSON object",
		`{"alerts": [`:                  "not valid JSON",
		`{"receiver": "x"}`:             "alerts: missing",
		`{"alerts": {"a": 1}}`:          "a JSON object",
		`{"alerts": [], "receiver": 3}`: "receiver: not a string",
		`{"alerts": [], "version": {}}`: "version: not a string",
		`{"alerts": []} {"alerts": []}`: "not valid JSON",
		strings.Repeat(" ", MaxBody+1):  "more than",
	} {
		_, err := Decode([]byte(body))
		if !errors.Is(err, ErrBody) || !strings.Contains(err.Error(), want) {
			t.Errorf("Decode(%.40q) = %v; want ErrBody saying %q", body, err, want)
		}
	}
}

// TestDecodeLeavesOutBadAlerts: each bad alert is named by its path and
// left out; the good ones around it are kept.
func TestDecodeLeavesOutBadAlerts(t *testing.T) {
	good := `{"status":"firing","labels":{"alertname":"A"},"startsAt":"2026-11-26T10:00:00Z"}`
	bad := map[string]string{
		`{"labels":{"alertname":"A"},"startsAt":"2026-11-26T10:00:00Z"}`:                                          "alerts[1].status: missing",
		`{"status":"pending","labels":{"alertname":"A"},"startsAt":"2026-11-26T10:00:00Z"}`:                       `alerts[1].status: "pending": want firing or resolved`,
		`{"status":"firing","labels":{},"startsAt":"2026-11-26T10:00:00Z"}`:                                       "alerts[1].labels.alertname: missing",
		`{"status":"firing","labels":{"alertname":"A","0x":"y"},"startsAt":"2026-11-26T10:00:00Z"}`:               `alerts[1].labels: "0x" is not a label name`,
		`{"status":"firing","labels":{"alertname":"A","n":3},"startsAt":"2026-11-26T10:00:00Z"}`:                  "alerts[1].labels.n: not a string",
		`{"status":"firing","labels":{"alertname":"A"},"annotations":{"s":[]},"startsAt":"2026-11-26T10:00:00Z"}`: "alerts[1].annotations.s: not a string",
		`{"status":"firing","labels":{"alertname":"A"}}`:                                                          "alerts[1].startsAt: missing",
		`{"status":"firing","labels":{"alertname":"A"},"startsAt":"yesterday"}`:                                   `alerts[1].startsAt: "yesterday" is not an RFC 3339 time`,
		`{"status":"firing","labels":{"alertname":"A"},"startsAt":"2026-11-26T10:00:00Z","endsAt":5}`:             "alerts[1]: endsAt",
		`"firing"`: "alerts[1]: a JSON string",
		`{"status":"firing","labels":{"alertname":"` + strings.Repeat("x", maxLabelBytes) + `"},"startsAt":"2026-11-26T10:00:00Z"}`: "alerts[1].labels: 16393 bytes, more than 16384",
	}
	for alert, want := range bad {
		m, err := Decode([]byte(`{"alerts":[` + good + "," + alert + "," + good + `]}`))
		if err != nil {
			t.Fatalf("%s: %v", alert, err)
		}
		if len(m.Alerts) != 2 || len(m.Invalid) != 1 || !strings.Contains(m.Invalid[0].Error(), want) {
			t.Errorf("%.60s: kept %d, invalid %v; want 2 kept and %q", alert, len(m.Alerts), m.Invalid, want)
		}
	}
}

func TestIssue(t *testing.T) {
	m, err := Decode(readFile(t, "alertmanager-0.25-firing.json"))
	if err != nil {
		t.Fatal(err)
	}
	a := m.Alerts[0]
	now := time.Date(2026, 12, 4, 18, 53, 29, 0, time.UTC)
	is := Issue(a, "web1", now)
	b, _ := json.Marshal(is)
	want := `{"kind":"issue","v":1,"ts":"2026-12-04T18:53:29.000000000Z","host":"web1","src":"lmn-detect",` +
		`"id":"` + detect.ID(Rule, a.Labels) + `","rule":"alertmanager","subject":{"alertname":"NginxDown","unit":"nginx.service"},` +
		`"state":"firing","severity":"critical","value":1,"threshold":1,"since":"2026-12-04T18:53:28.000000000Z",` +
		`"summary":"nginx on web1 is down","fingerprint":"956e152bb7f5d01a",` +
		`"labels":{"alertname":"NginxDown","instance":"web1:9113","job":"nginx","severity":"critical","unit":"nginx.service"}}`
	if string(b) != want {
		t.Errorf("issue\n%s\nwant\n%s", b, want)
	}
	a.Status = StatusResolved
	r := Issue(a, "web1", now)
	if r.ID != is.ID || r.State != record.StateResolved || r.Value != 0 || r.Summary != "resolved: nginx on web1 is down" {
		t.Errorf("resolved issue %+v", r)
	}
	a.Annotations = map[string]string{"description": "many\nlines  here"}
	a.Labels = map[string]string{"alertname": "X", "severity": "page"}
	if w := Issue(a, "h", now); w.Summary != "resolved: many lines here" || w.Severity != record.SeverityWarning {
		t.Errorf("issue %+v", w)
	}
	a.Annotations = map[string]string{"summary": strings.Repeat("é", maxSummary)}
	if w := Issue(a, "h", now); len(w.Summary) > maxSummary+len("resolved: …") || !strings.HasSuffix(w.Summary, "é…") {
		t.Errorf("long summary not cut on a rune: %d bytes, ends %q", len(w.Summary), w.Summary[len(w.Summary)-8:])
	}
}

func TestHostOther(t *testing.T) {
	h := Host{Names: []string{"web1"}, Addrs: nil}
	h.Addrs = append(h.Addrs, mustAddr(t, "10.0.0.5"), mustAddr(t, "fd00::5"))
	for labels, want := range map[string]string{
		"":                             "",
		"host=web1":                    "",
		"host=WEB1.example.com.":       "",
		"host=web2":                    "web2",
		"host=web2,instance=web1:9100": "web2", // host decides
		"instance=web1:9100":           "",
		"instance=web1.example.com":    "",
		"instance=web10:9100":          "web10",
		"instance=10.0.0.5:9100":       "",
		"instance=[fd00::5]:9100":      "",
		"instance=10.0.0.6:9100":       "10.0.0.6",
		"instance=127.0.0.1:9464":      "",
		"instance=[::1]:9464":          "",
		"instance=localhost:9464":      "",
		"job=node":                     "",
	} {
		l := map[string]string{}
		for _, kv := range strings.Split(labels, ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				l[k] = v
			}
		}
		got, other := h.Other(l)
		if got != want || other != (want != "") {
			t.Errorf("Other(%s) = %q, %v; want %q", labels, got, other, want)
		}
	}
	long := Host{Names: []string{"web1.example.com"}}
	if _, other := long.Other(map[string]string{"host": "web1"}); other {
		t.Error("web1 is web1.example.com's short name")
	}
	if _, other := long.Other(map[string]string{"host": "web1.other.org"}); !other {
		t.Error("web1.other.org is another machine than web1.example.com")
	}
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
