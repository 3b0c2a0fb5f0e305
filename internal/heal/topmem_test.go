package heal

import (
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// memSampleLine is a sample whose mem group lists top (nil: a sample
// without mem.top_units).
func memSampleLine(t testing.TB, ts time.Time, top ...record.UnitMemory) record.Line {
	t.Helper()
	s := record.Sample{
		Header: record.NewHeader(record.KindSample, "lmn-collect", "h", ts),
		Mem:    &record.Mem{TotalBytes: 8 << 30, AvailableBytes: 1 << 28, TopUnits: top},
	}
	return lineOfRecord(t, s, record.KindSample)
}

func sys(unit string, b uint64) record.UnitMemory {
	return record.UnitMemory{Unit: unit, Scope: "system", MemoryBytes: b}
}

func usr(unit string, b uint64) record.UnitMemory {
	return record.UnitMemory{Unit: unit, Scope: "user", MemoryBytes: b}
}

// notDbus stands in for the catalogue's unit policy (action.UnitPolicy),
// which cmd/lmn-heal wires in: here it refuses dbus* and user@*.
func notDbus(unit string) bool {
	return !strings.HasPrefix(unit, "dbus") && !strings.HasPrefix(unit, "user@")
}

func TestTopMemoryUnit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rule    string
		samples [][]record.UnitMemory // one sample each, in order
		unit    string                // the restart planned; "" for none
		scope   string
	}{
		{"largest", "mem_pressure", [][]record.UnitMemory{{sys("postgresql.service", 900), sys("nginx.service", 300)}},
			"postgresql.service", "system"},
		{"swap exhaustion too", "swap_exhaustion", [][]record.UnitMemory{{sys("java.service", 5)}}, "java.service", "system"},
		{"largest the policy allows", "mem_pressure",
			[][]record.UnitMemory{{sys("dbus.service", 900), sys("user@1000.service", 800), sys("nginx.service", 300)}},
			"nginx.service", "system"},
		{"a user service", "mem_pressure", [][]record.UnitMemory{{usr("syncthing.service", 900), sys("nginx.service", 300)}},
			"syncthing.service", "user"},
		{"entries without a name or a known scope skipped", "mem_pressure",
			[][]record.UnitMemory{{{Unit: "", Scope: "system", MemoryBytes: 9}, {Unit: "x.service", Scope: "machine", MemoryBytes: 8}, sys("ok.service", 1)}},
			"ok.service", "system"},
		{"the latest sample counts", "mem_pressure", [][]record.UnitMemory{{sys("old.service", 900)}, {sys("new.service", 100)}},
			"new.service", "system"},
		{"latest sample without top_units", "mem_pressure", [][]record.UnitMemory{{sys("old.service", 900)}, nil}, "", ""},
		{"every unit refused", "mem_pressure", [][]record.UnitMemory{{sys("dbus.service", 900)}}, "", ""},
		{"no sample at all", "mem_pressure", nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, false)
			h.e.cfg.AllowUnit = notDbus
			for i, top := range tc.samples {
				h.observe(memSampleLine(t, t0.Add(time.Duration(i-len(tc.samples))*time.Second), top...))
			}
			h.observe(issueLine(t, t0, tc.rule, record.StateFiring, record.SeverityWarning, map[string]string{}))
			if tc.unit == "" {
				h.want("2:advise:advised")
				if a := h.recs[0].Advice; !strings.Contains(a, "step 1 (restart_unit) skipped: the stream gives no top_memory_unit") {
					t.Errorf("advice = %q", a)
				}
				if len(h.all) != 0 {
					t.Errorf("jobs = %+v", h.all)
				}
				return
			}
			h.want("1:restart_unit:started")
			j := h.all[0]
			if j.Action != "restart_unit" || j.Params["unit"] != tc.unit || j.Scope != tc.scope {
				t.Errorf("job = %+v, want restart_unit %s in scope %s", j, tc.unit, tc.scope)
			}
			if r := h.recs[0]; r.Params["unit"] != tc.unit || len(r.Subject) != 0 {
				t.Errorf("started record = %+v", r)
			}
		})
	}
}

// The variables exist for memory issues only, and the ladder goes on to
// verification like any other.
func TestTopMemoryUnitLadder(t *testing.T) {
	h := newHarness(t, nil, false)
	h.observe(memSampleLine(t, t0, usr("syncthing.service", 900)))
	h.observe(issueLine(t, t0, "disk_usage", record.StateFiring, record.SeverityWarning, map[string]string{"mount": "/"}))
	for _, tr := range h.e.st.Issues {
		if _, ok := tr.Vars["top_memory_unit"]; ok {
			t.Errorf("disk_usage issue got top_memory_unit: %v", tr.Vars)
		}
	}
	h = newHarness(t, nil, false)
	h.observe(memSampleLine(t, t0, usr("syncthing.service", 900)))
	h.observe(issueLine(t, t0, "mem_pressure", record.StateFiring, record.SeverityWarning, map[string]string{}))
	j := h.complete(ok)
	if j.Scope != "user" || h.e.target(j.Action, j.Params, j.Scope) != "user:unit:syncthing.service" {
		t.Errorf("job %+v: want the user's unit", j)
	}
	h.observe(memSampleLine(t, at(t, "1m")))
	h.observe(issueLine(t, at(t, "90s"), "mem_pressure", record.StateResolved, record.SeverityWarning, map[string]string{}))
	h.want("1:restart_unit:started 1:restart_unit:succeeded 1:restart_unit:verified:recovered")
	if v := h.recs[2]; v.Params["unit"] != "syncthing.service" {
		t.Errorf("verified record = %+v", v)
	}
}

// A top unit that keeps failing to restart trips the breaker; the advice
// then gives the command in the unit's scope.
func TestTopMemoryUnitGaveUpAdvice(t *testing.T) {
	h := newHarness(t, nil, false)
	var cmdScope string
	h.e.cfg.Command = func(a string, _ map[string]string, scope string) string { cmdScope = scope; return "cmd " + a }
	for i := range 4 {
		ts := t0.Add(time.Duration(i) * time.Hour / 8)
		h.observe(memSampleLine(t, ts, usr("syncthing.service", 900)))
		h.observe(issueLine(t, ts, "mem_pressure", record.StateFiring, record.SeverityWarning, map[string]string{"n": string(rune('a' + i))}))
		for len(h.jobs) > 0 {
			h.complete(Result{Tier: record.TierUnprivileged, Err: "exit status 1"})
		}
	}
	var gave *record.Heal
	for i := range h.recs {
		if h.recs[i].Phase == record.PhaseGaveUp {
			gave = &h.recs[i]
		}
	}
	if gave == nil {
		t.Fatalf("no gave_up record: %s", h.phases())
	}
	if cmdScope != "user" || gave.Params["unit"] != "syncthing.service" || !strings.Contains(gave.Advice, "to retry by hand: cmd restart_unit") {
		t.Errorf("gave_up %+v (command scope %q)", gave, cmdScope)
	}
}

// A malformed mem.top_units gives no unit and does not hide the mounts'
// facts of the same sample.
func TestTopMemoryUnitMalformed(t *testing.T) {
	h := newHarness(t, nil, false)
	raw := `{"kind":"sample","v":1,"ts":"2026-11-26T18:00:00Z","mem":{"top_units":"postgresql.service"},` +
		`"disks":{"mounts":[{"mount":"/","holds_nix_store":true}]}}`
	h.observe(record.Line{N: 1, Raw: []byte(raw + "\n"), Kind: record.KindSample})
	h.observe(issueLine(t, t0, "mem_pressure", record.StateFiring, record.SeverityWarning, map[string]string{}))
	h.observe(issueLine(t, t0, "disk_usage", record.StateFiring, record.SeverityWarning, map[string]string{"mount": "/"}))
	h.want("2:advise:advised 1:nix_gc:started")
}
