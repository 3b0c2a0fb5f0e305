package detect

import (
	"testing"

	"github.com/lmn-heal/lmn/internal/record"
)

// Every rule name other binaries use is a built-in rule.
func TestVocabulary(t *testing.T) {
	names := map[string]bool{}
	for _, r := range Defaults().file.Rules {
		names[r.Name] = true
	}
	for _, n := range []string{RuleMemPressure, RuleCPUPressure, RuleIOPressure, RuleSwapExhaustion, RuleDiskUsage,
		RuleInodeUsage, RuleNixStoreUsage, RuleNoDefaultRoute, RuleInterfaceDown, RuleTemperature, RuleUnitFailed,
		RuleProbeFailed, RuleDNSFailure, RuleUnitMemoryNearLimit, RuleUnitMemoryPressure, RuleUnitOOMKilled} {
		if !names[n] {
			t.Errorf("%s is not a built-in rule", n)
		}
	}
}

func TestSeverity(t *testing.T) {
	r := Defaults()
	high, crit := 70.0, 90.0
	s := withMount(withMount(at(0), "/", 0.97), "/home", 0.86)
	s.Mem = &record.Mem{AvailableRatio: 0.07}
	s.Net = &record.Net{DefaultRoute: false}
	s.Temps = &record.Temps{Sensors: []record.Sensor{{Sensor: "cpu", Celsius: 75, HighCelsius: &high, CritCelsius: &crit}, {Sensor: "gpu", Celsius: 75}}}
	for _, tc := range []struct{ rule, subject, want string }{
		{RuleDiskUsage, "/", record.SeverityCritical},
		{RuleDiskUsage, "/home", record.SeverityWarning},
		{RuleDiskUsage, "/gone", ""},
		{RuleMemPressure, "", record.SeverityWarning}, // below 0.10, above 0.05
		{RuleNoDefaultRoute, "", record.SeverityCritical},
		{RuleTemperature, "cpu", record.SeverityWarning}, // its own high level
		{RuleTemperature, "gpu", ""},                     // the rule's 85 °C
		{RuleSwapExhaustion, "", ""},                     // no swap group
		{RuleInterfaceDown, "", ""},                      // disabled by default
		{RuleUnitFailed, "", ""},                         // not a threshold rule
	} {
		if got := r.Severity(tc.rule, s, tc.subject); got != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.rule, tc.subject, got, tc.want)
		}
	}
}
