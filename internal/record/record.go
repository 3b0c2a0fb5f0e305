// Package record is lmn's stream: the schema of every record kind, and the
// reader and writer that every binary uses to speak newline-delimited JSON.
//
// One JSON object per line. Every record carries a Header (kind, format
// version, timestamp, host, source binary). A binary passes every record it
// reads on unchanged, byte for byte, and writes its own records after the
// record that caused them.
package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Version is the stream format version written in every record's "v" field.
const Version = 1

// The record kinds.
const (
	KindStart  = "start"
	KindSample = "sample"
	KindIssue  = "issue"
	KindHeal   = "heal"
)

// Header is the part every record has.
type Header struct {
	Kind string `json:"kind"`
	V    int    `json:"v"`
	TS   Time   `json:"ts"`
	Host string `json:"host"`
	Src  string `json:"src"`
}

// NewHeader returns a header for a record of kind written by src at ts.
func NewHeader(kind, src, host string, ts time.Time) Header {
	return Header{Kind: kind, V: Version, TS: Time{ts}, Host: host, Src: src}
}

// Hostname returns the machine's host name, or "unknown" if it cannot be read.
func Hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown"
	}
	return h
}

// TimeLayout is RFC 3339 with nanoseconds, always nine digits, always UTC.
const TimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// Time is a time.Time that encodes as TimeLayout in UTC.
type Time struct{ time.Time }

// MarshalJSON writes t in UTC with nine fractional digits.
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(TimeLayout)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimeLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON accepts any RFC 3339 time, with or without fractional seconds.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("time: %w", err)
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("time %q: %w", s, err)
	}
	t.Time = v.UTC()
	return nil
}

// Start is the first record every binary writes.
type Start struct {
	Header
	Version string `json:"version"`
	// Settings are the binary's effective settings, after flags and files.
	Settings any `json:"settings,omitempty"`
}

// NewStart returns the start record of binary src.
func NewStart(src, version string, ts time.Time, settings any) Start {
	return Start{Header: NewHeader(KindStart, src, Hostname(), ts), Version: version, Settings: settings}
}
