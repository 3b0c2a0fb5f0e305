package record

import "sort"

// A Field is one leaf of a Sample (a string, number, boolean or time, at a
// path such as "disks.mounts[].used_ratio"). The constants, one per leaf,
// are generated from the struct (sample_fields.go). A reader that needs
// only some fields of a sample names them in a FieldSet, and its
// SampleDecoder parses those and only checks the others.
type Field uint16

// noField stands for no field at all: a metric read from the shape of a
// sample (the length of a list), which every decoder gives.
const noField = ^Field(0)

// Path returns the field's path in the line.
func (f Field) Path() string { return fieldPaths[f] }

// FieldSet is a set of fields.
type FieldSet [(NumFields + 63) / 64]uint64

// Add adds f to the set.
func (s *FieldSet) Add(f Field) { s[f/64] |= 1 << (f % 64) }

// Has reports whether f is in the set.
func (s *FieldSet) Has(f Field) bool { return s[f/64]&(1<<(f%64)) != 0 }

// Contains reports whether every field of o is in s.
func (s *FieldSet) Contains(o FieldSet) bool {
	for i := range s {
		if o[i]&^s[i] != 0 {
			return false
		}
	}
	return true
}

// allFields is every field: a full decode, as json.Unmarshal gives.
var allFields = func() FieldSet {
	var s FieldSet
	for f := range Field(NumFields) {
		s.Add(f)
	}
	return s
}()

// A Metric is a number of a sample that rules read (a boolean reads as 0
// or 1), addressed by a path such as "mem.available_ratio" or, inside a list
// of subjects, "disks.mounts[].used_ratio". The table of metrics is
// generated from the struct.
type Metric struct {
	Path  string
	Field Field // the field it reads
	Bool  bool  // a boolean, read as 0 or 1
	List  *List // the list of subjects it is a field of; nil for a machine-wide metric
	value func(s *Sample, i int) (float64, bool)
}

// Value returns the metric in s, for element i of its list (i is ignored
// for a machine-wide metric); ok is false when s lacks it.
func (m *Metric) Value(s *Sample, i int) (v float64, ok bool) { return m.value(s, i) }

// Needs adds to fs the fields reading m takes: its own, and its list's
// name field.
func (m *Metric) Needs(fs *FieldSet) {
	if m.Field != noField {
		fs.Add(m.Field)
	}
	if m.List != nil {
		fs.Add(m.List.NameField)
		if m.List.ScopeKey != "" {
			fs.Add(m.List.ScopeField)
		}
	}
}

// A List is a list of subjects in a sample: each element is one subject
// (a mount, an interface, ...), named by its NameField and keyed Key in the
// subject of an issue about it.
//
// A list whose subjects are units of a scope (mem.units[]) also has a
// ScopeKey: the element's scope is that key of the subject too, so
// {"unit": "redis.service", "scope": "user"} and the system's
// redis.service are two subjects.
type List struct {
	Path       string // "disks.mounts[]"
	Key        string // "mount"
	NameField  Field
	ScopeKey   string // "scope", or "" for a list without one
	ScopeField Field
	len        func(*Sample) int
	name       func(*Sample, int) string
	scope      func(*Sample, int) string
}

// Len returns how many elements the list has in s.
func (l *List) Len(s *Sample) int { return l.len(s) }

// Name returns the name of element i of the list in s.
func (l *List) Name(s *Sample, i int) string { return l.name(s, i) }

// Scope returns the scope of element i of the list in s, "" for a list
// without a ScopeKey.
func (l *List) Scope(s *Sample, i int) string {
	if l.scope == nil {
		return ""
	}
	return l.scope(s, i)
}

var metricByPath = func() map[string]*Metric {
	m := make(map[string]*Metric, len(metrics))
	for i := range metrics {
		m[metrics[i].Path] = &metrics[i]
	}
	return m
}()

// MetricOf returns the metric at path.
func MetricOf(path string) (*Metric, bool) {
	m, ok := metricByPath[path]
	return m, ok
}

// MetricPaths returns every metric path, sorted.
func MetricPaths() []string {
	out := make([]string, 0, len(metrics))
	for i := range metrics {
		out = append(out, metrics[i].Path)
	}
	sort.Strings(out)
	return out
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
