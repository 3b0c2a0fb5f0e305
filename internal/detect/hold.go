package detect

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/lmn-heal/lmn/internal/config"
)

// Hold is how long a condition must hold before it fires: either a number
// of consecutive samples (a JSON number) or a duration of record time (a
// duration string such as "5m", read and written as config.Duration). The
// zero Hold fires on the first sample.
type Hold struct {
	Samples  int
	Duration time.Duration
}

// IsZero reports whether h fires at once.
func (h Hold) IsZero() bool { return h.Samples <= 1 && h.Duration == 0 }

// MarshalJSON writes a number for a sample count and a string for a duration.
func (h Hold) MarshalJSON() ([]byte, error) {
	if h.Duration > 0 {
		return config.Duration(h.Duration).MarshalJSON()
	}
	return json.Marshal(h.Samples)
}

// UnmarshalJSON reads a sample count or a duration string.
func (h *Hold) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var d config.Duration
		if err := d.UnmarshalJSON(b); err != nil {
			return err
		}
		*h = Hold{Duration: d.D()}
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil || n < 0 {
		return errors.New("want a number of samples (such as 3) or a duration string (such as \"5m\"), got " + preview(b))
	}
	*h = Hold{Samples: n}
	return nil
}

// reached reports whether a condition first seen at since and seen count
// times in a row has held long enough at now.
func (h Hold) reached(count int, since, now time.Time) bool {
	if h.Duration > 0 {
		return now.Sub(since) >= h.Duration
	}
	return count >= h.Samples
}

func preview(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}
