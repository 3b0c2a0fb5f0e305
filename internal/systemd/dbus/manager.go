package dbus

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
)

// Where the service managers answer.
const (
	// SystemPrivate is the system manager's private socket (root only).
	SystemPrivate = "/run/systemd/private"
	// SystemBus is the system message bus.
	SystemBus = "/run/dbus/system_bus_socket"
)

// SystemManager lists the sockets where the system manager answers, best
// first: its private socket when euid is 0 (it refuses others), then the
// system bus.
func SystemManager(euid int) []Addr {
	addrs := []Addr{{Path: SystemBus, Bus: true}}
	if euid == 0 {
		addrs = append([]Addr{{Path: SystemPrivate}}, addrs...)
	}
	return addrs
}

// UserManager lists the sockets where the user manager of the runtime
// directory answers ($XDG_RUNTIME_DIR; "" means /run/user/<euid>), best
// first: its private socket, then the session bus.
func UserManager(runtimeDir string, euid int) []Addr {
	if runtimeDir == "" {
		runtimeDir = filepath.Join("/run/user", strconv.Itoa(euid))
	}
	return []Addr{
		{Path: filepath.Join(runtimeDir, "systemd", "private")},
		{Path: filepath.Join(runtimeDir, "bus"), Bus: true},
	}
}

// Unit is one entry of the manager's ListUnits* replies, a(ssssssouso).
type Unit struct {
	Name        string
	Description string
	LoadState   string
	ActiveState string
	SubState    string
	// Following is the unit this one follows (device units known under
	// several names); "" for most.
	Following string
	Path      string // object path
	JobID     uint32
	JobType   string
	JobPath   string
}

// unitListSig is the signature of the manager's unit lists.
const unitListSig = "a(ssssssouso)"

// ListUnitsFiltered calls org.freedesktop.systemd1.Manager.ListUnitsFiltered:
// the units loaded in the manager whose active or sub state is one of
// states ("failed", for example), in the manager's order.
func (c *Conn) ListUnitsFiltered(ctx context.Context, states ...string) ([]Unit, error) {
	if states == nil {
		states = []string{}
	}
	reply, err := c.call(ctx, methodCall{dest: "org.freedesktop.systemd1", path: "/org/freedesktop/systemd1",
		iface: "org.freedesktop.systemd1.Manager", member: "ListUnitsFiltered", args: []any{states}})
	if err != nil {
		return nil, fmt.Errorf("dbus: %s: %w", c.addr, err)
	}
	units, err := decodeUnits(reply)
	if err != nil {
		return nil, fmt.Errorf("dbus: %s: ListUnitsFiltered reply: %w", c.addr, err)
	}
	return units, nil
}

// decodeUnits decodes the body of a ListUnits* reply. The result is empty,
// not nil, when there are no units.
func decodeUnits(m *message) ([]Unit, error) {
	if m.sig != unitListSig {
		return nil, fmt.Errorf("%w: signature %q, want %q", errMalformed, m.sig, unitListSig)
	}
	d := &decoder{b: m.body, order: m.order}
	units := []Unit{}
	end := d.arrayStart(8)
	for d.err == nil && d.off < end {
		d.align(8)
		var u Unit
		u.Name, u.Description, u.LoadState = d.string(), d.string(), d.string()
		u.ActiveState, u.SubState, u.Following = d.string(), d.string(), d.string()
		u.Path, u.JobID, u.JobType, u.JobPath = d.string(), d.uint32(), d.string(), d.string()
		if d.err == nil && u.Name == "" {
			d.fail("unit %d has no name", len(units))
		}
		if d.err == nil {
			units = append(units, u)
		}
	}
	d.arrayEnd(end)
	if d.err == nil && d.off != len(d.b) {
		d.fail("%d bytes after the unit list", len(d.b)-d.off)
	}
	if d.err != nil {
		return nil, d.err
	}
	return units, nil
}
