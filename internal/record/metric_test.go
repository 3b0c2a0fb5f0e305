package record

import "testing"

func f64(v float64) *float64 { return &v }

// TestMetricValues reads metrics of a realistic sample through the
// generated accessors, and of an empty one, which has none but its own.
func TestMetricValues(t *testing.T) {
	s := Sample{
		Mem:    &Mem{TotalBytes: 4 << 30, AvailableRatio: 0.5},
		PSI:    &PSI{CPU: &Pressure{Some: &PressureLine{Avg10Ratio: 0.01}}, IO: &Pressure{Some: &PressureLine{TotalSeconds: 30}}},
		Disks:  &Disks{Mounts: []Mount{{Mount: "/"}, {Mount: "/boot"}, {Mount: "/home", UsedRatio: 0.3}, {Mount: "/nix/store", ReadOnly: true}}},
		Net:    &Net{DefaultRoute: true, Interfaces: []Interface{{Name: "lo", Up: true}, {Name: "eth0", Up: true}, {Name: "wlan0"}}},
		Units:  &Units{Scope: "system", Failed: []Unit{}},
		Temps:  &Temps{Sensors: []Sensor{{Sensor: "thermal_zone0", CritCelsius: f64(105)}}},
		Nix:    &Nix{Generations: 12},
		Probes: []ProbeResult{{Name: "redis", OK: false, Streak: 3}},
	}
	s.Mem.Units = []UnitResources{{Unit: "redis.service", Scope: "user", MaxUsedRatio: f64(0.95),
		Pressure: &Pressure{Some: &PressureLine{Avg10Ratio: 0.2}}}, {Unit: "web.service", Scope: "system"}}
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
		{"mem.units[].max_used_ratio", 0, 0.95, true},
		{"mem.units[].max_used_ratio", 1, 0, false},
		{"mem.units[].pressure.some.avg10_ratio", 0, 0.2, true},
		{"mem.units[].pressure.full.avg10_ratio", 0, 0, false},
		{"probes[].ok", 0, 0, true},
		{"probes[].streak", 0, 3, true},
	}
	for _, tt := range tests {
		m, found := MetricOf(tt.path)
		if !found {
			t.Fatalf("no metric %s", tt.path)
		}
		got, ok := m.Value(&s, tt.j)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s[%d] = %v, %v; want %v, %v", tt.path, tt.j, got, ok, tt.want, tt.ok)
		}
	}
	units, _ := MetricOf("mem.units[].oom_kills")
	if l := units.List; l.Key != "unit" || l.ScopeKey != "scope" || l.Name(&s, 0) != "redis.service" || l.Scope(&s, 0) != "user" || l.Scope(&s, 1) != "system" {
		t.Errorf("mem.units[] subjects: %+v", l)
	}
	if probes, _ := MetricOf("probes[].ok"); probes.List.Key != "probe" || probes.List.Name(&s, 0) != "redis" || probes.List.Scope(&s, 0) != "" {
		t.Errorf("probes[] subjects: %+v", probes.List)
	}
	var empty Sample
	for _, p := range MetricPaths() {
		m, _ := MetricOf(p)
		if m.List != nil {
			if n := m.List.Len(&empty); n != 0 {
				t.Errorf("%s: empty sample has %d subjects", p, n)
			}
			continue
		}
		if _, ok := m.Value(&empty, 0); ok && p != "interval_seconds" {
			t.Errorf("%s: empty sample has a value", p)
		}
	}
}
