// Package alertmanager is how lmn speaks to Prometheus Alertmanager: the
// webhook receiver that turns the alerts it delivers into issue records
// (decoding, authentication, the body limit, deduplication across peers
// and retries, the host filter), and the client of its API v2 that
// lmn-heal uses to read silences and post its own.
//
// Nothing in a payload becomes a command: an alert becomes an issue with
// rule "alertmanager", and what runs is decided by lmn-heal's policy,
// which matches the labels.
package alertmanager

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// MaxBody is the largest webhook body accepted.
const MaxBody = 1 << 20

// Limits on one alert, so that the issue record it becomes stays well
// under the stream's line limit.
const (
	maxLabels     = 64
	maxLabelBytes = 16 << 10 // names and values of one alert together
	maxSummary    = 1024
)

// Alert states, as Alertmanager writes them.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Message is the body of one webhook notification: Alertmanager's version
// 4, which Grafana's webhook contact point sends in the same shape (with
// fields of its own, ignored here).
type Message struct {
	Version  string  `json:"version"`
	Receiver string  `json:"receiver"`
	Status   string  `json:"status"`
	Alerts   []Alert `json:"-"`
	// Invalid holds one error per alert that was left out, naming it
	// (alerts[2].startsAt: …).
	Invalid []error `json:"-"`
}

// Alert is one alert of a notification.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// ErrBody wraps every reason a body as a whole is refused.
var ErrBody = errors.New("bad webhook body")

// Decode reads one webhook body. A body that is not a notification (not
// JSON, not an object, no alerts list) is an error wrapping ErrBody and
// nothing of it is used. An alert that is not valid is left out and
// described in Message.Invalid; the others are kept.
func Decode(body []byte) (*Message, error) {
	if len(body) > MaxBody {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrBody, len(body), MaxBody)
	}
	var raw struct {
		Version  json.RawMessage   `json:"version"`
		Receiver json.RawMessage   `json:"receiver"`
		Status   json.RawMessage   `json:"status"`
		Alerts   []json.RawMessage `json:"alerts"`
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrBody)
	}
	if err := json.Unmarshal(trimmed, &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBody, jsonError(err))
	}
	if raw.Alerts == nil {
		return nil, fmt.Errorf("%w: alerts: missing (not an Alertmanager webhook notification)", ErrBody)
	}
	m := &Message{}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *string
	}{{"version", raw.Version, &m.Version}, {"receiver", raw.Receiver, &m.Receiver}, {"status", raw.Status, &m.Status}} {
		if f.raw == nil {
			continue
		}
		if err := json.Unmarshal(f.raw, f.dst); err != nil {
			return nil, fmt.Errorf("%w: %s: not a string", ErrBody, f.name)
		}
	}
	for i, ra := range raw.Alerts {
		a, err := decodeAlert(ra)
		if err != nil {
			m.Invalid = append(m.Invalid, fmt.Errorf("alerts[%d]%w", i, err))
			continue
		}
		m.Alerts = append(m.Alerts, a)
	}
	return m, nil
}

// fieldError is an error at a field of an alert; its text starts with the
// field path after "alerts[i]".
type fieldError struct {
	path string
	err  error
}

func (e *fieldError) Error() string { return e.path + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

func atField(path, format string, args ...any) error {
	return &fieldError{path: path, err: fmt.Errorf(format, args...)}
}

func decodeAlert(b json.RawMessage) (Alert, error) {
	var a struct {
		Status       *string                    `json:"status"`
		Labels       map[string]json.RawMessage `json:"labels"`
		Annotations  map[string]json.RawMessage `json:"annotations"`
		StartsAt     *string                    `json:"startsAt"`
		EndsAt       *string                    `json:"endsAt"`
		GeneratorURL string                     `json:"generatorURL"`
		Fingerprint  string                     `json:"fingerprint"`
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return Alert{}, &fieldError{path: "", err: jsonError(err)}
	}
	var out Alert
	switch {
	case a.Status == nil:
		return Alert{}, atField(".status", "missing")
	case *a.Status != StatusFiring && *a.Status != StatusResolved:
		return Alert{}, atField(".status", "%q: want firing or resolved", clip(*a.Status))
	}
	out.Status = *a.Status
	var err error
	if out.Labels, err = stringMap(".labels", a.Labels, true); err != nil {
		return Alert{}, err
	}
	if out.Labels["alertname"] == "" {
		return Alert{}, atField(".labels.alertname", "missing")
	}
	if out.Annotations, err = stringMap(".annotations", a.Annotations, false); err != nil {
		return Alert{}, err
	}
	if a.StartsAt == nil {
		return Alert{}, atField(".startsAt", "missing")
	}
	if out.StartsAt, err = parseTime(".startsAt", *a.StartsAt); err != nil {
		return Alert{}, err
	}
	if a.EndsAt != nil {
		if out.EndsAt, err = parseTime(".endsAt", *a.EndsAt); err != nil {
			return Alert{}, err
		}
	}
	out.GeneratorURL = a.GeneratorURL
	out.Fingerprint = a.Fingerprint
	if len(out.Fingerprint) > 64 {
		return Alert{}, atField(".fingerprint", "longer than 64 bytes")
	}
	return out, nil
}

// stringMap decodes a JSON object of strings. Label names must be
// Prometheus label names; the sizes are bounded.
func stringMap(path string, raw map[string]json.RawMessage, labels bool) (map[string]string, error) {
	if len(raw) > maxLabels {
		return nil, atField(path, "%d entries, more than %d", len(raw), maxLabels)
	}
	out := make(map[string]string, len(raw))
	size := 0
	for k, v := range raw {
		if labels && !validLabelName(k) {
			return nil, atField(path, "%q is not a label name", clip(k))
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, atField(path+"."+clip(k), "not a string")
		}
		if !utf8.ValidString(k) || !utf8.ValidString(s) {
			return nil, atField(path+"."+clip(k), "not valid UTF-8")
		}
		size += len(k) + len(s)
		out[k] = s
	}
	if size > maxLabelBytes {
		return nil, atField(path, "%d bytes, more than %d", size, maxLabelBytes)
	}
	return out, nil
}

// validLabelName reports whether s is a Prometheus label name:
// [a-zA-Z_][a-zA-Z0-9_]*.
func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func parseTime(path, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, atField(path, "%q is not an RFC 3339 time", clip(s))
	}
	return t.UTC(), nil
}

// jsonError shortens encoding/json's errors to what a sender can act on.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("not valid JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		if te.Field == "" {
			return fmt.Errorf("a JSON %s where an object was expected", te.Value)
		}
		return fmt.Errorf("%s: a JSON %s, want %s", te.Field, te.Value, te.Type)
	}
	return err
}

// clip shortens a value from a payload for an error message.
func clip(s string) string { return truncate(s, 64) }

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
