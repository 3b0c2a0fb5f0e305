package detect

import (
	"reflect"
	"strings"
	"testing"

	"github.com/lmn-heal/lmn/internal/detect/detecttest"
	"github.com/lmn-heal/lmn/internal/record"
)

// Every numeric or boolean field of a sample has a path, so a field added
// to record.Sample fails here until it is addressable by rules.
func TestEveryNumericFieldHasAPath(t *testing.T) {
	var paths []string
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		switch typ.Kind() {
		case reflect.Struct:
			for i := range typ.NumField() {
				f := typ.Field(i)
				if f.Anonymous { // the header: kind, ts, host, src
					continue
				}
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				p := name
				if prefix != "" {
					p = prefix + "." + name
				}
				walk(p, f.Type)
			}
		case reflect.Slice:
			walk(prefix+"[]", typ.Elem())
		case reflect.Float64, reflect.Int, reflect.Uint64, reflect.Bool:
			paths = append(paths, prefix)
		}
	}
	walk("", reflect.TypeFor[record.Sample]())
	for _, p := range paths {
		if p == "seq" || strings.HasPrefix(p, "units.") {
			continue // a counter, and the failed units have a kind of their own
		}
		if _, ok := metrics[p]; !ok {
			t.Errorf("no metric path for sample field %s", p)
		}
	}
	if len(paths) < 60 {
		t.Errorf("found only %d fields; the walk is broken", len(paths))
	}
}

func TestMetricValues(t *testing.T) {
	s := detecttest.Template()
	tests := []struct {
		path string
		j    int
		want float64
		ok   bool
	}{
		{"mem.available_ratio", 0, 0.5, true},
		{"mem.total_bytes", 0, 4 << 30, true},
		{"psi.io.some.total_seconds", 0, 30, true},
		{"psi.cpu.some.avg10_ratio", 0, 0.01, true},
		{"net.default_route", 0, 1, true},
		{"disks.mounts[].used_ratio", 2, 0.3, true},
		{"disks.mounts[].read_only", 3, 1, true},
		{"disks.mounts[].read_only", 0, 0, true},
		{"disks.mounts[].used_ratio", 9, 0, false},
		{"net.interfaces[].up", 2, 0, true},
		{"temps.sensors[].crit_celsius", 0, 105, true},
		{"temps.sensors[].high_celsius", 0, 0, false},
		{"units.failed_count", 0, 0, true},
		{"nix.generations", 0, 12, true},
	}
	for _, tt := range tests {
		m, err := lookupMetric(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := m.value(&s, tt.j)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s[%d] = %v, %v; want %v, %v", tt.path, tt.j, got, ok, tt.want, tt.ok)
		}
	}
	var empty record.Sample
	for p, m := range metrics {
		if m.list != nil {
			if n := m.list.n(&empty); n != 0 {
				t.Errorf("%s: empty sample has %d subjects", p, n)
			}
			continue
		}
		if _, ok := m.value(&empty, 0); ok && p != "interval_seconds" {
			t.Errorf("%s: empty sample has a value", p)
		}
	}
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		v    float64
		unit string
		want string
	}{
		{0.93, "ratio", "93%"},
		{0.9312, "ratio", "93.1%"},
		{0.05, "ratio", "5%"},
		{87.25, "celsius", "87.3 °C"},
		{3 << 30, "bytes", "3 GiB"},
		{1536, "bytes", "1.5 KiB"},
		{11400, "seconds", "3h 10m"},
		{45, "seconds", "45s"},
		{90, "seconds", "1m 30s"},
		{2*86400 + 4*3600, "seconds", "2d 4h"},
		{1, "bool", "yes"},
		{2.5, "", "2.5"},
	}
	for _, tt := range tests {
		if got := formatValue(tt.v, tt.unit); got != tt.want {
			t.Errorf("formatValue(%v, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}
