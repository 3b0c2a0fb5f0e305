package heal

import (
	"fmt"
	"slices"

	"github.com/lmn-heal/lmn/internal/detect"
	"github.com/lmn-heal/lmn/internal/record"
)

// factFields are the fields of a sample the engine reads: facts about
// mounts (what they hold, how full they are), the units' own cgroups and
// the probes' latest results.
var factFields = func() (fs record.FieldSet) {
	for _, f := range []record.Field{
		record.FieldMemUnitsUnit, record.FieldMemUnitsScope, record.FieldMemUnitsMemoryBytes,
		record.FieldMemUnitsMaxBytes, record.FieldMemUnitsPressureSomeAvg10Ratio,
		record.FieldDisksMountsMount, record.FieldDisksMountsHoldsNixStore, record.FieldDisksMountsHoldsVarLog,
		record.FieldDisksMountsUsedRatio, record.FieldDisksMountsInodesUsedRatio,
		record.FieldProbesName, record.FieldProbesUnit, record.FieldProbesScope, record.FieldProbesKind,
		record.FieldProbesOK, record.FieldProbesLatencySeconds, record.FieldProbesCheckedAt,
		record.FieldProbesError, record.FieldProbesStreak,
	} {
		fs.Add(f)
	}
	return fs
}()

// fill is how full a mount is, in bytes and in inodes.
type fill struct{ used, inodes float64 }

// sampleFacts decodes the facts of the latest sample, once. A field of
// the wrong type leaves only itself out: the decoder then gives what
// json.Unmarshal could decode, so a malformed mem.top_units does not hide
// the mounts' facts.
func (e *Engine) sampleFacts() {
	if !e.sampleFresh {
		return
	}
	e.sampleFresh = false
	var s record.Sample
	e.dec.Decode(e.sample, &s)
	e.units = e.units[:0]
	if s.Mem != nil {
		for _, u := range s.Mem.Units {
			e.units = append(e.units, evidenceOf(u))
		}
	}
	clear(e.probes)
	for _, p := range s.Probes {
		e.probes[p.Name] = p
	}
	if s.Disks == nil {
		return
	}
	for _, m := range s.Disks.Mounts {
		e.facts[m.Mount] = map[string]string{
			"holds_nix_store": fmt.Sprint(m.HoldsNixStore),
			"holds_var_log":   fmt.Sprint(m.HoldsVarLog),
		}
		e.fills[m.Mount] = fill{used: m.UsedRatio, inodes: m.InodesUsedRatio}
	}
}

// trusted are the variables lmn-heal fills itself: command prefixes that
// advice writes as they are. Every other value comes from the stream and
// is quoted as one shell word wherever advice shows it.
var trusted = []string{"systemctl", "journalctl"}

// vars are the template and match variables of an issue: its subject,
// facts the stream gave about it, and an alert's labels (labels.go).
func (e *Engine) vars(is record.Issue) map[string]string {
	v := map[string]string{"rule": is.Rule, "issue": is.ID}
	for k, val := range is.Subject {
		v[k] = val
	}
	if u, ok := is.Subject["unit"]; ok && u != "" {
		// The commands a person runs for this unit, in its scope.
		v["systemctl"], v["journalctl"] = "systemctl", "journalctl"
		if is.Subject["scope"] == "user" {
			v["systemctl"], v["journalctl"] = "systemctl --user", "journalctl --user"
		}
	}
	if m, ok := is.Subject["mount"]; ok {
		e.sampleFacts()
		for k, val := range e.facts[m] {
			v[k] = val
		}
	}
	if slices.Contains(memoryRules, is.Rule) {
		e.sampleFacts()
		if u, ok := pressured(e.units, e.cfg.AllowUnit); ok {
			v["pressured_unit"], v["pressured_scope"] = u.Unit, u.Scope
		}
	}
	addLabels(v, is.Labels)
	return v
}

// memoryRules are the issues whose ladders may act on the unit under
// memory pressure ({{pressured_unit}}, {{pressured_scope}}).
var memoryRules = []string{detect.RuleMemPressure, detect.RuleSwapExhaustion}

// missingWhy explains, in a skipped step's note, variables the stream
// often lacks for a reason worth saying.
var missingWhy = map[string]string{
	"pressured_unit": "the stream shows no unit whose own cgroup is under memory pressure, and lmn-heal does not guess " +
		"(restarting the largest unit loses what it holds)",
	"rollback_to": "no generation to roll back to: none is known good, and the one that ran before is rejected, " +
		"judged unhealthy too or no generation of the profile",
}

// unitEvidence is what the stream says about one unit's own memory: what
// it uses and, where the sample carries them, its cgroup's limit
// (memory.max) and memory pressure (memory.pressure some avg10).
type unitEvidence struct {
	Unit, Scope  string
	Current      uint64
	Max          *uint64
	PressureSome *float64
}

// evidenceOf reads a mem.units entry: the unit's own cgroup as the
// sample carries it (the five largest services and the probes' units).
// It copies every value, for the decoder's storage is reused.
func evidenceOf(u record.UnitResources) unitEvidence {
	ev := unitEvidence{Unit: u.Unit, Scope: u.Scope}
	if u.MemoryBytes != nil {
		ev.Current = *u.MemoryBytes
	}
	if u.MaxBytes != nil {
		m := *u.MaxBytes
		ev.Max = &m
	}
	if u.Pressure != nil && u.Pressure.Some != nil {
		p := u.Pressure.Some.Avg10Ratio
		ev.PressureSome = &p
	}
	return ev
}

// The levels at which a unit's own cgroup counts as under memory pressure.
const (
	unitPressureLevel = 0.10 // memory.pressure some avg10
	unitFullLevel     = 0.90 // memory.current / memory.max
)

// pressured returns the unit whose own cgroup is under memory pressure,
// the most stalled first, then the fullest against its own limit, among
// those allow lets restart_unit touch (nil allows all). ok is false when
// no unit shows it: size alone is no evidence.
func pressured(units []unitEvidence, allow func(string) bool) (unitEvidence, bool) {
	var best unitEvidence
	score := 0.0
	for _, u := range units {
		if u.Unit == "" || u.Scope != "system" && u.Scope != "user" || allow != nil && !allow(u.Unit) {
			continue
		}
		s := 0.0
		if u.PressureSome != nil && *u.PressureSome >= unitPressureLevel {
			s = 1 + *u.PressureSome // stalling ranks above being full
		}
		if u.Max != nil && *u.Max > 0 {
			if f := float64(u.Current) / float64(*u.Max); f >= unitFullLevel && f > s {
				s = f
			}
		}
		if s > score {
			best, score = u, s
		}
	}
	return best, score > 0
}

// actScope is the scope an action of t's ladder runs in: the subject's
// ("user" for a user unit), or, for an action on the pressured unit, that
// unit's, so a user service is restarted with systemctl --user.
func actScope(t *tracked, params map[string]string) string {
	if s := t.Subject["scope"]; s != "" {
		return s
	}
	if u := t.Vars["pressured_unit"]; u != "" && params["unit"] == u {
		return t.Vars["pressured_scope"]
	}
	return ""
}
