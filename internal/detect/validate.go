package detect

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"sort"
	"time"
)

// Fields every kind of rule accepts, and the further fields of each kind.
var (
	commonKeys = []string{"name", "kind", "enabled", "description", "for", "match", "flapping", "summary", "resolved_summary"}
	kindKeys   = map[string][]string{
		KindThreshold:  {"metric", "direction", "warning", "critical", "clear", "warning_from", "critical_from", "and", "escalate"},
		KindTrend:      {"metric", "direction", "limit", "window", "horizon", "critical_horizon", "clear_horizon", "min_history", "short_window", "and"},
		KindUnitFailed: {},
		KindAbsence:    {"intervals", "interval"},
	}
	defaultFlapping = Flapping{Transitions: 5, Window: Duration(time.Hour)}
	ruleName        = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
)

// Default sentence templates by kind.
var defaultSummaries = map[string][2]string{
	KindThreshold:  {"{rule}: {metric} is {value}, threshold {threshold}", "{rule}: {metric} is back to {value}, clear level {clear}"},
	KindTrend:      {"{rule}: {metric} reaches {threshold} in {eta}", "{rule}: {metric} no longer reaches {threshold} soon"},
	KindUnitFailed: {"{subject} ({scope}) has failed", "{subject} ({scope}) is no longer failed"},
	KindAbsence:    {"no sample for {value}, expected one every {interval}", "samples arrive again after a gap of {value}"},
}

// normalize checks a decoded rule's kind-independent parts and fills in
// defaults, so the effective rule is explicit.
func normalize(r *Rule, fields map[string]json.RawMessage) error {
	if !ruleName.MatchString(r.Name) {
		return &fieldError{"name", fmt.Sprintf("%q: want lower case letters, digits and _ (such as \"disk_usage\")", r.Name)}
	}
	if r.Enabled != nil && !*r.Enabled && r.Kind == "" {
		return nil // a rule turned off needs nothing but its name
	}
	allowed, ok := kindKeys[r.Kind]
	if !ok {
		return &fieldError{"kind", fmt.Sprintf("%q: want one of threshold, trend, unit_failed, absence", r.Kind)}
	}
	for _, k := range sortedKeys(fields) {
		if !contains(commonKeys, k) && !contains(allowed, k) {
			return &fieldError{k, "not used by a " + r.Kind + " rule"}
		}
	}
	if r.Enabled == nil {
		t := true
		r.Enabled = &t
	}
	if r.Flapping == nil {
		f := defaultFlapping
		r.Flapping = &f
	}
	if r.Flapping.Transitions < 0 {
		return &fieldError{"flapping.transitions", "must not be negative (0 turns flap detection off)"}
	}
	if r.Flapping.Transitions > 0 && r.Flapping.Window <= 0 {
		return &fieldError{"flapping.window", "want a duration such as \"1h\""}
	}
	for i, p := range r.Match {
		if _, err := path.Match(p, ""); err != nil {
			return &fieldError{fmt.Sprintf("match[%d]", i), fmt.Sprintf("bad pattern %q", p)}
		}
	}
	def := defaultSummaries[r.Kind]
	if r.Summary == "" {
		r.Summary = def[0]
	}
	if r.ResolvedSummary == "" {
		r.ResolvedSummary = def[1]
	}
	switch r.Kind {
	case KindThreshold:
		return normalizeThreshold(r)
	case KindTrend:
		return normalizeTrend(r)
	case KindAbsence:
		if r.Intervals < 1 {
			return &fieldError{"intervals", "want a number of missed intervals, at least 1"}
		}
	}
	return nil
}

func normalizeThreshold(r *Rule) error {
	if err := checkDirection(r); err != nil {
		return err
	}
	if r.Warning == nil && r.Critical == nil {
		return &fieldError{"warning", "a threshold rule needs a warning or a critical level"}
	}
	above := r.Direction == "above"
	fire := r.Warning
	if fire == nil {
		fire = r.Critical
	}
	if r.Warning != nil && r.Critical != nil && beyond(*r.Warning, *r.Critical, above) && *r.Warning != *r.Critical {
		return &fieldError{"critical", fmt.Sprintf("%g is not %s the warning level %g", *r.Critical, r.Direction, *r.Warning)}
	}
	if r.Clear == nil {
		c := *fire
		r.Clear = &c
	}
	if beyond(*r.Clear, *fire, above) && *r.Clear != *fire {
		return &fieldError{"clear", fmt.Sprintf("%g is %s the fire level %g; the clear level must be on the other side (hysteresis)", *r.Clear, r.Direction, *fire)}
	}
	return nil
}

func normalizeTrend(r *Rule) error {
	if err := checkDirection(r); err != nil {
		return err
	}
	switch {
	case r.Limit == nil:
		return &fieldError{"limit", "a trend rule needs the limit it watches for (such as 1 for a full disk)"}
	case r.Window <= 0:
		return &fieldError{"window", "want the fit window, such as \"1h\""}
	case r.Horizon <= 0:
		return &fieldError{"horizon", "want how far ahead to look, such as \"6h\""}
	case r.MinHistory > r.Window:
		return &fieldError{"min_history", fmt.Sprintf("%s is longer than the window %s", formatDuration(r.MinHistory.D()), formatDuration(r.Window.D()))}
	case r.CriticalHorizon > r.Horizon:
		return &fieldError{"critical_horizon", "must not be longer than horizon"}
	case r.ShortWindow >= r.Window:
		return &fieldError{"short_window", fmt.Sprintf("%s is not shorter than the window %s", formatDuration(r.ShortWindow.D()), formatDuration(r.Window.D()))}
	}
	if r.ClearHorizon == 0 {
		r.ClearHorizon = r.Horizon * 3 / 2
	}
	if r.ClearHorizon < r.Horizon {
		return &fieldError{"clear_horizon", "must not be shorter than horizon (hysteresis)"}
	}
	return nil
}

func checkDirection(r *Rule) error {
	if r.Metric == "" {
		return &fieldError{"metric", "missing: want a sample field such as \"mem.available_ratio\""}
	}
	if r.Direction == "" {
		r.Direction = "above"
	}
	if r.Direction != "above" && r.Direction != "below" {
		return &fieldError{"direction", fmt.Sprintf("%q: want \"above\" or \"below\"", r.Direction)}
	}
	return nil
}

// beyond reports whether v is past level in the rule's direction
// (v >= level for above, v <= level for below).
func beyond(v, level float64, above bool) bool {
	if above {
		return v >= level
	}
	return v <= level
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// rule is a compiled, enabled rule: paths resolved to accessors, levels
// unpacked, templates parsed.
type rule struct {
	*Rule
	metric             *metric
	list               *listDef
	above              bool
	warnFrom, critFrom *metric
	and, escalate      []cond
	summary, resolved  template
}

// cond is a compiled Condition.
type cond struct {
	m            *metric
	above        bool
	level, clear float64
}

func compile(r *Rule) (*rule, error) {
	c := &rule{Rule: r, above: r.Direction != "below"}
	var err error
	if r.Metric != "" {
		if c.metric, err = lookupMetric(r.Metric); err != nil {
			return nil, &fieldError{"metric", err.Error()}
		}
		c.list = c.metric.list
	}
	if c.warnFrom, err = sameList(c, "warning_from", r.WarningFrom); err != nil {
		return nil, err
	}
	if c.critFrom, err = sameList(c, "critical_from", r.CriticalFrom); err != nil {
		return nil, err
	}
	if c.and, err = compileConds(c, "and", r.And); err != nil {
		return nil, err
	}
	if c.escalate, err = compileConds(c, "escalate", r.Escalate); err != nil {
		return nil, err
	}
	if c.summary, err = parseTemplate(r.Summary); err != nil {
		return nil, &fieldError{"summary", err.Error()}
	}
	if c.resolved, err = parseTemplate(r.ResolvedSummary); err != nil {
		return nil, &fieldError{"resolved_summary", err.Error()}
	}
	return c, nil
}

// sameList resolves a path that must address the same subjects as the
// rule's metric (or be machine-wide).
func sameList(c *rule, field, p string) (*metric, error) {
	if p == "" {
		return nil, nil
	}
	m, err := lookupMetric(p)
	if err != nil {
		return nil, &fieldError{field, err.Error()}
	}
	if m.list != nil && m.list != c.list {
		want := "a machine-wide metric"
		if c.list != nil {
			want = "a field of " + c.list.path + " or a machine-wide metric"
		}
		return nil, &fieldError{field, fmt.Sprintf("%q is a field of %s, want %s", p, m.list.path, want)}
	}
	return m, nil
}

func compileConds(c *rule, key string, conds []Condition) ([]cond, error) {
	out := make([]cond, 0, len(conds))
	for i, k := range conds {
		at := fmt.Sprintf("%s[%d]", key, i)
		m, err := sameList(c, at+".metric", k.Metric)
		if err != nil {
			return nil, err
		}
		if m == nil {
			return nil, &fieldError{at + ".metric", "missing"}
		}
		if (k.Above == nil) == (k.Below == nil) {
			return nil, &fieldError{at, "want exactly one of \"above\" and \"below\""}
		}
		cc := cond{m: m, above: k.Above != nil}
		if cc.above {
			cc.level = *k.Above
		} else {
			cc.level = *k.Below
		}
		cc.clear = cc.level
		if k.Clear != nil {
			cc.clear = *k.Clear
			if beyond(cc.clear, cc.level, cc.above) && cc.clear != cc.level {
				return nil, &fieldError{at + ".clear", fmt.Sprintf("%g is past the level %g; the clear level must be on the other side", cc.clear, cc.level)}
			}
		}
		out = append(out, cc)
	}
	return out, nil
}

// matches reports whether a subject name passes the rule's match list.
func (r *rule) matches(name string) bool {
	if len(r.Match) == 0 {
		return true
	}
	for _, p := range r.Match {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}
