package collect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/systemd/dbus"
)

// unitEvents follows the service manager's signals on the unit source's
// kept D-Bus connection and fires when a unit enters or leaves the failed
// state, that is when the failed list a sample reads has changed, and
// when a service leaves active unexpectedly: with no job of its own
// pending, so not because someone (or a dependency) asked for a stop or
// a restart. A main process that exits with Restart=no (active →
// inactive), one that Restart= will start again (active → activating,
// auto-restart), one that stops itself (→ deactivating) all wake the
// collector; `systemctl stop` or `restart` does not (its JobNew comes
// before the state changes, its JobRemoved after them). Other changes (a
// unit starting, reloading, a start job's oneshot finishing) do not.
type unitEvents struct {
	fire func()
	err  error // why the last subscription failed

	mu sync.Mutex
	// failed are the units believed failed: the last list, and the
	// signals since.
	failed map[string]bool
	// active are the services believed active (or reloading), and jobs
	// the ids of the jobs pending per unit: what the manager listed when
	// the connection was dialled, and the signals since.
	active map[string]bool
	jobs   map[string][]uint32
}

// upStates are the ActiveStates a service serves in.
var upStates = []string{"active", "reloading", "refreshing"}

// errUnitsNone says why there are no unit events with --units none.
var errUnitsNone = errors.New("--units none: no service manager is asked")

// subscribe turns unit events on and dials the manager now, so that the
// start record can say whether they work; it returns why they cannot.
func (u *unitSource) subscribe(ctx context.Context, fire func()) error {
	if u.scope == "" || u.scope == UnitsNone {
		return errUnitsNone
	}
	u.events = &unitEvents{fire: fire, failed: map[string]bool{}, active: map[string]bool{}, jobs: map[string][]uint32{}}
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
	if e.err == nil {
		e.err = e.seed(ctx, c)
	}
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

// seed reads which services are active and which units have a job
// pending, so that a service leaving active can be told from one that
// never was: signals carry the new state only.
func (e *unitEvents) seed(ctx context.Context, c *dbus.Conn) error {
	units, err := c.ListUnitsFiltered(ctx, upStates...)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.active)
	clear(e.jobs)
	for _, u := range units {
		if isService(u.Name) {
			e.active[u.Name] = true
		}
		if u.JobID != 0 {
			e.jobs[u.Name] = []uint32{u.JobID}
		}
	}
	return nil
}

func isService(unit string) bool { return strings.HasSuffix(unit, ".service") }

// signal runs on the connection's reading goroutine for each unit signal.
func (e *unitEvents) signal(s dbus.Signal) {
	e.mu.Lock()
	wake := e.note(s)
	e.mu.Unlock()
	if wake {
		e.fire()
	}
}

// note takes s in and reports whether it wakes the collector: the unit's
// failed state changed, or a service left active unexpectedly. Called
// with e.mu held.
func (e *unitEvents) note(s dbus.Signal) bool {
	var failed, left bool
	switch {
	case s.Kind == dbus.JobNew:
		e.jobs[s.Unit] = append(e.jobs[s.Unit], s.Job)
		return false
	case s.Kind == dbus.JobRemoved:
		if e.jobs[s.Unit] = slices.DeleteFunc(e.jobs[s.Unit], func(id uint32) bool { return id == s.Job }); len(e.jobs[s.Unit]) == 0 {
			delete(e.jobs, s.Unit)
		}
		if s.Result != "failed" && s.Result != "timeout" {
			return false
		}
		// A start job that failed leaves its unit failed, unless it
		// restarts; the PropertiesChanged that follows corrects it.
		failed = true
	case s.Kind == dbus.UnitChanged && s.ActiveState != "":
		failed = s.ActiveState == "failed"
		if isService(s.Unit) {
			up := slices.Contains(upStates, s.ActiveState)
			left = e.active[s.Unit] && !up && s.Job == 0 && len(e.jobs[s.Unit]) == 0
			if up {
				e.active[s.Unit] = true
			} else {
				delete(e.active, s.Unit)
			}
		}
	default:
		return false
	}
	was := e.failed[s.Unit]
	if failed {
		e.failed[s.Unit] = true
	} else {
		delete(e.failed, s.Unit)
	}
	return was != failed || left
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
