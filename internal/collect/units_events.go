package collect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/systemd/dbus"
)

// unitEvents follows the service manager's signals on the unit source's
// kept D-Bus connection and fires when a unit enters or leaves the failed
// state, that is when the failed list a sample reads has changed. Other
// changes (a timer's service starting and stopping, a unit reloading) do
// not wake the collector.
type unitEvents struct {
	fire func()
	err  error // why the last subscription failed

	mu sync.Mutex
	// failed are the units believed failed: the last list, and the
	// signals since.
	failed map[string]bool
}

// errUnitsNone says why there are no unit events with --units none.
var errUnitsNone = errors.New("--units none: no service manager is asked")

// subscribe turns unit events on and dials the manager now, so that the
// start record can say whether they work; it returns why they cannot.
func (u *unitSource) subscribe(ctx context.Context, fire func()) error {
	if u.scope == "" || u.scope == UnitsNone {
		return errUnitsNone
	}
	u.events = &unitEvents{fire: fire, failed: map[string]bool{}}
	u.failed(ctx)
	var err error
	switch {
	case u.disabled:
		err = errNotBooted
	case u.conn == nil:
		err = fmt.Errorf("no D-Bus socket of the service manager answers, so failed units are listed at each tick only: %w", u.busErr)
	default:
		err = u.events.err
	}
	if err != nil {
		u.events = nil
	}
	return err
}

// attach subscribes to the signals of a connection just dialled. A
// connection that breaks later wakes the loop, so that the next sample
// dials again at once rather than at the next tick.
func (e *unitEvents) attach(ctx context.Context, c *dbus.Conn, w *warner) {
	e.err = c.Subscribe(ctx, e.signal)
	if !w.check("unit events", e.err) {
		return
	}
	go func() {
		<-c.Done()
		if !errors.Is(c.Err(), net.ErrClosed) { // not our own Close
			e.fire()
		}
	}()
}

// signal runs on the connection's reading goroutine for each unit signal.
func (e *unitEvents) signal(s dbus.Signal) {
	var failed bool
	switch {
	case s.Kind == dbus.UnitChanged && s.ActiveState != "":
		failed = s.ActiveState == "failed"
	case s.Kind == dbus.JobRemoved && (s.Result == "failed" || s.Result == "timeout"):
		// A start job that failed leaves its unit failed, unless it
		// restarts; the PropertiesChanged that follows corrects it.
		failed = true
	default:
		return
	}
	e.mu.Lock()
	was := e.failed[s.Unit]
	if failed {
		e.failed[s.Unit] = true
	} else {
		delete(e.failed, s.Unit)
	}
	e.mu.Unlock()
	if was != failed {
		e.fire()
	}
}

// listed takes the failed list a sample read as the truth.
func (e *unitEvents) listed(units []record.Unit) {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.failed)
	for _, x := range units {
		e.failed[x.Unit] = true
	}
}
