package record

// Issue states.
const (
	StateFiring   = "firing"
	StateResolved = "resolved"
)

// Issue severities.
const (
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Issue is written by lmn-detect when a problem fires, changes severity, or
// resolves. ID is a stable fingerprint of rule and subject, so the same
// problem keeps one id across records and runs.
type Issue struct {
	Header
	ID        string            `json:"id"`
	Rule      string            `json:"rule"`
	Subject   map[string]string `json:"subject"`
	State     string            `json:"state"`
	Severity  string            `json:"severity"`
	Value     float64           `json:"value"`
	Threshold float64           `json:"threshold"`
	// Since is when the condition began (when it was first seen past the
	// fire level, before the hold time).
	Since   Time   `json:"since"`
	Summary string `json:"summary"`
	// ETASeconds is set by trend rules: the time until the limit is reached.
	ETASeconds *float64 `json:"eta_seconds,omitempty"`
	// Flapping is set while the subject is held firing because it fired and
	// resolved too often.
	Flapping bool `json:"flapping,omitempty"`
	// Fingerprint and Labels are set on issues made from Alertmanager
	// alerts (rule "alertmanager"): the alert's fingerprint, and its
	// labels, which lmn-heal's policy matches.
	Fingerprint string            `json:"fingerprint,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}
