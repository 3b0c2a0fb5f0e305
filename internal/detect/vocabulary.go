package detect

import "github.com/lmn-heal/lmn/internal/record"

// The built-in rules other binaries name: lmn-heal lets the memory rules
// act on the unit whose own cgroup is under pressure and verifies a probe
// rule's step by the probe, lmn-dash colours a line by the rule about it. TestVocabulary holds them to defaults.json.
const (
	RuleMemPressure    = "mem_pressure"
	RuleCPUPressure    = "cpu_pressure"
	RuleIOPressure     = "io_pressure"
	RuleSwapExhaustion = "swap_exhaustion"
	RuleDiskUsage      = "disk_usage"
	RuleInodeUsage     = "inode_usage"
	RuleNixStoreUsage  = "nix_store_usage"
	RuleNoDefaultRoute = "no_default_route"
	RuleInterfaceDown  = "interface_down"
	RuleTemperature    = "temperature"
	RuleUnitFailed     = "unit_failed"
	// Service health: a failing probe, and a unit's own cgroup.
	RuleProbeFailed         = "probe_failed"
	RuleDNSFailure          = "dns_failure"
	RuleUnitMemoryNearLimit = "unit_memory_near_limit"
	RuleUnitMemoryPressure  = "unit_memory_pressure"
	RuleUnitOOMKilled       = "unit_oom_killed"
)

// Subject keys of the rules that judge something other than an element
// of a sample's list (whose keys the list names, record.MetricOf): a
// failed unit, a probe, a generation switch. lmn-heal's ladders may put
// them in {{placeholders}}.
const (
	SubjectUnit       = "unit"
	SubjectScope      = "scope"
	SubjectProbe      = "probe"
	SubjectGeneration = "generation"  // the system profile's generation now running
	SubjectSystem     = "system"      // the store path of the running system
	SubjectRollbackTo = "rollback_to" // the generation to go back to
)

// SubjectKeys lists them.
var SubjectKeys = []string{SubjectUnit, SubjectScope, SubjectProbe, SubjectGeneration, SubjectSystem, SubjectRollbackTo}

// Severity returns the severity the value of the enabled threshold rule
// called name has in s against the rule's levels, per-subject levels
// (warning_from, critical_from) included: record.SeverityCritical,
// record.SeverityWarning, or "" when it is short of them, s lacks it or
// there is no such rule. subject names the element of the rule's list
// ("/home" for a mount); it is ignored for a machine-wide rule. The hold
// time and further conditions, which only the engine tracks over time,
// are not asked: this is what a reader showing values (lmn-dash before
// any issue came) colours them by.
func (r *Rules) Severity(name string, s *record.Sample, subject string) string {
	var c *rule
	for _, x := range r.compiled {
		if x.Name == name && x.Kind == KindThreshold {
			c = x
		}
	}
	if c == nil {
		return ""
	}
	j := 0
	if c.list != nil {
		j = -1
		for k := range c.list.Len(s) {
			if c.list.Name(s, k) == subject {
				j = k
				break
			}
		}
	}
	v, ok := c.metric.value(s, j)
	if !ok {
		return ""
	}
	l := c.levels(s, j)
	switch {
	case l.hasCrit && beyond(v, l.crit, c.above):
		return record.SeverityCritical
	case l.hasWarn && beyond(v, l.warn, c.above):
		return record.SeverityWarning
	}
	return ""
}
