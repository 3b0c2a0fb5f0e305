package detect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Duration is a time.Duration written in rules and state as a Go duration
// string such as "90s", "5m" or "1h30m".
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes d as its shortest duration string ("5m", not "5m0s").
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(formatDuration(time.Duration(d)))
}

// UnmarshalJSON reads a duration string; a bare number is rejected so that
// units are never guessed.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"5m\", got %s", preview(b))
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("bad duration %q: want a form such as \"90s\", \"5m\" or \"1h30m\"", s)
	}
	if v < 0 {
		return fmt.Errorf("negative duration %q", s)
	}
	*d = Duration(v)
	return nil
}

func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Hold is how long a condition must hold before it fires: either a number
// of consecutive samples (a JSON number) or a duration of record time (a
// JSON string such as "5m"). The zero Hold fires on the first sample.
type Hold struct {
	Samples  int
	Duration time.Duration
}

// IsZero reports whether h fires at once.
func (h Hold) IsZero() bool { return h.Samples <= 1 && h.Duration == 0 }

// MarshalJSON writes a number for a sample count and a string for a duration.
func (h Hold) MarshalJSON() ([]byte, error) {
	if h.Duration > 0 {
		return json.Marshal(formatDuration(h.Duration))
	}
	return json.Marshal(h.Samples)
}

// UnmarshalJSON reads a sample count or a duration string.
func (h *Hold) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var d Duration
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
