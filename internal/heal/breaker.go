package heal

import "time"

// Breaker states.
const (
	breakerClosed   = "closed"
	breakerOpen     = "open"
	breakerHalfOpen = "half_open" // the one retry after a cool-down was made
)

// breaker limits the attempts of one action on one target, whatever the
// reason for them (a failed unit, a failing probe, a unit near its memory
// limit): it judges each attempt by what followed it, not by why it was
// made.
type breaker struct {
	State string `json:"state"`
	// Attempts are the attempts of the current streak within the window:
	// attempts after which the target did not stay up for healthy_uptime.
	Attempts []time.Time `json:"attempts,omitempty"`
	Last     time.Time   `json:"last"`
	RetryAt  time.Time   `json:"retry_at,omitzero"`
	// Cooldown is the current cool-down; it doubles after a failed retry.
	Cooldown time.Duration `json:"cooldown,omitempty"`
	// Healed is when the last attempt was seen to work (its issue
	// resolved); before Last, it has not been seen to since.
	Healed time.Time `json:"healed,omitzero"`
}

// verdict is what a breaker says about a new attempt.
type verdict int

const (
	allow    verdict = iota
	wait             // backoff: try again at the time returned
	tripped          // open: give up until the time returned
	halfOpen         // allowed as the one retry after the cool-down
)

// uptime is how long the target stayed up before it failed again at
// failedAt: from when the last attempt was seen to heal it, 0 when it was
// not seen to. ok is false before any attempt.
func (b *breaker) uptime(failedAt time.Time) (time.Duration, bool) {
	if b.Last.IsZero() {
		return 0, false
	}
	if b.Healed.Before(b.Last) || failedAt.Before(b.Healed) {
		return 0, true
	}
	return failedAt.Sub(b.Healed), true
}

// check says whether an attempt for a failure that began at failedAt may
// start at now, and until when not. A target that stayed up for
// healthy_uptime after the last attempt was healed by it: the streak
// starts afresh, whatever state the breaker was in. Otherwise the streak
// goes on: a growing backoff between its attempts, open after
// max_attempts. check moves the breaker between states but records no
// attempt.
func (b *breaker) check(cfg Breaker, now, failedAt time.Time) (verdict, time.Time) {
	b.prune(cfg, now)
	if up, ok := b.uptime(failedAt); ok && up >= cfg.HealthyUptime.D() {
		b.fresh()
	}
	switch b.State {
	case breakerOpen:
		if now.Before(b.RetryAt) {
			return tripped, b.RetryAt
		}
		return halfOpen, time.Time{}
	case breakerHalfOpen:
		// The retry was made and the problem is back before the
		// target stayed up: open again, for twice as long.
		b.open(cfg, now, 2*b.Cooldown)
		return tripped, b.RetryAt
	}
	if len(b.Attempts) >= cfg.MaxAttempts {
		b.open(cfg, now, cfg.Cooldown.D())
		return tripped, b.RetryAt
	}
	if n := len(b.Attempts); n > 0 {
		next := b.Last.Add(backoff(cfg, n))
		if now.Before(next) {
			return wait, next
		}
	}
	return allow, time.Time{}
}

// fresh starts a new streak: the last attempt healed its target.
func (b *breaker) fresh() {
	b.State, b.Attempts, b.RetryAt, b.Cooldown = breakerClosed, nil, time.Time{}, 0
}

// record counts an attempt that starts at now; v is what check said.
func (b *breaker) record(now time.Time, v verdict) {
	b.Attempts = append(b.Attempts, now)
	b.Last = now
	if v == halfOpen {
		b.State = breakerHalfOpen
	}
}

// healed notes that the last attempt worked: its issue resolved at now.
func (b *breaker) healed(now time.Time) {
	if !now.Before(b.Last) {
		b.Healed = now
	}
}

// forget takes back the attempt recorded at t (it did not act: advice).
func (b *breaker) forget(t time.Time) {
	for i := len(b.Attempts) - 1; i >= 0; i-- {
		if b.Attempts[i].Equal(t) {
			b.Attempts = append(b.Attempts[:i], b.Attempts[i+1:]...)
			return
		}
	}
}

func (b *breaker) open(cfg Breaker, now time.Time, cooldown time.Duration) {
	if cooldown < cfg.Cooldown.D() {
		cooldown = cfg.Cooldown.D()
	}
	if max := 16 * cfg.Cooldown.D(); cooldown > max {
		cooldown = max
	}
	b.State = breakerOpen
	b.Cooldown = cooldown
	b.RetryAt = now.Add(cooldown)
}

// healthy reports whether the breaker can be forgotten: no attempt for
// reset_after, and not holding anything back.
func (b *breaker) healthy(cfg Breaker, now time.Time) bool {
	if now.Sub(b.Last) < cfg.ResetAfter.D() {
		return false
	}
	return b.State != breakerOpen || !now.Before(b.RetryAt)
}

func (b *breaker) prune(cfg Breaker, now time.Time) {
	cut := now.Add(-cfg.Window.D())
	i := 0
	for i < len(b.Attempts) && !b.Attempts[i].After(cut) {
		i++
	}
	b.Attempts = b.Attempts[i:]
}

// backoff is the wait after the nth attempt of a streak (n ≥ 1): backoff,
// doubled with each further attempt, at most max_backoff, as systemd's
// RestartSec= grows to RestartMaxDelaySec= over RestartSteps=.
func backoff(cfg Breaker, n int) time.Duration {
	d := cfg.Backoff.D()
	for i := 1; i < n && d < cfg.MaxBackoff.D(); i++ {
		d *= 2
	}
	if d > cfg.MaxBackoff.D() {
		d = cfg.MaxBackoff.D()
	}
	return d
}
