package dash

import (
	"sync"

	"github.com/lmn-heal/lmn/internal/record"
)

// Live is a model shared between the goroutine that reads the stream and
// those that draw it or serve it. Each update wakes Changed.
type Live struct {
	mu      sync.Mutex
	m       *Model
	changed chan struct{}
	// updated is closed, and replaced, at each update: every waiter
	// wakes (Changed wakes one renderer).
	updated chan struct{}
}

// NewLive returns a shared empty model.
func NewLive() *Live {
	return &Live{m: New(), changed: make(chan struct{}, 1), updated: make(chan struct{})}
}

// Apply applies one record and wakes a waiting renderer without blocking.
func (l *Live) Apply(line record.Line, rejected int) error {
	l.mu.Lock()
	err := l.m.Apply(line)
	l.m.Rejected = rejected
	l.mu.Unlock()
	l.Wake()
	return err
}

// SetRejected records the reader's count of rejected lines.
func (l *Live) SetRejected(n int) {
	l.mu.Lock()
	l.m.Rejected = n
	l.mu.Unlock()
	l.Wake()
}

// Wake signals Changed without blocking; wakes coalesce. It closes the
// channel Updated returned.
func (l *Live) Wake() {
	select {
	case l.changed <- struct{}{}:
	default:
	}
	l.mu.Lock()
	close(l.updated)
	l.updated = make(chan struct{})
	l.mu.Unlock()
}

// Updated returns a channel closed at the next update. Take it before
// looking at the model, so that no update between the look and the wait
// is missed.
func (l *Live) Updated() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.updated
}

// Changed receives a value after one or more updates.
func (l *Live) Changed() <-chan struct{} { return l.changed }

// View calls f with the model locked. f must not keep the model.
func (l *Live) View(f func(*Model)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(l.m)
}
