package heal

import (
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// memSampleLine is a sample whose mem group lists units' own cgroups
// (none: a sample without mem.units).
func memSampleLine(t testing.TB, ts time.Time, units ...record.UnitResources) record.Line {
	t.Helper()
	s := record.Sample{
		Header: record.NewHeader(record.KindSample, "lmn-collect", "h", ts),
		Mem:    &record.Mem{TotalBytes: 8 << 30, AvailableBytes: 1 << 28, Units: units},
	}
	return lineOfRecord(t, s, record.KindSample)
}

func sys(unit string, b uint64) record.UnitResources {
	return record.UnitResources{Unit: unit, Scope: "system", MemoryBytes: &b}
}

func usr(unit string, b uint64) record.UnitResources {
	return record.UnitResources{Unit: unit, Scope: "user", MemoryBytes: &b}
}

// stalled is u with its cgroup's memory.pressure some avg10 at p.
func stalled(u record.UnitResources, p float64) record.UnitResources {
	u.Pressure = &record.Pressure{Some: &record.PressureLine{Avg10Ratio: p}, Full: &record.PressureLine{Avg10Ratio: p / 2}}
	return u
}

// notDbus stands in for the catalogue's unit policy (action.UnitPolicy),
// which cmd/lmn-heal wires in: here it refuses dbus* and user@*.
func notDbus(unit string) bool {
	return !strings.HasPrefix(unit, "dbus") && !strings.HasPrefix(unit, "user@")
}

func f64(v float64) *float64 { return &v }
func u64(v uint64) *uint64   { return &v }

// TestPressuredUnit: the unit chosen is the one whose own cgroup is under
// memory pressure, never merely the largest; none when no unit shows it.
func TestPressuredUnit(t *testing.T) {
	const mib = 1 << 20
	redis := unitEvidence{Unit: "redis-server.service", Scope: "system", Current: 447 * mib}
	thrash := unitEvidence{Unit: "thrash.service", Scope: "system", Current: 255 * mib, Max: u64(256 * mib), PressureSome: f64(0.62)}
	full := unitEvidence{Unit: "leak.service", Scope: "user", Current: 240 * mib, Max: u64(256 * mib)}
	calm := unitEvidence{Unit: "web.service", Scope: "system", Current: 100 * mib, Max: u64(1024 * mib), PressureSome: f64(0.01)}
	for _, tc := range []struct {
		name  string
		units []unitEvidence
		want  string
	}{
		{"the thrashing unit, not the idle giant", []unitEvidence{redis, thrash}, "thrash.service"},
		{"stalling beats nearly full", []unitEvidence{full, thrash}, "thrash.service"},
		{"nearly full against its own limit", []unitEvidence{redis, full, calm}, "leak.service"},
		{"size alone is no evidence", []unitEvidence{redis, calm}, ""},
		{"nothing known", nil, ""},
		{"refused by the unit policy", []unitEvidence{{Unit: "dbus.service", Scope: "system", Current: 1, PressureSome: f64(0.9)}}, ""},
		{"an unknown scope", []unitEvidence{{Unit: "x.service", Scope: "machine", PressureSome: f64(0.9)}}, ""},
	} {
		got, ok := pressured(tc.units, notDbus)
		if got.Unit != tc.want || ok != (tc.want != "") {
			t.Errorf("%s: pressured = %q %v, want %q", tc.name, got.Unit, ok, tc.want)
		}
	}
}

// TestMemoryPressureSparesTheLargest: a stream that names units and their
// memory use only (no limit, no pressure of their own). The built-in
// mem_pressure ladder used to restart the largest (an idle redis, its keys
// lost) and leave the thrashing unit running; it advises, and says why.
func TestMemoryPressureSparesTheLargest(t *testing.T) {
	for _, rule := range memoryRules {
		h := newHarness(t, nil, false)
		h.e.cfg.AllowUnit = notDbus
		h.observe(memSampleLine(t, t0, sys("redis-server.service", 447<<20), sys("thrash.service", 255<<20)))
		h.observe(issueLine(t, t0, rule, record.StateFiring, record.SeverityCritical, map[string]string{}))
		h.want("2:advise:advised")
		if len(h.all) != 0 {
			t.Errorf("%s: jobs %+v", rule, h.all)
		}
		if a := h.recs[0].Advice; !strings.Contains(a, "lmn-heal does not guess") {
			t.Errorf("%s: advice %q", rule, a)
		}
	}
}

// TestPressuredUnitLadder: where the stream shows a unit's own pressure
// (mem.units[].pressure, as lmn-collect reads it), that unit is
// restarted, in its scope, and the ladder verifies as any other.
func TestPressuredUnitLadder(t *testing.T) {
	h := newHarness(t, nil, false)
	h.observe(memSampleLine(t, t0, sys("postgresql.service", 900), stalled(usr("syncthing.service", 300), 0.5)))
	h.observe(issueLine(t, t0, "disk_usage", record.StateFiring, record.SeverityWarning, map[string]string{"mount": "/"}))
	for _, tr := range h.e.issues {
		if _, ok := tr.Vars["pressured_unit"]; ok {
			t.Errorf("disk_usage issue got pressured_unit: %v", tr.Vars)
		}
	}
	h.observe(issueLine(t, t0, "mem_pressure", record.StateFiring, record.SeverityWarning, map[string]string{}))
	j := h.complete(ok)
	if j.Params["unit"] != "syncthing.service" || j.Scope != "user" || h.e.target(j.Action, j.Params, j.Scope) != "user:unit:syncthing.service" {
		t.Errorf("job %+v: want the user's pressured unit", j)
	}
	h.observe(memSampleLine(t, at(t, "1m")))
	h.observe(issueLine(t, at(t, "90s"), "mem_pressure", record.StateResolved, record.SeverityWarning, map[string]string{}))
	if len(h.jobs) != 1 || !h.jobs[0].Check || h.jobs[0].Scope != "user" || h.jobs[0].Params["unit"] != "syncthing.service" {
		t.Fatalf("no check of the restarted unit: %+v", h.jobs)
	}
	h.unitIs("active/running")
	h.want("1:advise:advised 1:restart_unit:started 1:restart_unit:succeeded 1:restart_unit:verified:recovered")
}

// A malformed mem.units gives no unit and does not hide the mounts'
// facts of the same sample: the disk issue finds the Nix store's ladder
// (whose steps are held back: the disk is not nearly full).
func TestMemUnitsMalformed(t *testing.T) {
	h := newHarness(t, nil, false)
	raw := `{"kind":"sample","v":1,"ts":"2026-11-26T18:00:00Z","mem":{"units":"postgresql.service"},` +
		`"disks":{"mounts":[{"mount":"/","used_ratio":0.5,"holds_nix_store":true}]}}`
	h.observe(record.Line{N: 1, Raw: []byte(raw + "\n"), Kind: record.KindSample})
	h.observe(issueLine(t, t0, "mem_pressure", record.StateFiring, record.SeverityWarning, map[string]string{}))
	h.observe(issueLine(t, t0, "disk_usage", record.StateFiring, record.SeverityWarning, map[string]string{"mount": "/"}))
	h.want("2:advise:advised 3:advise:advised")
	if a := h.recs[1].Advice; !strings.Contains(a, "step 1 (nix_gc) held back: / is 50% full") {
		t.Errorf("advice %q", a)
	}
}
