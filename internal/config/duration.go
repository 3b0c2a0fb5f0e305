package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Duration is a time.Duration in every lmn configuration file, state file
// and --print-* output, written as its shortest Go duration string: "90s"
// is written "1m30s", "1h0m0s" is written "1h". A bare number is refused so
// that a unit is never guessed, and so is a negative duration.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String writes d in its shortest form: "5m", "1h30m", "500ms", "0s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

// MarshalJSON writes d as a JSON string in its shortest form.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"90s\", \"5m\" or \"1h30m\", got %s", preview(b))
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseDuration reads a duration string as configuration files write it.
func ParseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: want a form such as \"90s\", \"5m\" or \"1h30m\"", s)
	}
	if v < 0 {
		return 0, errors.New("negative duration " + s)
	}
	return Duration(v), nil
}
