package heal

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/lmn-heal/lmn/internal/config"
	"github.com/lmn-heal/lmn/internal/detect"
	"github.com/lmn-heal/lmn/internal/record"
)

// alertRule is the rule of issues made from Alertmanager's alerts
// (internal/alertmanager.Rule, which heal does not import).
const alertRule = "alertmanager"

// expand replaces each {{key}} in s with vars[key]. It returns the first
// key that vars lacks (or whose value is empty), with ok false.
func expand(s string, vars map[string]string) (out, missing string, ok bool) {
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			b.WriteString(s)
			return b.String(), "", true
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			b.WriteString(s)
			return b.String(), "", true
		}
		key := strings.TrimSpace(s[i+2 : i+j])
		v := vars[key]
		if v == "" {
			return "", key, false
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+j+2:]
	}
}

// expandParams expands every value of params.
func expandParams(params, vars map[string]string) (map[string]string, string, bool) {
	if len(params) == 0 {
		return nil, "", true
	}
	out := make(map[string]string, len(params))
	for k, v := range params {
		e, missing, ok := expand(v, vars)
		if !ok {
			return nil, missing, false
		}
		out[k] = e
	}
	return out, "", true
}

// checkTemplate is the package's checkTemplate, and checks that each key
// is a variable an issue of l can have (checkVar).
func (l *Ladder) checkTemplate(s string) error {
	if err := checkTemplate(s); err != nil {
		return err
	}
	for rest := s; ; {
		i := strings.Index(rest, "{{")
		if i < 0 {
			return nil
		}
		j := strings.Index(rest[i:], "}}")
		key := strings.TrimSpace(rest[i+2 : i+j])
		if err := l.checkVar(key); err != nil {
			return fmt.Errorf("%q: {{%s}}: %w", s, key, err)
		}
		rest = rest[i+j+2:]
	}
}

// knownVars are the variables an issue of lmn's own rules can have: what
// lmn-heal computes (reservedVars, and the unit under memory pressure), the
// subject keys of lmn-detect's rules (the sample's lists, and
// detect.SubjectKeys: a failed unit, a probe, a generation) and an alert's
// alertname.
var knownVars = func() []string {
	set := map[string]bool{"pressured_unit": true, "pressured_scope": true, "alertname": true}
	for _, k := range detect.SubjectKeys {
		set[k] = true
	}
	for k := range reservedVars {
		set[k] = true
	}
	for _, p := range record.MetricPaths() {
		if m, _ := record.MetricOf(p); m.List != nil {
			set[m.List.Key] = true
			if m.List.ScopeKey != "" {
				set[m.List.ScopeKey] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}()

// checkVar reports a template or match variable no issue of l can have: a
// misspelling of a known one ("did you mean"), or, in a ladder that
// answers no alert (whose labels may be any name), any name lmn does not
// fill. A label of an alert ladder named in its match is taken as it is.
func (l *Ladder) checkVar(key string) error {
	if slices.Contains(knownVars, key) {
		return nil
	}
	alerts := slices.ContainsFunc(l.Rules, func(r string) bool { ok, _ := path.Match(r, alertRule); return ok })
	if _, inMatch := l.Match[key]; alerts && inMatch {
		return nil
	}
	if hint := config.Suggest(key, knownVars); hint != "" {
		return fmt.Errorf("no issue has %q: %s", key, hint)
	}
	if alerts {
		return nil
	}
	return fmt.Errorf("no issue of rules %s has %q (known: %s; an alert's labels, in a ladder for rule %q)",
		strings.Join(l.Rules, ", "), key, strings.Join(knownVars, ", "), alertRule)
}

// checkTemplate reports a {{ without its }} or a key that is not a plain
// name.
func checkTemplate(s string) error {
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			return nil
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return fmt.Errorf("%q: {{ without }}", s)
		}
		key := strings.TrimSpace(s[i+2 : i+j])
		if key == "" || strings.IndexFunc(key, notNameRune) >= 0 {
			return fmt.Errorf("%q: bad template key %q (letters, digits and _ only)", s, key)
		}
		s = s[i+j+2:]
	}
}

func notNameRune(r rune) bool {
	return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
}
