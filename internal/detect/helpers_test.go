package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// at returns a bare sample at t0+d.
func at(d time.Duration) *record.Sample {
	return &record.Sample{
		Header:          record.NewHeader(record.KindSample, "lmn-collect", "h", t0.Add(d)),
		IntervalSeconds: 5,
	}
}

func withMount(s *record.Sample, mount string, used float64) *record.Sample {
	if s.Disks == nil {
		s.Disks = &record.Disks{}
	}
	s.Disks.Mounts = append(s.Disks.Mounts, record.Mount{Mount: mount, UsedRatio: used, SizeBytes: 100})
	return s
}

// rulesOf parses a rules file made of the given rule objects.
func rulesOf(t testing.TB, rules ...string) *Rules {
	t.Helper()
	r, err := ParseRules("test.json", []byte(`{"rules":[`+strings.Join(rules, ",")+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// trace renders issues compactly: "12:00:05 disk_usage / firing warning".
func trace(issues []record.Issue) []string {
	var out []string
	for _, is := range issues {
		subj := strings.Join(sortedValues(is.Subject), ",")
		line := fmt.Sprintf("%s %s %s %s %s", is.TS.Format("15:04:05"), is.Rule, subj, is.State, is.Severity)
		if is.Flapping {
			line += " flapping"
		}
		out = append(out, line)
	}
	return out
}

// feed runs samples through an engine and collects the traces.
func feed(e *Engine, samples ...*record.Sample) []string {
	var out []string
	for _, s := range samples {
		out = append(out, trace(e.Sample(s))...)
	}
	return out
}

func equalTrace(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("issues:\n got:\n  %s\n want:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
