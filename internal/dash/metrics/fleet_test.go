package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/dash"
)

// fleetStream is what a fleet alerts on: lmn-heal's start record naming
// its actions and tiers, a unit restarted and recovered after 40 s, a disk
// issue that lmn-heal gave up on, and a third issue still firing.
const fleetStream = `{"kind":"start","v":1,"ts":"2026-11-26T18:00:00Z","host":"web1","src":"lmn-heal","version":"dev","settings":{"actions":["nix_gc","restart_unit"],"tiers":["unprivileged","privd","advise"]}}
{"kind":"sample","v":1,"ts":"2026-11-26T18:00:05Z","host":"web1","src":"lmn-collect","seq":1}
{"kind":"sample","v":1,"ts":"2026-11-26T18:00:10Z","host":"web1","src":"lmn-collect","seq":2}
{"kind":"issue","v":1,"ts":"2026-11-26T18:00:10Z","host":"web1","src":"lmn-detect","id":"u1","rule":"alertmanager","subject":{"alertname":"NginxDown","unit":"nginx.service"},"state":"firing","severity":"critical","since":"2026-11-26T18:00:00Z"}
{"kind":"heal","v":1,"ts":"2026-11-26T18:00:10Z","host":"web1","src":"lmn-heal","issue":"u1","action":"restart_unit","step":1,"phase":"started","attempt":1}
{"kind":"heal","v":1,"ts":"2026-11-26T18:00:11Z","host":"web1","src":"lmn-heal","issue":"u1","action":"restart_unit","step":1,"phase":"succeeded","tier":"privd","attempt":1,"duration_ms":820}
{"kind":"issue","v":1,"ts":"2026-11-26T18:00:30Z","host":"web1","src":"lmn-detect","id":"u1","rule":"alertmanager","subject":{"alertname":"NginxDown","unit":"nginx.service"},"state":"firing","severity":"critical","since":"2026-11-26T18:00:00Z"}
{"kind":"issue","v":1,"ts":"2026-11-26T18:00:50Z","host":"web1","src":"lmn-detect","id":"u1","rule":"alertmanager","subject":{"alertname":"NginxDown","unit":"nginx.service"},"state":"resolved","severity":"critical","since":"2026-11-26T18:00:00Z"}
{"kind":"heal","v":1,"ts":"2026-11-26T18:00:50Z","host":"web1","src":"lmn-heal","issue":"u1","action":"restart_unit","step":1,"phase":"verified","outcome":"recovered"}
{"kind":"issue","v":1,"ts":"2026-11-26T18:01:00Z","host":"web1","src":"lmn-detect","id":"d1","rule":"disk_usage","subject":{"mount":"/"},"state":"firing","severity":"warning","since":"2026-11-26T18:00:00Z"}
{"kind":"heal","v":1,"ts":"2026-11-26T18:01:00Z","host":"web1","src":"lmn-heal","issue":"d1","action":"nix_gc","step":1,"phase":"gave_up","retry_at":"2026-11-26T18:31:00Z","error":"circuit breaker open"}
{"kind":"issue","v":1,"ts":"2026-11-26T18:01:30Z","host":"web1","src":"lmn-detect","id":"d2","rule":"disk_usage","subject":{"mount":"/var"},"state":"firing","severity":"warning","since":"2026-11-26T18:01:00Z"}
`

func fleet(t testing.TB, lines int) *dash.Model {
	t.Helper()
	all := strings.SplitAfter(fleetStream, "\n")
	return streamModel(t, strings.NewReader(strings.Join(all[:lines], "")))
}

// TestKnownSeriesAtZero: before any heal, every series lmn-heal's policy
// can write is there at 0, so increase() sees the first heal (issue 11).
func TestKnownSeriesAtZero(t *testing.T) {
	fams, err := parseStrict(exposition(t, fleet(t, 1)))
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]float64{}
	for _, f := range fams {
		for k, v := range f.series {
			all[k] = v
		}
	}
	for _, k := range []string{
		`lmn_heal_actions_total{action="restart_unit",tier="privd",outcome="succeeded"}`,
		`lmn_heal_actions_total{action="restart_unit",tier="unprivileged",outcome="failed"}`,
		`lmn_heal_actions_total{action="nix_gc",tier="advise",outcome="advised"}`,
		`lmn_heal_actions_total{action="advise",tier="advise",outcome="advised"}`,
		`lmn_heal_verifications_total{action="restart_unit",outcome="not_recovered"}`,
		`lmn_heal_verifications_total{action="nix_gc",outcome="recovered"}`,
		`lmn_heal_gave_up_total{action="restart_unit"}`,
		`lmn_heal_duration_seconds_count{action="nix_gc"}`,
		`lmn_heal_duration_seconds_bucket{action="nix_gc",le="+Inf"}`,
		`lmn_heal_time_to_recover_seconds_count{action="restart_unit"}`,
		`lmn_heal_breakers_open`,
	} {
		if v, ok := all[k]; !ok || v != 0 {
			t.Errorf("%s = %v, %v; want 0 from the start", k, v, ok)
		}
	}
	if _, ok := all[`lmn_heal_actions_total{action="restart_unit",tier="advise",outcome="succeeded"}`]; ok {
		t.Error("the advise tier only advises")
	}
}

func TestFleetMetrics(t *testing.T) {
	m := fleet(t, strings.Count(fleetStream, "\n"))
	now := time.Date(2026, 11, 26, 18, 2, 0, 0, time.UTC)
	fams, err := parseStrict(string(Append(nil, m, now, "test")))
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]float64{}
	for _, f := range fams {
		for k, v := range f.series {
			all[k] = v
		}
	}
	for k, want := range map[string]float64{
		`lmn_heal_actions_total{action="restart_unit",tier="privd",outcome="succeeded"}`: 1,
		`lmn_heal_verifications_total{action="restart_unit",outcome="recovered"}`:        1,
		`lmn_heal_gave_up_total{action="nix_gc"}`:                                        1,
		`lmn_heal_breakers_open`: 1,
		`lmn_heal_time_to_recover_seconds_bucket{action="restart_unit",le="30"}`:           0,
		`lmn_heal_time_to_recover_seconds_bucket{action="restart_unit",le="60"}`:           1, // 18:00:10 → 18:00:50
		`lmn_heal_time_to_recover_seconds_sum{action="restart_unit"}`:                      40,
		`lmn_rule_issues_firing{rule="disk_usage",severity="warning"}`:                     2,
		`lmn_issue_age_seconds{id="d1",rule="disk_usage",severity="warning",mount="/"}`:    60,
		`lmn_issue_age_seconds{id="d2",rule="disk_usage",severity="warning",mount="/var"}`: 30,
		`lmn_pipe_up`: 1,
	} {
		if got, ok := all[k]; !ok || got != want {
			t.Errorf("%s = %v, %v; want %v", k, got, ok, want)
		}
	}
	if _, ok := all[`lmn_rule_issues_firing{rule="alertmanager",severity="critical"}`]; ok {
		t.Error("the resolved alert is still counted")
	}
	// Silent for longer than a minute (and three 5 s sample intervals):
	// the pipe is down.
	if !m.PipeUp(now.Add(29*time.Second)) || m.PipeUp(now.Add(31*time.Second)) || dash.New().PipeUp(now) {
		t.Error("lmn_pipe_up must turn 0 a minute after the latest record, and be 0 before any")
	}
}

// An issue that fires again after it resolved is aged from its new
// firing, and a recovery is timed from the firing it ended.
func TestAgeAfterRefire(t *testing.T) {
	m := fleet(t, strings.Count(fleetStream, "\n"))
	again := `{"kind":"issue","v":1,"ts":"2026-11-26T18:05:00Z","host":"web1","src":"lmn-detect","id":"u1","rule":"alertmanager","subject":{"alertname":"NginxDown"},"state":"firing","severity":"critical"}` + "\n"
	m2 := streamModel(t, strings.NewReader(fleetStream+again))
	if _, ok := m.Age("u1", time.Now()); ok {
		t.Error("a resolved issue has no age")
	}
	if age, ok := m2.Age("u1", time.Date(2026, 11, 26, 18, 5, 10, 0, time.UTC)); !ok || age != 10*time.Second {
		t.Errorf("age after the refire = %v, %v; want 10s", age, ok)
	}
}
