package lmn_test

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/dash"
	"github.com/lmn-heal/lmn/internal/dash/metrics"
	"github.com/lmn-heal/lmn/internal/record"
)

// TestPrometheusRules checks contrib/prometheus/alerts.yml with Prometheus'
// own tool and runs its unit tests (each alert firing and not firing).
func TestPrometheusRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus)")
	}
	for _, args := range [][]string{
		{"check", "rules", "alerts.yml"},
		{"test", "rules", "alerts_test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "contrib/prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestPrometheusRulesUseRealMetrics: every lmn_ metric the rules name is
// one lmn-dash exports, so a rename cannot leave an alert that never fires.
func TestPrometheusRulesUseRealMetrics(t *testing.T) {
	rules, err := os.ReadFile("contrib/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	stream := `{"kind":"start","v":1,"ts":"2026-11-26T18:00:00Z","host":"h","src":"lmn-heal","settings":{"actions":["restart_unit"],"tiers":["unprivileged","advise"]}}
{"kind":"sample","v":1,"ts":"2026-11-26T18:00:05Z","host":"h","src":"lmn-collect","seq":1}
{"kind":"issue","v":1,"ts":"2026-11-26T18:00:05Z","host":"h","src":"lmn-detect","id":"d1","rule":"disk_usage","subject":{"mount":"/"},"state":"firing","severity":"warning"}
`
	m := dash.New()
	r := record.NewReader(strings.NewReader(stream), nil)
	for {
		line, err := r.Next()
		if err != nil {
			break
		}
		if err := m.Apply(line); err != nil {
			t.Fatal(err)
		}
	}
	expo := metrics.Append(nil, m, time.Date(2026, 11, 26, 18, 0, 10, 0, time.UTC), "test")
	names := regexp.MustCompile(`\blmn_[a-z0-9_]+`).FindAll(rules, -1)
	if len(names) == 0 {
		t.Fatal("the rules name no lmn_ metric")
	}
	for _, n := range names {
		if strings.HasPrefix(string(n), "lmn_heal_breaker_retry") {
			continue // named in a description only; exported while a breaker is open
		}
		if !bytes.Contains(expo, append([]byte("\n# TYPE "), n...)) {
			t.Errorf("alerts.yml uses %s, which lmn-dash does not export", n)
		}
	}
}
