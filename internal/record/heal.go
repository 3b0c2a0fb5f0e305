package record

// Heal phases.
const (
	PhasePlanned   = "planned"
	PhaseStarted   = "started"
	PhaseSucceeded = "succeeded"
	PhaseFailed    = "failed"
	PhaseVerified  = "verified"
	PhaseAdvised   = "advised"
	PhaseGaveUp    = "gave_up"
	PhaseRestored  = "restored"
	// PhaseHeld: an action was held because healing is paused.
	PhaseHeld = "held"
)

// Heal outcomes, set on PhaseVerified records.
const (
	OutcomeRecovered    = "recovered"
	OutcomeNotRecovered = "not_recovered"
	OutcomeWorse        = "worse"
	// OutcomeRolledBack: a step that switched the system to another
	// generation (switch_generation) healed the issue.
	OutcomeRolledBack = "rolled_back"
)

// Permission tiers, in ladder order.
const (
	TierUnprivileged = "unprivileged"
	TierPrivd        = "privd"
	TierSudo         = "sudo"
	TierFallback     = "fallback"
	TierAdvise       = "advise"
)

// Heal is written by lmn-heal for every step it plans, runs, verifies or
// gives up on.
type Heal struct {
	Header
	Issue   string            `json:"issue"`
	Rule    string            `json:"rule,omitempty"`
	Subject map[string]string `json:"subject,omitempty"`
	Action  string            `json:"action"`
	Params  map[string]string `json:"params,omitempty"`
	Step    int               `json:"step"`
	Phase   string            `json:"phase"`
	Tier    string            `json:"tier,omitempty"`
	// Denied says, for each tier passed over, why it could not act.
	Denied     map[string]string `json:"denied,omitempty"`
	Attempt    int               `json:"attempt,omitempty"`
	DurationMS *float64          `json:"duration_ms,omitempty"`
	Outcome    string            `json:"outcome,omitempty"`
	Error      string            `json:"error,omitempty"`
	Advice     string            `json:"advice,omitempty"`
	// RetryAt is when an open circuit breaker allows its half-open retry.
	RetryAt *Time `json:"retry_at,omitempty"`
	// UptimeSeconds, on started and planned, is how long the target
	// stayed up between the previous attempt on it healing it and this
	// failure: 0 when it was never seen up; absent before a first attempt.
	UptimeSeconds *float64 `json:"uptime_seconds,omitempty"`
	// UnitState, on verified, is the real state of the unit the step
	// acted on ("active/running", "inactive/dead"), where it was read.
	UnitState string `json:"unit_state,omitempty"`
	// Probe, on verified records of an issue about a probe, is that
	// probe's latest result in the stream when the outcome was decided:
	// what the verdict rests on.
	Probe *ProbeResult `json:"probe,omitempty"`
}
