package e2e

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/lmn-heal/lmn/internal/record"
)

// kindOf returns a line's record kind, or "" if the line is not a record.
func kindOf(raw []byte) string {
	var h struct {
		Kind string `json:"kind"`
	}
	if json.Unmarshal(raw, &h) != nil {
		return ""
	}
	return h.Kind
}

// isRecord reports whether raw is a JSON object line, as record.Reader
// accepts it.
func isRecord(raw []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil
}

// decode returns the lines of kind decoded as T.
func decode[T any](t testing.TB, lines []Captured, kind string) []T {
	t.Helper()
	var out []T
	for _, c := range lines {
		if kindOf(c.Raw) != kind {
			continue
		}
		var v T
		if err := json.Unmarshal(c.Raw, &v); err != nil {
			t.Fatalf("decode %s record %q: %v", kind, c.Raw, err)
		}
		out = append(out, v)
	}
	return out
}

// healsOf returns the heal records among lines.
func healsOf(t testing.TB, lines []Captured) []record.Heal {
	return decode[record.Heal](t, lines, record.KindHeal)
}

// issuesOf returns the issue records among lines.
func issuesOf(t testing.TB, lines []Captured) []record.Issue {
	return decode[record.Issue](t, lines, record.KindIssue)
}

// samplesOf returns the sample records among lines.
func samplesOf(t testing.TB, lines []Captured) []record.Sample {
	return decode[record.Sample](t, lines, record.KindSample)
}

// hasHeal returns a condition for Lines.Wait: some heal record matches.
func hasHeal(match func(record.Heal) bool) func([]Captured) bool {
	return func(lines []Captured) bool {
		for _, c := range lines {
			if kindOf(c.Raw) != record.KindHeal {
				continue
			}
			var h record.Heal
			if json.Unmarshal(c.Raw, &h) == nil && match(h) {
				return true
			}
		}
		return false
	}
}

// hasIssue returns a condition for Lines.Wait: some issue record matches.
func hasIssue(match func(record.Issue) bool) func([]Captured) bool {
	return func(lines []Captured) bool {
		for _, c := range lines {
			if kindOf(c.Raw) != record.KindIssue {
				continue
			}
			var is record.Issue
			if json.Unmarshal(c.Raw, &is) == nil && match(is) {
				return true
			}
		}
		return false
	}
}

// countKind counts the lines of kind.
func countKind(lines []Captured, kind string) int {
	n := 0
	for _, c := range lines {
		if kindOf(c.Raw) == kind {
			n++
		}
	}
	return n
}

// isSubsequence reports whether every record line of in appears in out,
// byte for byte and in order, and returns the first one missing.
func isSubsequence(in, out []Captured) (missing []byte, ok bool) {
	j := 0
	for _, c := range in {
		if !isRecord(c.Raw) {
			continue
		}
		want := bytes.TrimRight(c.Raw, "\r\n")
		for j < len(out) && !bytes.Equal(bytes.TrimRight(out[j].Raw, "\r\n"), want) {
			j++
		}
		if j == len(out) {
			return c.Raw, false
		}
		j++
	}
	return nil, true
}
