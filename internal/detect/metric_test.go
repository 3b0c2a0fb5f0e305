package detect

import "testing"

// Every metric has the unit its summaries are written in: booleans read
// yes or no, and the suffixes name the rest.
func TestMetricUnits(t *testing.T) {
	for path, want := range map[string]string{
		"mem.available_ratio": "ratio", "mem.total_bytes": "bytes", "swap.in_pages_per_s": "per_s",
		"psi.io.some.total_seconds": "seconds", "temps.sensors[].high_celsius": "celsius",
		"net.interfaces[].up": "bool", "disks.mounts[].holds_var_log": "bool", "net.default_route": "bool",
		"load.runnable": "", "units.failed_count": "",
	} {
		m, err := lookupMetric(path)
		if err != nil {
			t.Fatal(err)
		}
		if m.unit != want {
			t.Errorf("%s: unit %q, want %q", path, m.unit, want)
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
