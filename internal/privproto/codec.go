package privproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/lmn-heal/lmn/internal/action"
)

// Limits of a request's JSON.
const (
	MaxActionLen = 64
	MaxParams    = 16
	MaxKeyLen    = 64
)

// ErrDecode is wrapped by every strict-decoding error.
var ErrDecode = errors.New("bad request JSON")

// EncodeRequest returns the JSON of req (map keys sorted, so stable).
func EncodeRequest(req action.Request) ([]byte, error) {
	return json.Marshal(req)
}

// DecodeRequest decodes a request strictly: one JSON object with a string
// "action" and an optional object "params" of string values; unknown
// fields, duplicate keys, oversized values, invalid UTF-8 and trailing data
// are rejected.
func DecodeRequest(b []byte) (action.Request, error) {
	var req action.Request
	if !utf8.Valid(b) {
		return req, fmt.Errorf("%w: not UTF-8", ErrDecode)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := expectDelim(d, '{'); err != nil {
		return req, err
	}
	seen := map[string]bool{}
	for d.More() {
		key, err := stringToken(d, "field name", MaxKeyLen)
		if err != nil {
			return req, err
		}
		if seen[key] {
			return req, fmt.Errorf("%w: duplicate field %q", ErrDecode, key)
		}
		seen[key] = true
		switch key {
		case "action":
			req.Action, err = stringToken(d, "action", MaxActionLen)
		case "params":
			req.Params, err = decodeParams(d)
		default:
			err = fmt.Errorf("%w: unknown field %q", ErrDecode, key)
		}
		if err != nil {
			return req, err
		}
	}
	if err := expectDelim(d, '}'); err != nil {
		return req, err
	}
	if _, err := d.Token(); err != io.EOF {
		return req, fmt.Errorf("%w: data after the object", ErrDecode)
	}
	if !seen["action"] {
		return req, fmt.Errorf("%w: no action", ErrDecode)
	}
	return req, nil
}

func decodeParams(d *json.Decoder) (map[string]string, error) {
	if err := expectDelim(d, '{'); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for d.More() {
		k, err := stringToken(d, "parameter name", MaxKeyLen)
		if err != nil {
			return nil, err
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%w: duplicate parameter %q", ErrDecode, k)
		}
		if len(out) == MaxParams {
			return nil, fmt.Errorf("%w: more than %d parameters", ErrDecode, MaxParams)
		}
		v, err := stringToken(d, "parameter "+k, action.MaxValueLen)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, expectDelim(d, '}')
}

func expectDelim(d *json.Decoder, want json.Delim) error {
	t, err := d.Token()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDecode, err)
	}
	if t != want {
		return fmt.Errorf("%w: want %q, got %v", ErrDecode, want, t)
	}
	return nil
}

func stringToken(d *json.Decoder, what string, max int) (string, error) {
	t, err := d.Token()
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrDecode, what, err)
	}
	s, ok := t.(string)
	if !ok {
		return "", fmt.Errorf("%w: %s: want a string, got %T", ErrDecode, what, t)
	}
	if len(s) > max {
		return "", fmt.Errorf("%w: %s: longer than %d bytes", ErrDecode, what, max)
	}
	return s, nil
}

// Error codes of a refused or failed request.
const (
	CodeRefused     = "refused"      // policy said no (denied unit, protected pid, audit unavailable)
	CodeRateLimited = "rate_limited" // try again after RetryAfterMS (also: target busy, server full)
	CodeBadAuth     = "bad_auth"     // MAC mismatch: wrong key, altered or replayed request
	CodeInvalid     = "invalid"      // malformed frame, JSON or parameters; unknown action
	CodeFailed      = "failed"       // the action ran and failed
	CodePermission  = "permission"   // the peer's uid/gid is not an allowed client
	CodePaused      = "paused"       // every action is off until `lmn-privd resume`
)

// Control requests: not actions of the catalogue but switches of the
// daemon, sent like one ({"action":"pause","params":{"reason":"…"}}).
const (
	ControlPause  = "pause"  // refuse every action until resumed; any client
	ControlResume = "resume" // take actions again; root only
)

// Response is the server's answer.
type Response struct {
	OK           bool           `json:"ok"`
	Result       *action.Result `json:"result,omitempty"`
	Code         string         `json:"code,omitempty"`
	Error        string         `json:"error,omitempty"`
	RetryAfterMS int64          `json:"retry_after_ms,omitempty"`
	// ID is the audit-log id of an action that ran (intent and result
	// lines carry it).
	ID string `json:"id,omitempty"`
}

// DecodeResponse decodes a response, rejecting unknown fields.
func DecodeResponse(b []byte) (Response, error) {
	var r Response
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&r); err != nil {
		return r, fmt.Errorf("%w: response: %w", ErrDecode, err)
	}
	if d.More() {
		return r, fmt.Errorf("%w: response: data after the object", ErrDecode)
	}
	if !r.OK && r.Code == "" {
		return r, fmt.Errorf("%w: response: neither ok nor an error code", ErrDecode)
	}
	return r, nil
}
