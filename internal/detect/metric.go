package detect

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lmn-heal/lmn/internal/record"
)

// A metric is a number of a sample (a boolean reads 0 or 1) that a rule
// reads, addressed by a path such as "mem.available_ratio" or, inside a list
// of subjects, "disks.mounts[].used_ratio". Paths are resolved once, when
// rules are loaded, into record's generated accessors; evaluating a sample
// calls them directly.
type metric struct {
	*record.Metric
	unit string // how values are written in summaries: see formatValue
}

// value returns the metric for element i of its list (ignored for scalars).
func (m *metric) value(s *record.Sample, i int) (float64, bool) { return m.Value(s, i) }

// unitOf derives how a metric's values read from its name and type.
func unitOf(m *record.Metric) string {
	path := m.Path
	switch {
	case m.Bool:
		return "bool"
	case strings.HasSuffix(path, "_ratio"):
		return "ratio"
	case strings.HasSuffix(path, "_bytes"):
		return "bytes"
	case strings.HasSuffix(path, "_per_s"):
		return "per_s"
	case strings.HasSuffix(path, "_seconds"):
		return "seconds"
	case strings.HasSuffix(path, "celsius"):
		return "celsius"
	}
	return ""
}

// lookupMetric resolves a path, or says which paths exist.
func lookupMetric(path string) (*metric, error) {
	if m, ok := record.MetricOf(path); ok {
		return &metric{Metric: m, unit: unitOf(m)}, nil
	}
	return nil, fmt.Errorf("unknown metric %q (known: %s)", path, nearPaths(path))
}

// nearPaths lists the known paths sharing path's first segment, or all
// group names when none do.
func nearPaths(path string) string {
	first, _, _ := strings.Cut(path, ".")
	var near, groups []string
	seen := map[string]bool{}
	for _, p := range record.MetricPaths() {
		g, _, _ := strings.Cut(p, ".")
		if g == first {
			near = append(near, p)
		}
		if !seen[g] {
			seen[g] = true
			groups = append(groups, g+".…")
		}
	}
	if len(near) == 0 {
		near = groups
	}
	sort.Strings(near)
	return strings.Join(near, ", ")
}
