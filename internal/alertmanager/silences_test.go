package alertmanager_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/alertmanager"
	"github.com/lmn-heal/lmn/internal/alertmanager/amtest"
)

func boolp(b bool) *bool { return &b }

func TestMaintenance(t *testing.T) {
	b, err := os.ReadFile("testdata/alertmanager-0.25-silences.json")
	if err != nil {
		t.Fatal(err)
	}
	var real []alertmanager.Silence
	if err := json.Unmarshal(b, &real); err != nil {
		t.Fatal(err)
	}
	web1 := alertmanager.Host{Names: []string{"web1"}}
	web2 := alertmanager.Host{Names: []string{"web2"}}
	if len(real) != 1 || !real[0].Maintenance(web1) || real[0].Maintenance(web2) {
		t.Fatalf("the real silence lmn=maintenance, host=web1 (%v) must hold web1 only", real)
	}
	active := real[0].Status
	m := func(name, value string, regex bool, equal *bool) alertmanager.Matcher {
		return alertmanager.Matcher{Name: name, Value: value, IsRegex: regex, IsEqual: equal}
	}
	mark := m("lmn", "maintenance", false, nil)
	for _, c := range []struct {
		what     string
		matchers []alertmanager.Matcher
		want     bool
	}{
		{"the whole fleet", []alertmanager.Matcher{mark}, true},
		{"not marked", []alertmanager.Matcher{m("host", "web1", false, nil)}, false},
		{"marked by a regex", []alertmanager.Matcher{m("lmn", "maint.*", true, nil)}, true},
		{"marked otherwise", []alertmanager.Matcher{m("lmn", "other", false, nil)}, false},
		{"instance with a port", []alertmanager.Matcher{mark, m("instance", "web1:9100", false, nil)}, true},
		{"instance of another host", []alertmanager.Matcher{mark, m("instance", "web2:9100", false, nil)}, false},
		{"host regex", []alertmanager.Matcher{mark, m("host", "web[0-9]+", true, nil)}, true},
		{"host not web2", []alertmanager.Matcher{mark, m("host", "web2", false, boolp(false))}, true},
		{"host not web1", []alertmanager.Matcher{mark, m("host", "web1", false, boolp(false))}, false},
		{"about one alert", []alertmanager.Matcher{mark, m("alertname", "NginxDown", false, nil)}, false},
	} {
		s := alertmanager.Silence{Status: active, Matchers: c.matchers}
		if got := s.Maintenance(web1); got != c.want {
			t.Errorf("%s: Maintenance = %v; want %v", c.what, got, c.want)
		}
	}
	expired := alertmanager.Silence{Matchers: []alertmanager.Matcher{mark}}
	if expired.Maintenance(web1) {
		t.Error("a silence that is not active holds nothing")
	}
}

// TestClient talks to a real Alertmanager: a maintenance silence is found
// for its host only, the silence lmn-heal posts for an alert is listed and
// expired, and Firing follows the alert.
func TestClient(t *testing.T) {
	am := amtest.Start(t, amtest.Options{Config: "route:\n  receiver: none\nreceivers:\n- name: none\n"})
	c, err := alertmanager.NewClient(am.URL, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	web1, web2 := alertmanager.Host{Names: []string{"web1"}}, alertmanager.Host{Names: []string{"web2"}}
	if s, err := c.Maintenance(ctx, web1); err != nil || s != nil {
		t.Fatalf("no silence yet: %v, %v", s, err)
	}
	id := am.Silence(t, time.Hour, "kernel upgrade", "lmn=maintenance", "host=web1")
	s, err := c.Maintenance(ctx, web1)
	if err != nil || s == nil || s.ID != id || s.Comment != "kernel upgrade" {
		t.Fatalf("maintenance for web1: %v, %v; want silence %s", s, err, id)
	}
	if s, err := c.Maintenance(ctx, web2); err != nil || s != nil {
		t.Errorf("maintenance for web2: %v, %v; want none", s, err)
	}

	labels := map[string]string{"alertname": "NginxDown", "instance": "web1:9113", "unit": "nginx.service"}
	now := time.Now().UTC()
	am.Post(t, "/api/v2/alerts", `[{"labels":{"alertname":"NginxDown","instance":"web1:9113","unit":"nginx.service"},"startsAt":"`+now.Format(time.RFC3339)+`"}]`)
	if ok, err := c.Firing(ctx, labels); err != nil || !ok {
		t.Errorf("Firing after the alert was posted: %v, %v", ok, err)
	}
	sid, err := c.Post(ctx, alertmanager.Silence{Matchers: alertmanager.AlertExactly(labels),
		StartsAt: now, EndsAt: now.Add(time.Minute), CreatedBy: "lmn-heal", Comment: "healing"})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := c.Firing(ctx, labels); err != nil || !ok {
		t.Errorf("Firing while silenced: %v, %v; a silenced alert still fires", ok, err)
	}
	if err := c.Expire(ctx, sid); err != nil {
		t.Fatal(err)
	}
	all, err := c.Silences(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if s.ID == sid && s.Active() {
			t.Errorf("silence %s still active after Expire", sid)
		}
	}
	if err := c.Expire(ctx, "no-such-silence"); err == nil {
		t.Error("expiring an unknown silence is an error")
	}
	am.Post(t, "/api/v2/alerts", `[{"labels":{"alertname":"NginxDown","instance":"web1:9113","unit":"nginx.service"},"startsAt":"`+now.Format(time.RFC3339)+`","endsAt":"`+time.Now().UTC().Format(time.RFC3339Nano)+`"}]`)
	if ok, err := c.Firing(ctx, labels); err != nil || ok {
		t.Errorf("Firing after the alert resolved: %v, %v", ok, err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nothing listens there now
	down, _ := alertmanager.NewClient("http://"+closed, time.Second)
	if _, err := down.Silences(ctx); err == nil {
		t.Error("an unreachable Alertmanager is an error")
	}
	if _, err := alertmanager.NewClient("ftp://x", time.Second); err == nil {
		t.Error("a URL that is not http is refused")
	}
}
