package privd

import (
	"fmt"
	"time"
)

// limiter enforces sliding windows over executed actions: overall, per
// action and per target. It keeps one event per executed action inside the
// longest window, so its memory is bounded by the overall limit. It is not
// safe for concurrent use; the audit log's lock guards it.
type limiter struct {
	limits RateLimits
	events []event
}

type event struct {
	at             time.Time
	action, target string
}

func newLimiter(l RateLimits) *limiter { return &limiter{limits: l} }

// longest is the longest window of any limit.
func (l *limiter) longest() time.Duration {
	w := max(l.limits.Overall.Window, l.limits.PerAction.Window, l.limits.PerTarget.Window)
	for _, a := range l.limits.Actions {
		w = max(w, a.Window)
	}
	return time.Duration(w)
}

// prune drops events older than the longest window.
func (l *limiter) prune(now time.Time) {
	cut := now.Add(-l.longest())
	i := 0
	for i < len(l.events) && !l.events[i].at.After(cut) {
		i++
	}
	if i > 0 {
		l.events = append(l.events[:0], l.events[i:]...)
	}
}

// check reports whether action on target may run at now; if not, how long
// until it may and which limit refused it.
func (l *limiter) check(now time.Time, action, target string) (time.Duration, string, bool) {
	l.prune(now)
	perAction := l.limits.PerAction
	if a, ok := l.limits.Actions[action]; ok {
		perAction = a
	}
	rules := []struct {
		name  string
		limit Limit
		match func(event) bool
	}{
		{"overall", l.limits.Overall, func(event) bool { return true }},
		{"action " + action, perAction, func(e event) bool { return e.action == action }},
		{"target " + target, l.limits.PerTarget, func(e event) bool { return e.target == target }},
	}
	var wait time.Duration
	var why string
	for _, r := range rules {
		if d, over := l.over(now, r.limit, r.match); over && d > wait {
			wait = d
			why = fmt.Sprintf("%s limit of %d per %v", r.name, r.limit.Max, time.Duration(r.limit.Window))
		}
	}
	return wait, why, why == ""
}

// over reports whether limit is reached at now and, if so, how long until
// the oldest event that counts leaves the window.
func (l *limiter) over(now time.Time, limit Limit, match func(event) bool) (time.Duration, bool) {
	if limit.Max == 0 {
		return 0, false
	}
	cut := now.Add(-time.Duration(limit.Window))
	var in []time.Time
	for _, e := range l.events {
		if e.at.After(cut) && match(e) {
			in = append(in, e.at)
		}
	}
	if len(in) < limit.Max {
		return 0, false
	}
	// The (len-Max)th oldest must leave before one more fits.
	leaves := in[len(in)-limit.Max].Add(time.Duration(limit.Window))
	return max(leaves.Sub(now), time.Millisecond), true
}

// record notes an executed action. Events are kept in time order; one out
// of order (a clock step back) is inserted in place.
func (l *limiter) record(at time.Time, action, target string) {
	e := event{at: at, action: action, target: target}
	i := len(l.events)
	for i > 0 && l.events[i-1].at.After(at) {
		i--
	}
	l.events = append(l.events, event{})
	copy(l.events[i+1:], l.events[i:])
	l.events[i] = e
}
