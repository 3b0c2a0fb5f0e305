package detect

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// A template is a summary sentence with {placeholders}.
type template []tmplPart

type tmplPart struct {
	lit string
	key string // placeholder name; "" for a literal part
}

var placeholders = []string{"rule", "metric", "subject", "scope", "value", "threshold", "clear", "eta", "severity", "interval", "error"}

func parseTemplate(s string) (template, error) {
	var t template
	for s != "" {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			t = append(t, tmplPart{lit: s})
			break
		}
		if i > 0 {
			t = append(t, tmplPart{lit: s[:i]})
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("unclosed { in %q", s)
		}
		key := s[i+1 : i+j]
		if !contains(placeholders, key) {
			return nil, fmt.Errorf("unknown placeholder {%s} (known: {%s})", key, strings.Join(placeholders, "}, {"))
		}
		t = append(t, tmplPart{key: key})
		s = s[i+j+1:]
	}
	return t, nil
}

// vars are the values a summary may name.
type vars struct {
	rule, metric, subject, scope, severity string
	unit                                   string
	err                                    string // a probe's latest error
	value, threshold, clear, interval      float64
	eta                                    *float64
}

func (t template) render(v *vars) string {
	var b strings.Builder
	for _, p := range t {
		switch p.key {
		case "":
			b.WriteString(p.lit)
		case "rule":
			b.WriteString(v.rule)
		case "metric":
			b.WriteString(v.metric)
		case "subject":
			b.WriteString(v.subject)
		case "scope":
			b.WriteString(v.scope)
		case "severity":
			b.WriteString(v.severity)
		case "error":
			b.WriteString(v.err)
		case "value":
			b.WriteString(formatValue(v.value, v.unit))
		case "threshold":
			b.WriteString(formatValue(v.threshold, v.unit))
		case "clear":
			b.WriteString(formatValue(v.clear, v.unit))
		case "interval":
			b.WriteString(formatSeconds(v.interval))
		case "eta":
			if v.eta != nil {
				b.WriteString(formatSeconds(*v.eta))
			} else {
				b.WriteString("an unknown time")
			}
		}
	}
	return b.String()
}

// formatValue writes v for people: ratios as percentages, temperatures in
// °C, bytes in IEC units, seconds as a duration, booleans as yes/no.
func formatValue(v float64, unit string) string {
	switch unit {
	case "ratio":
		return short(v*100) + "%"
	case "celsius":
		return short(v) + " °C"
	case "bytes":
		return formatBytes(v)
	case "seconds":
		return formatSeconds(v)
	case "per_s":
		return short(v) + "/s"
	case "bool":
		if v >= 0.5 {
			return "yes"
		}
		return "no"
	}
	return short(v)
}

// short writes v with at most one decimal, none when it is whole.
func short(v float64) string {
	r := math.Round(v*10) / 10
	if r == math.Trunc(r) || math.Abs(r) >= 100 {
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	}
	return strconv.FormatFloat(r, 'f', 1, 64)
}

func formatBytes(v float64) string {
	const unit = 1024
	if v < unit {
		return short(v) + " B"
	}
	exp := 0
	for n := v / unit; n >= unit && exp < 5; n /= unit {
		exp++
	}
	return short(v/math.Pow(unit, float64(exp+1))) + " " + string("KMGTPE"[exp]) + "iB"
}

// formatSeconds writes a duration the way people say it: "45s", "5m",
// "3h 10m", "2d 4h".
func formatSeconds(s float64) string {
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return "forever"
	}
	d := time.Duration(math.Round(s)) * time.Second
	if s < 0 {
		d = 0
	}
	days, d := d/(24*time.Hour), d%(24*time.Hour)
	h, d := d/time.Hour, d%time.Hour
	m, d := d/time.Minute, d%time.Minute
	sec := d / time.Second
	switch {
	case days > 0:
		return joinUnits(int64(days), "d", int64(h), "h")
	case h > 0:
		return joinUnits(int64(h), "h", int64(m), "m")
	case m > 0:
		return joinUnits(int64(m), "m", int64(sec), "s")
	}
	return strconv.FormatInt(int64(sec), 10) + "s"
}

func joinUnits(a int64, au string, b int64, bu string) string {
	s := strconv.FormatInt(a, 10) + au
	if b > 0 {
		s += " " + strconv.FormatInt(b, 10) + bu
	}
	return s
}
