package dash

import (
	"fmt"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// Stages are the binaries of the pipe lmn-dash ends; /healthz wants a
// record of each.
var Stages = []string{"lmn-collect", "lmn-detect", "lmn-heal"}

// collectSettings reads the collector's interval from its start record.
func (m *Model) collectSettings(line record.Line, src string) {
	if src != "lmn-collect" {
		return
	}
	var st struct {
		Settings struct {
			IntervalSeconds float64 `json:"interval_seconds"`
		} `json:"settings"`
	}
	if line.Decode(&st) == nil && st.Settings.IntervalSeconds > 0 {
		m.Interval = time.Duration(st.Settings.IntervalSeconds * float64(time.Second))
	}
}

// Alive is /healthz's answer at now (the wall clock): whether the pipe is
// alive, and why (or why not), one reason per check. The stream is stale
// when its latest record is older than three of the collector's intervals
// (its start record's, or the ticks seen; at least 15 s), and a stage is
// missing when no record of it was seen.
func (m *Model) Alive(now time.Time) (ok bool, why []string) {
	ok = true
	if m.LastTS.IsZero() {
		ok, why = false, append(why, "no record yet")
	} else {
		age := now.Sub(m.LastTS)
		stale := max(minStale, 3*m.Interval, 3*m.Cadence)
		if age > stale {
			ok = false
			why = append(why, fmt.Sprintf("stale: latest record %s ago, more than %s (three collector intervals)", age.Round(time.Millisecond), stale))
		} else {
			why = append(why, fmt.Sprintf("latest record %s ago", age.Round(time.Millisecond)))
		}
	}
	for _, s := range Stages {
		if m.Sources[s] == nil {
			ok = false
			why = append(why, s+" missing: no record of it in the stream")
		}
	}
	return ok, why
}
