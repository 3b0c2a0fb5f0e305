package heal

import "time"

// Alertmanager is what lmn-heal does with Prometheus Alertmanager when it
// is given one (--alertmanager-url). Reading maintenance silences before a
// disruptive action needs no setting.
type Alertmanager struct {
	// SilenceWhileVerifying: while a step's verification window is open
	// for an issue made from an alert (rule "alertmanager"), lmn-heal
	// silences exactly that alert, so nobody is paged for what is being
	// fixed, and expires the silence once the outcome is known.
	SilenceWhileVerifying bool `json:"silence_while_verifying"`
}

// Verifying returns when the verification window of the issue id closes,
// and true, while one is open.
func (e *Engine) Verifying(id string) (time.Time, bool) {
	t := e.issues[id]
	if t == nil || t.gone || t.Phase != phaseVerifying {
		return time.Time{}, false
	}
	return t.Deadline, true
}
