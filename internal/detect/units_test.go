package detect

import (
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

func failed(d time.Duration, scope string, units ...string) *record.Sample {
	s := at(d)
	s.Units = &record.Units{Scope: scope, Failed: []record.Unit{}}
	for _, u := range units {
		s.Units.Failed = append(s.Units.Failed, record.Unit{Unit: u, Active: "failed"})
	}
	return s
}

func TestUnitFailed(t *testing.T) {
	tests := []struct {
		name    string
		rule    string
		samples []*record.Sample
		want    []string
	}{
		{"one issue per unit, resolved when it leaves the list", `{"name":"u","kind":"unit_failed"}`,
			[]*record.Sample{
				failed(0, "system", "a.service", "b.service"),
				failed(5*time.Second, "system", "b.service"),
				failed(10*time.Second, "system"),
			},
			[]string{
				"12:00:00 u system,a.service firing warning",
				"12:00:00 u system,b.service firing warning",
				"12:00:05 u system,a.service resolved warning",
				"12:00:10 u system,b.service resolved warning",
			}},
		{"scopes are separate", `{"name":"u","kind":"unit_failed"}`,
			[]*record.Sample{
				failed(0, "system", "a.service"),
				failed(5*time.Second, "user", "a.service"),
				failed(10*time.Second, "user"),
			},
			[]string{
				"12:00:00 u system,a.service firing warning",
				"12:00:05 u user,a.service firing warning",
				"12:00:10 u user,a.service resolved warning",
			}},
		{"a failed entry without a unit's name names nothing to act on", `{"name":"u","kind":"unit_failed"}`,
			[]*record.Sample{failed(0, "system", "", "a.service"), failed(5*time.Second, "system", "")},
			[]string{
				"12:00:00 u system,a.service firing warning",
				"12:00:05 u system,a.service resolved warning",
			}},
		{"a sample without units changes nothing", `{"name":"u","kind":"unit_failed"}`,
			[]*record.Sample{failed(0, "system", "a.service"), at(5 * time.Second)},
			[]string{"12:00:00 u system,a.service firing warning"}},
		{"hold and match", `{"name":"u","kind":"unit_failed","for":2,"match":["nginx*"]}`,
			[]*record.Sample{
				failed(0, "system", "nginx.service", "other.service"),
				failed(5*time.Second, "system", "nginx.service", "other.service"),
			},
			[]string{"12:00:05 u system,nginx.service firing warning"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			equalTrace(t, feed(NewEngine(rulesOf(t, tt.rule)), tt.samples...), tt.want)
		})
	}
}
