package heal

import (
	"fmt"
	"strings"
)

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
