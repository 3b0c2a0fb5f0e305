package alertmanager

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lmn-heal/lmn/internal/record"
)

// FuzzDecode: no body makes Decode panic, and every alert it keeps is one
// lmn can act on safely: a known status, an alertname, label names a
// Prometheus would accept, valid UTF-8, and an issue record that encodes
// well under the stream's line limit.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"alertmanager-0.25-firing.json", "alertmanager-0.25-resolved.json", "grafana.json"} {
		f.Add(readFile(f, name))
	}
	for _, s := range []string{
		``, `{}`, `{"alerts":null}`, `{"alerts":[]}`, `{"alerts":[null]}`, `[]`, `{"alerts":[{}]}`,
		`{"alerts":[{"status":"firing","labels":{"alertname":"A"},"startsAt":"2026-11-26T10:00:00Z"}]}`,
		`{"alerts":[{"status":"resolved","labels":{"alertname":"A","unit":"*.service"},"startsAt":"2026-11-26T10:00:00+02:00","endsAt":"x"}]}`,
		`{"alerts":[{"status":"firing","labels":{"alertname":"\u0000"},"startsAt":"2026-11-26T10:00:00Z"}]}`,
		"{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"\xff\"},\"startsAt\":\"2026-11-26T10:00:00Z\"}]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Decode(body)
		if err != nil {
			if m != nil {
				t.Fatalf("error %v with a message", err)
			}
			return
		}
		for _, a := range m.Alerts {
			if a.Status != StatusFiring && a.Status != StatusResolved {
				t.Fatalf("status %q kept", a.Status)
			}
			if a.Labels["alertname"] == "" {
				t.Fatalf("alert without alertname kept: %v", a.Labels)
			}
			for k, v := range a.Labels {
				if !validLabelName(k) || !utf8.ValidString(v) {
					t.Fatalf("label %q=%q kept", k, v)
				}
			}
			is := Issue(a, "host", time.Unix(0, 0))
			b, err := json.Marshal(is)
			if err != nil {
				t.Fatalf("issue does not encode: %v", err)
			}
			if len(b) > 64<<10 {
				t.Fatalf("issue record of %d bytes", len(b))
			}
			var back record.Issue
			if err := json.Unmarshal(b, &back); err != nil || back.ID != is.ID || back.Rule != Rule {
				t.Fatalf("issue record does not read back: %v", err)
			}
		}
	})
}
