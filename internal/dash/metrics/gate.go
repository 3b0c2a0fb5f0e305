package metrics

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/lmn-heal/lmn/internal/dash"
)

// MaxGateWait bounds one long poll of /gate; clients poll again.
const MaxGateWait = time.Minute

// gateHandler serves GET /gate[?wait=D]: the gate as JSON, status 200 when
// green and 503 when not. With wait it answers as soon as the gate is
// green, woken by the record that made it so, or after D with the gate as
// it is then.
func gateHandler(l *dash.Live, now func() time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		wait, err := parseWait(r.URL.Query().Get("wait"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		timer := time.NewTimer(wait)
		defer timer.Stop()
		for {
			updated := l.Updated()
			var g dash.Gate
			l.View(func(m *dash.Model) { g = m.Gate(now()) })
			if g.Green || wait == 0 {
				writeGate(w, g)
				return
			}
			select {
			case <-updated:
			case <-timer.C:
				wait = 0
			case <-r.Context().Done():
				return
			}
		}
	}
}

func parseWait(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > MaxGateWait {
		return 0, fmt.Errorf("wait=%q: want a duration from 0s to %s", s, MaxGateWait)
	}
	return d, nil
}

func writeGate(w http.ResponseWriter, g dash.Gate) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !g.Green {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(g)
}
