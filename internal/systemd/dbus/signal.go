package dbus

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Kinds of Signal.
const (
	// JobNew is Manager.JobNew: a job was queued for a unit (a start,
	// stop or restart someone asked for, or one a dependency pulled in).
	JobNew = "JobNew"
	// JobRemoved is Manager.JobRemoved: a job finished, with its result.
	JobRemoved = "JobRemoved"
	// UnitChanged is PropertiesChanged of a unit's
	// org.freedesktop.systemd1.Unit interface.
	UnitChanged = "UnitChanged"
)

// Signal is one of the manager's signals about a unit.
type Signal struct {
	Kind string // JobNew, JobRemoved or UnitChanged
	Unit string // the unit's name, "nginx.service"
	// Job is JobNew's and JobRemoved's job id, and for UnitChanged the
	// id of the unit's pending job when the signal carries its Job
	// property (0: none).
	Job uint32
	// Result is JobRemoved's: done, canceled, timeout, failed, dependency
	// or skipped.
	Result string
	// ActiveState and SubState are UnitChanged's new values; "" when the
	// signal does not carry them.
	ActiveState, SubState string
}

const (
	manager       = "org.freedesktop.systemd1"
	managerPath   = "/org/freedesktop/systemd1"
	managerIface  = "org.freedesktop.systemd1.Manager"
	propsIface    = "org.freedesktop.DBus.Properties"
	unitIface     = "org.freedesktop.systemd1.Unit"
	unitPathSpace = "/org/freedesktop/systemd1/unit"
)

// matchRules ask a bus to route the manager's unit signals to us. The
// manager's private socket needs none: it sends its signals to every
// connection there.
var matchRules = []string{
	"type='signal',sender='" + manager + "',interface='" + managerIface + "',member='JobNew'",
	"type='signal',sender='" + manager + "',interface='" + managerIface + "',member='JobRemoved'",
	"type='signal',sender='" + manager + "',interface='" + propsIface + "',member='PropertiesChanged',path_namespace='" + unitPathSpace + "'",
}

// Subscribe asks the manager to send its unit and job signals
// (Manager.Subscribe: without it, a manager on a bus sends none) and, on a
// bus, the bus to route them here (AddMatch), then passes every JobNew,
// JobRemoved and unit PropertiesChanged signal to fn. fn runs on the connection's
// reading goroutine: it must return quickly, and replies wait for it.
// Signals stop when the connection does (see Done).
func (c *Conn) Subscribe(ctx context.Context, fn func(Signal)) error {
	c.mu.Lock()
	c.onSignal = fn
	c.mu.Unlock()
	if c.addr.Bus {
		for _, rule := range matchRules {
			_, err := c.call(ctx, methodCall{dest: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
				iface: "org.freedesktop.DBus", member: "AddMatch", args: []any{rule}})
			if err != nil {
				return fmt.Errorf("dbus: %s: %w", c.addr, err)
			}
		}
	}
	_, err := c.call(ctx, methodCall{dest: manager, path: managerPath, iface: managerIface, member: "Subscribe"})
	if err != nil {
		return fmt.Errorf("dbus: %s: %w", c.addr, err)
	}
	return nil
}

// decodeSignal returns the unit signal m carries; ok is false for any
// other message and for a unit signal that does not decode.
func decodeSignal(m *message) (s Signal, ok bool) {
	if m.typ != typeSignal {
		return Signal{}, false
	}
	d := &decoder{b: m.body, order: m.order}
	switch {
	case m.iface == managerIface && m.member == "JobNew" && m.sig == "uos":
		s = Signal{Kind: JobNew, Job: d.uint32()}
		d.string() // the job's path
		s.Unit = d.string()
	case m.iface == managerIface && m.member == "JobRemoved" && m.sig == "uoss":
		s = Signal{Kind: JobRemoved, Job: d.uint32()}
		d.string() // the job's path
		s.Unit, s.Result = d.string(), d.string()
	case m.iface == propsIface && m.member == "PropertiesChanged" && m.sig == "sa{sv}as":
		name, ok := UnitName(m.path)
		if !ok || d.string() != unitIface {
			return Signal{}, false
		}
		s = Signal{Kind: UnitChanged, Unit: name}
		d.states(&s)
		d.skipOne("as", 1) // invalidated properties
	default:
		return Signal{}, false
	}
	if d.err != nil || d.off != len(d.b) || s.Unit == "" {
		return Signal{}, false
	}
	return s, true
}

// states reads the changed properties of a PropertiesChanged, a{sv},
// into s: ActiveState, SubState and the id of Job, (uo).
func (d *decoder) states(s *Signal) {
	end := d.arrayStart(8)
	for d.err == nil && d.off < end {
		d.align(8)
		key, sig := d.string(), d.signature()
		switch {
		case key == "ActiveState" && sig == "s":
			s.ActiveState = d.string()
		case key == "SubState" && sig == "s":
			s.SubState = d.string()
		case key == "Job" && sig == "(uo)":
			d.align(8)
			s.Job = d.uint32()
			d.string() // the job's path, "/" with none
		default:
			d.skipOne(sig, 2)
		}
	}
	d.arrayEnd(end)
}

// UnitName returns the name of the unit whose object path is path
// (/org/freedesktop/systemd1/unit/nginx_2eservice is nginx.service):
// systemd escapes every byte but ASCII letters and digits as _ and two
// hex digits, and the empty name as a lone _.
func UnitName(path string) (string, bool) {
	label, ok := strings.CutPrefix(path, unitPathSpace+"/")
	if !ok || label == "" || label == "_" {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(label); i++ {
		c := label[i]
		switch {
		case c == '_' && i+2 < len(label) && isHex(label[i+1]) && isHex(label[i+2]):
			b.WriteByte(unhex(label[i+1])<<4 | unhex(label[i+2]))
			i += 2
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			b.WriteByte(c)
		default:
			return "", false
		}
	}
	if !utf8.ValidString(b.String()) {
		return "", false
	}
	return b.String(), true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
