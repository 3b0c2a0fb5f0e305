package detect

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"sort"
	"time"

	"github.com/lmn-heal/lmn/internal/config"
	"github.com/lmn-heal/lmn/internal/record"
)

// Fields every kind of rule accepts, and the further fields of each kind.
var (
	commonKeys = []string{"name", "kind", "enabled", "description", "for", "match", "flapping", "summary", "resolved_summary"}
	kindKeys   = map[string][]string{
		KindThreshold:  {"metric", "direction", "warning", "critical", "clear", "warning_from", "critical_from", "and", "escalate"},
		KindTrend:      {"metric", "direction", "limit", "window", "horizon", "critical_horizon", "clear_horizon", "min_history", "short_window", "and"},
		KindUnitFailed: {},
		KindAbsence:    {"intervals", "interval"},
		KindProbe:      {"probe_kinds", "resolve_after"},
		KindIncrease:   {"metric", "window"},
		KindGeneration: {"settle"},
	}
	defaultFlapping = Flapping{Transitions: 5, Window: config.Duration(time.Hour)}
	ruleName        = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
)

// Default sentence templates by kind.
var defaultSummaries = map[string][2]string{
	KindThreshold:  {"{rule}: {metric} is {value}, threshold {threshold}", "{rule}: {metric} is back to {value}, clear level {clear}"},
	KindTrend:      {"{rule}: {metric} reaches {threshold} in {eta}", "{rule}: {metric} no longer reaches {threshold} soon"},
	KindUnitFailed: {"{subject} ({scope}) has failed", "{subject} ({scope}) is no longer failed"},
	KindAbsence:    {"no sample for {value}, expected one every {interval}", "samples arrive again after a gap of {value}"},
	KindProbe:      {"probe {subject} fails: {error} ({value} checks in a row)", "probe {subject} passes again"},
	KindIncrease:   {"{rule}: {metric} of {subject} grew to {value}", "{rule}: {metric} of {subject} stopped growing at {value}"},
	KindGeneration: {"{subject}: {error}", "{subject}: {error}"},
}

// normalize checks a decoded rule's kind-independent parts and fills in
// defaults, so the effective rule is explicit.
func normalize(r *Rule, fields map[string]json.RawMessage) error {
	if !ruleName.MatchString(r.Name) {
		return config.Errorf("name", "%q: want lower case letters, digits and _ (such as \"disk_usage\")", r.Name)
	}
	if r.Enabled != nil && !*r.Enabled && r.Kind == "" {
		return nil // a rule turned off needs nothing but its name
	}
	allowed, ok := kindKeys[r.Kind]
	if !ok {
		return config.Errorf("kind", "%q: want one of threshold, trend, unit_failed, absence, probe, increase, generation", r.Kind)
	}
	for _, k := range sortedKeys(fields) {
		if !contains(commonKeys, k) && !contains(allowed, k) {
			return config.Errorf(k, "not used by a %s rule", r.Kind)
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
		return config.Errorf("flapping.transitions", "must not be negative (0 turns flap detection off)")
	}
	if r.Flapping.Transitions > 0 && r.Flapping.Window <= 0 {
		return config.Errorf("flapping.window", "want a duration such as \"1h\"")
	}
	for i, p := range r.Match {
		if _, err := path.Match(p, ""); err != nil {
			return config.Errorf(fmt.Sprintf("match[%d]", i), "bad pattern %q", p)
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
			return config.Errorf("intervals", "want a number of missed intervals, at least 1")
		}
	case KindProbe:
		return normalizeProbe(r)
	case KindGeneration:
		if r.For != (Hold{}) {
			return config.Errorf("for", "a generation rule waits its settle window, not a hold")
		}
		if r.Settle == 0 {
			r.Settle = config.Duration(defaultSettle)
		}
		if r.Settle < 0 {
			return config.Errorf("settle", "must not be negative")
		}
	case KindIncrease:
		if r.Metric == "" {
			return config.Errorf("metric", "missing: want a counter of a list, such as \"mem.units[].oom_kills\"")
		}
		if r.Window == 0 {
			r.Window = config.Duration(defaultIncreaseWindow)
		}
		if r.Window < 0 {
			return config.Errorf("window", "must not be negative")
		}
	}
	return nil
}

// probeKinds are the kinds of probes lmn-collect runs.
var probeKinds = []string{"tcp", "http", "dns", "exec"}

func normalizeProbe(r *Rule) error {
	switch {
	case r.For.Duration > 0:
		return config.Errorf("for", "a probe rule counts results: want a number of failed checks in a row, such as 3")
	case r.For.Samples == 0:
		r.For = Hold{Samples: defaultProbeHold}
	}
	if r.ResolveAfter == 0 {
		r.ResolveAfter = defaultProbeResolve
	}
	if r.ResolveAfter < 0 {
		return config.Errorf("resolve_after", "want a number of passing checks in a row, at least 1")
	}
	for i, k := range r.ProbeKinds {
		if !contains(probeKinds, k) {
			return config.Errorf(fmt.Sprintf("probe_kinds[%d]", i), "%q: want tcp, http, dns or exec", k)
		}
	}
	return nil
}

func normalizeThreshold(r *Rule) error {
	if err := checkDirection(r); err != nil {
		return err
	}
	if r.Warning == nil && r.Critical == nil {
		return config.Errorf("warning", "a threshold rule needs a warning or a critical level")
	}
	above := r.Direction == "above"
	fire := r.Warning
	if fire == nil {
		fire = r.Critical
	}
	if r.Warning != nil && r.Critical != nil && beyond(*r.Warning, *r.Critical, above) && *r.Warning != *r.Critical {
		return config.Errorf("critical", "%g is not %s the warning level %g", *r.Critical, r.Direction, *r.Warning)
	}
	if r.Clear == nil {
		c := *fire
		r.Clear = &c
	}
	if beyond(*r.Clear, *fire, above) && *r.Clear != *fire {
		return config.Errorf("clear", "%g is %s the fire level %g; the clear level must be on the other side (hysteresis)", *r.Clear, r.Direction, *fire)
	}
	return nil
}

func normalizeTrend(r *Rule) error {
	if err := checkDirection(r); err != nil {
		return err
	}
	switch {
	case r.Limit == nil:
		return config.Errorf("limit", "a trend rule needs the limit it watches for (such as 1 for a full disk)")
	case r.Window <= 0:
		return config.Errorf("window", "want the fit window, such as \"1h\"")
	case r.Horizon <= 0:
		return config.Errorf("horizon", "want how far ahead to look, such as \"6h\"")
	case r.MinHistory > r.Window:
		return config.Errorf("min_history", "%s is longer than the window %s", r.MinHistory, r.Window)
	case r.CriticalHorizon > r.Horizon:
		return config.Errorf("critical_horizon", "must not be longer than horizon")
	case r.ShortWindow >= r.Window:
		return config.Errorf("short_window", "%s is not shorter than the window %s", r.ShortWindow, r.Window)
	}
	if r.ClearHorizon == 0 {
		r.ClearHorizon = r.Horizon * 3 / 2
	}
	if r.ClearHorizon < r.Horizon {
		return config.Errorf("clear_horizon", "must not be shorter than horizon (hysteresis)")
	}
	return nil
}

func checkDirection(r *Rule) error {
	if r.Metric == "" {
		return config.Errorf("metric", "missing: want a sample field such as \"mem.available_ratio\"")
	}
	if r.Direction == "" {
		r.Direction = "above"
	}
	if r.Direction != "above" && r.Direction != "below" {
		return config.Errorf("direction", "%q: want \"above\" or \"below\"", r.Direction)
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
	list               *record.List
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
			return nil, config.Field("metric", err)
		}
		c.list = c.metric.List
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
		return nil, config.Field("summary", err)
	}
	if c.resolved, err = parseTemplate(r.ResolvedSummary); err != nil {
		return nil, config.Field("resolved_summary", err)
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
		return nil, config.Field(field, err)
	}
	if m.List != nil && m.List != c.list {
		want := "a machine-wide metric"
		if c.list != nil {
			want = "a field of " + c.list.Path + " or a machine-wide metric"
		}
		return nil, config.Errorf(field, "%q is a field of %s, want %s", p, m.List.Path, want)
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
			return nil, config.Errorf(at+".metric", "missing")
		}
		if (k.Above == nil) == (k.Below == nil) {
			return nil, config.Errorf(at, "want exactly one of \"above\" and \"below\"")
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
				return nil, config.Errorf(at+".clear", "%g is past the level %g; the clear level must be on the other side", cc.clear, cc.level)
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
