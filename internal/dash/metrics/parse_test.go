package metrics

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// family is one parsed metric family.
type family struct {
	name, typ, help string
	series          map[string]float64 // by name+labels as written
}

// parseStrict parses the text exposition format and is stricter than
// Prometheus: every family has HELP and TYPE before its samples, each once;
// families are not reopened; series are not repeated; label values are
// correctly escaped; histogram buckets are cumulative and end with +Inf,
// which equals _count.
func parseStrict(text string) (map[string]*family, error) {
	fams := map[string]*family{}
	var cur *family
	if text != "" && !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("does not end with a newline")
	}
	for n, ln := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		n++
		switch {
		case strings.HasPrefix(ln, "# HELP "):
			name, help, _ := strings.Cut(ln[len("# HELP "):], " ")
			if fams[name] != nil {
				return nil, fmt.Errorf("line %d: family %s reopened", n, name)
			}
			cur = &family{name: name, help: help, series: map[string]float64{}}
			fams[name] = cur
		case strings.HasPrefix(ln, "# TYPE "):
			name, typ, _ := strings.Cut(ln[len("# TYPE "):], " ")
			if cur == nil || cur.name != name || cur.typ != "" {
				return nil, fmt.Errorf("line %d: TYPE %s not right after its HELP", n, name)
			}
			switch typ {
			case "gauge", "counter", "histogram":
			default:
				return nil, fmt.Errorf("line %d: type %q", n, typ)
			}
			cur.typ = typ
		case ln == "" || strings.HasPrefix(ln, "#"):
			return nil, fmt.Errorf("line %d: unexpected %q", n, ln)
		default:
			if err := parseSample(cur, ln); err != nil {
				return nil, fmt.Errorf("line %d: %w: %q", n, err, ln)
			}
		}
	}
	for _, f := range fams {
		if err := checkFamily(f); err != nil {
			return nil, err
		}
	}
	return fams, nil
}

func parseSample(cur *family, ln string) error {
	if cur == nil || cur.typ == "" {
		return fmt.Errorf("sample before HELP and TYPE")
	}
	i := strings.IndexAny(ln, "{ ")
	if i < 0 {
		return fmt.Errorf("no value")
	}
	name := ln[:i]
	if !validName(name) {
		return fmt.Errorf("bad metric name %q", name)
	}
	ok := name == cur.name
	if cur.typ == "histogram" {
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			ok = ok || name == cur.name+s
		}
		ok = ok && name != cur.name
	}
	if !ok {
		return fmt.Errorf("sample %s in family %s", name, cur.name)
	}
	rest := ln[i:]
	if rest[0] == '{' {
		var err error
		if rest, err = parseLabels(rest[1:]); err != nil {
			return err
		}
	}
	if !strings.HasPrefix(rest, " ") {
		return fmt.Errorf("no space before value")
	}
	v, err := strconv.ParseFloat(rest[1:], 64)
	if err != nil && rest[1:] != "+Inf" && rest[1:] != "-Inf" && rest[1:] != "NaN" {
		return fmt.Errorf("value: %w", err)
	}
	key := ln[:len(ln)-len(rest)]
	if _, dup := cur.series[key]; dup {
		return fmt.Errorf("series repeated")
	}
	cur.series[key] = v
	return nil
}

// parseLabels reads `name="value",...}` and returns what follows.
func parseLabels(s string) (string, error) {
	seen := map[string]bool{}
	for {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return "", fmt.Errorf("label without =")
		}
		name := s[:eq]
		if !validLabel(name) || seen[name] {
			return "", fmt.Errorf("bad or repeated label name %q", name)
		}
		seen[name] = true
		s = s[eq+1:]
		if !strings.HasPrefix(s, `"`) {
			return "", fmt.Errorf("label %s: value not quoted", name)
		}
		j := 1
		for ; j < len(s) && s[j] != '"'; j++ {
			if s[j] == '\n' {
				return "", fmt.Errorf("raw newline in label %s", name)
			}
			if s[j] == '\\' {
				j++
				if j == len(s) || !strings.ContainsRune(`\"n`, rune(s[j])) {
					return "", fmt.Errorf("label %s: bad escape", name)
				}
			}
		}
		if j == len(s) {
			return "", fmt.Errorf("label %s: unterminated value", name)
		}
		s = s[j+1:]
		switch {
		case strings.HasPrefix(s, "}"):
			return s[1:], nil
		case strings.HasPrefix(s, ","):
			s = s[1:]
		default:
			return "", fmt.Errorf("after label %s: %q", name, s)
		}
	}
}

func validName(s string) bool {
	for i, c := range s {
		if !(c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return s != ""
}

func validLabel(s string) bool {
	return validName(s) && !strings.Contains(s, ":") && !strings.HasPrefix(s, "__")
}

// checkFamily checks a histogram's buckets per label set.
func checkFamily(f *family) error {
	if f.typ == "counter" && !strings.HasSuffix(f.name, "_total") {
		return fmt.Errorf("counter %s lacks _total", f.name)
	}
	if f.typ != "histogram" {
		return nil
	}
	type hist struct {
		prevLE, prev, inf, count float64
		hasInf, hasCount         bool
	}
	hs := map[string]*hist{}
	// Keys are in map order; sort buckets by le per group.
	type bucket struct{ le, v float64 }
	groups := map[string][]bucket{}
	for key, v := range f.series {
		name, labels, _ := strings.Cut(key, "{")
		le := ""
		var rest []string
		for _, kv := range strings.Split(strings.TrimSuffix(labels, "}"), ",") {
			if strings.HasPrefix(kv, "le=") {
				le = strings.Trim(kv[3:], `"`)
			} else {
				rest = append(rest, kv)
			}
		}
		g := strings.Join(rest, ",")
		if hs[g] == nil {
			hs[g] = &hist{}
		}
		switch name {
		case f.name + "_bucket":
			x, err := strconv.ParseFloat(le, 64)
			if err != nil && le != "+Inf" {
				return fmt.Errorf("%s: bad le %q", key, le)
			}
			if le == "+Inf" {
				x = math.Inf(1)
				hs[g].inf, hs[g].hasInf = v, true
			}
			groups[g] = append(groups[g], bucket{x, v})
		case f.name + "_count":
			hs[g].count, hs[g].hasCount = v, true
		}
	}
	for g, h := range hs {
		if !h.hasInf || !h.hasCount || h.inf != h.count {
			return fmt.Errorf("%s{%s}: +Inf bucket %v and count %v", f.name, g, h.inf, h.count)
		}
		bs := groups[g]
		for i := range bs {
			for j := range bs {
				if bs[i].le < bs[j].le && bs[i].v > bs[j].v {
					return fmt.Errorf("%s{%s}: buckets not cumulative", f.name, g)
				}
			}
		}
	}
	return nil
}
