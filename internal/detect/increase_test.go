package detect

import (
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

func u64(v uint64) *uint64   { return &v }
func f64(v float64) *float64 { return &v }

// withUnit adds a mem.units entry to s.
func withUnit(s *record.Sample, u record.UnitResources) *record.Sample {
	if s.Mem == nil {
		s.Mem = &record.Mem{}
	}
	s.Mem.Units = append(s.Mem.Units, u)
	return s
}

// oom is a sample at t0+d whose redis.service has had kills; its interval
// is long, so the gaps between them are no absent collector.
func oom(d time.Duration, scope string, kills uint64) *record.Sample {
	s := withUnit(at(d), record.UnitResources{Unit: "redis.service", Scope: scope, OOMKills: u64(kills)})
	s.IntervalSeconds = 300
	return s
}

func TestUnitOOMKilled(t *testing.T) {
	tests := []struct {
		name    string
		samples []*record.Sample
		want    []string
	}{
		{"the first count is a baseline; growth fires at once, quiet for the window resolves", []*record.Sample{
			oom(0, "system", 2), oom(5*time.Second, "system", 2), oom(10*time.Second, "system", 3),
			oom(time.Minute, "system", 4), oom(10*time.Minute, "system", 4), oom(11*time.Minute, "system", 4),
		}, []string{
			"12:00:10 unit_oom_killed system,redis.service firing warning",
			"12:11:00 unit_oom_killed system,redis.service resolved warning",
		}},
		{"a lower count is a restarted unit's new cgroup, not growth", []*record.Sample{
			oom(0, "user", 1), oom(5*time.Second, "user", 0), oom(10*time.Second, "user", 1),
		}, []string{"12:00:10 unit_oom_killed user,redis.service firing warning"}},
		{"scopes are apart; a unit gone from the list resolves", []*record.Sample{
			withUnit(oom(0, "system", 0), record.UnitResources{Unit: "redis.service", Scope: "user", OOMKills: u64(0)}),
			withUnit(oom(5*time.Second, "system", 0), record.UnitResources{Unit: "redis.service", Scope: "user", OOMKills: u64(1)}),
			at(6 * time.Second), // no mem.units: nothing is known gone
			oom(10*time.Second, "system", 0),
		}, []string{
			"12:00:05 unit_oom_killed user,redis.service firing warning",
			"12:00:10 unit_oom_killed user,redis.service resolved warning",
		}},
		{"a unit without the count changes nothing", []*record.Sample{
			withUnit(at(0), record.UnitResources{Unit: "redis.service", Scope: "system"}), oom(5*time.Second, "system", 3),
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			equalTrace(t, feed(NewEngine(Defaults()), tt.samples...), tt.want)
		})
	}
	e := NewEngine(Defaults())
	e.Sample(oom(0, "user", 0))
	is := e.Sample(oom(5*time.Second, "user", 1))
	if len(is) != 1 || is[0].Value != 1 || is[0].Threshold != 0 || is[0].Subject["unit"] != "redis.service" ||
		is[0].Summary != "the kernel's OOM killer killed a process of redis.service (user): 1 in its cgroup so far" {
		t.Errorf("issue %+v", is)
	}
}

// The memory rules judge each unit's own cgroup, subjects apart by scope.
func TestUnitMemoryRules(t *testing.T) {
	near := func(d time.Duration, scope string, ratio float64) *record.Sample {
		return withUnit(at(d), record.UnitResources{Unit: "redis.service", Scope: scope, MemoryBytes: u64(uint64(ratio * 100)),
			MaxBytes: u64(100), MaxUsedRatio: &ratio})
	}
	var samples []*record.Sample
	for i := range 8 {
		samples = append(samples, withUnit(near(time.Duration(i)*5*time.Second, "system", 0.5),
			record.UnitResources{Unit: "redis.service", Scope: "user", MaxUsedRatio: f64(0.93)}))
	}
	samples = append(samples, near(40*time.Second, "user", 0.85), near(45*time.Second, "user", 0.79))
	equalTrace(t, feed(NewEngine(Defaults()), samples...), []string{
		"12:00:30 unit_memory_near_limit user,redis.service firing warning",
		"12:00:45 unit_memory_near_limit user,redis.service resolved warning",
	})
	e := NewEngine(Defaults())
	var issues []record.Issue
	for i := range 7 {
		p := 0.62
		issues = append(issues, e.Sample(withUnit(at(time.Duration(i)*5*time.Second), record.UnitResources{Unit: "worker.service", Scope: "user",
			Pressure: &record.Pressure{Some: &record.PressureLine{Avg10Ratio: p}}}))...)
	}
	if len(issues) != 1 || issues[0].Rule != "unit_memory_pressure" || issues[0].Severity != record.SeverityCritical ||
		issues[0].Subject["scope"] != "user" || !strings.Contains(issues[0].Summary, "tasks of worker.service (user) stalled on memory 62%") {
		t.Errorf("issues %+v", issues)
	}
}
