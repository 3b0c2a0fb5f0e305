// Package metrics writes lmn-dash's model in the Prometheus text exposition
// format (version 0.0.4) and serves it over HTTP with a health check.
package metrics

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// expo builds one exposition. A family's # HELP and # TYPE lines are written
// with its first sample, so families without samples are left out; a series
// written twice (a stream that names one mount twice) keeps its first value.
type expo struct {
	b       []byte
	name    string // the current family
	typ     string
	help    string
	started bool
	seen    map[string]bool
}

func newExpo(dst []byte) *expo { return &expo{b: dst, seen: map[string]bool{}} }

// family starts a metric family.
func (e *expo) family(name, typ, help string) {
	e.name, e.typ, e.help, e.started = name, typ, help, false
}

// sample writes one series of the current family; suffix is "" or a
// histogram's "_bucket", "_sum", "_count". labels are name, value pairs.
func (e *expo) sample(suffix string, v float64, labels ...string) {
	if !e.started {
		e.b = append(e.b, "# HELP "...)
		e.b = append(e.b, e.name...)
		e.b = append(e.b, ' ')
		e.b = appendEscaped(e.b, e.help, false)
		e.b = append(e.b, "\n# TYPE "...)
		e.b = append(e.b, e.name...)
		e.b = append(e.b, ' ')
		e.b = append(e.b, e.typ...)
		e.b = append(e.b, '\n')
		e.started = true
	}
	start := len(e.b)
	e.b = append(e.b, e.name...)
	e.b = append(e.b, suffix...)
	if len(labels) > 0 {
		e.b = append(e.b, '{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.b = append(e.b, labels[i]...)
			e.b = append(e.b, `="`...)
			e.b = appendEscaped(e.b, labels[i+1], true)
			e.b = append(e.b, '"')
		}
		e.b = append(e.b, '}')
	}
	key := string(e.b[start:])
	if e.seen[key] {
		e.b = e.b[:start]
		return
	}
	e.seen[key] = true
	e.b = append(e.b, ' ')
	e.b = appendValue(e.b, v)
	e.b = append(e.b, '\n')
}

// gauge is a family with one unlabelled sample.
func (e *expo) gauge(name, help string, v float64) {
	e.family(name, "gauge", help)
	e.sample("", v)
}

func appendValue(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendEscaped escapes a label value (backslash, double quote, newline)
// or help text (backslash, newline) and replaces invalid UTF-8.
func appendEscaped(b []byte, s string, quote bool) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// labelName makes a subject key a valid label name, or "" if it cannot be
// one: names start with a letter or '_', go on with letters, digits and
// '_', and may not start with "__" (reserved).
func labelName(k string) string {
	if k == "" || strings.HasPrefix(k, "__") {
		return ""
	}
	b := []byte(k)
	for i, c := range b {
		ok := c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || (i > 0 && '0' <= c && c <= '9')
		if !ok {
			b[i] = '_'
		}
	}
	if b[0] == '_' && len(b) > 1 && b[1] == '_' {
		return ""
	}
	return string(b)
}

// subjectLabels appends a subject's keys as labels in sorted order,
// skipping names already taken.
func subjectLabels(labels []string, subject map[string]string) []string {
	keys := make([]string, 0, len(subject))
	for k := range subject {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	taken := map[string]bool{}
	for i := 0; i < len(labels); i += 2 {
		taken[labels[i]] = true
	}
	for _, k := range keys {
		n := labelName(k)
		if n == "" || taken[n] {
			continue
		}
		taken[n] = true
		labels = append(labels, n, subject[k])
	}
	return labels
}
