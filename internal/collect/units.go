package collect

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/systemd/dbus"
)

// UnitsTimeout bounds the listing of failed units in one sample: the D-Bus
// call, or the systemctl run when D-Bus cannot be used.
const UnitsTimeout = 2 * time.Second

// busRetry is how long to wait before dialling the service manager again
// after no socket answered; systemctl lists the units meanwhile.
const busRetry = 30 * time.Second

// Unit scopes for Config.Units.
const (
	UnitsSystem = "system"
	UnitsUser   = "user"
	UnitsNone   = "none"
)

// unitSource lists failed units: over a kept D-Bus connection to the
// service manager when one of its sockets answers, else with systemctl.
// When systemd is not the service manager it warns once and stops asking.
type unitSource struct {
	scope    string
	argv     []string
	booted   func() bool
	timeout  time.Duration
	warn     *warner
	disabled bool
	checked  bool
	units    record.Units
	out      bytes.Buffer

	bus      []dbus.Addr // tried in order before systemctl
	conn     *dbus.Conn
	busErr   error     // why no socket answered at the last dial
	nextDial time.Time // when to dial again after busErr
	via      string    // how the last list was read, to log changes
	now      func() time.Time
	events   *unitEvents // nil unless unit events are on
}

func newUnitSource(cfg Config, w *warner) *unitSource {
	u := &unitSource{scope: cfg.Units, argv: cfg.Systemctl, booted: cfg.Booted, timeout: UnitsTimeout, warn: w,
		bus: cfg.UnitBus, now: time.Now}
	if u.scope == "" || u.scope == UnitsNone {
		u.disabled = true
	}
	if len(u.argv) == 0 {
		u.argv = []string{"systemctl"}
	}
	if u.booted == nil {
		u.booted = systemdBooted
	}
	if u.bus == nil {
		u.bus = managerSockets(u.scope)
	}
	return u
}

// managerSockets are the D-Bus sockets of the scope's service manager.
func managerSockets(scope string) []dbus.Addr {
	switch scope {
	case UnitsSystem:
		return dbus.SystemManager(os.Geteuid())
	case UnitsUser:
		return dbus.UserManager(os.Getenv("XDG_RUNTIME_DIR"), os.Geteuid())
	}
	return nil
}

// close closes the D-Bus connection, if any.
func (u *unitSource) close() {
	if u.conn != nil {
		u.conn.Close()
		u.conn = nil
	}
}

// systemdBooted is sd_booted(3): systemd is PID 1 when /run/systemd/system
// exists.
func systemdBooted() bool {
	fi, err := os.Stat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// errNotBooted says why the units group is absent on machines without systemd.
var errNotBooted = errors.New("systemd is not the service manager here (/run/systemd/system is missing); failed units are not reported")

// failed returns the units group, or nil when it cannot be read. The call
// is not cut short by ctx (a signal finishes the current sample), only by
// UnitsTimeout.
func (u *unitSource) failed(ctx context.Context) *record.Units {
	if u.disabled {
		return nil
	}
	if !u.checked {
		u.checked = true
		// The user manager can run without a system one (a test
		// sandbox), so only the system scope needs PID 1 to be systemd.
		if u.scope == UnitsSystem && !u.booted() {
			u.warn.problem("units", errNotBooted)
			u.disabled = true
			return nil
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), u.timeout)
	defer cancel()
	failed, err := u.list(ctx)
	if !u.warn.check("units", err) {
		return nil
	}
	if u.events != nil {
		u.events.listed(failed)
	}
	u.units = record.Units{Scope: u.scope, Failed: failed}
	return &u.units
}

func (u *unitSource) list(ctx context.Context) ([]record.Unit, error) {
	units, err := u.listBus(ctx)
	if err == nil {
		u.using("D-Bus "+u.conn.Addr().String(), nil)
		return units, nil
	}
	if len(u.bus) > 0 {
		u.using("systemctl", err)
	}
	return u.listSystemctl(ctx)
}

// using logs which way failed units are read when it changes.
func (u *unitSource) using(via string, why error) {
	if via == u.via {
		return
	}
	u.via = via
	if why != nil {
		u.warn.log.Info("failed units: D-Bus unavailable, running systemctl each sample", "part", "units", "err", why)
		return
	}
	u.warn.log.Info("failed units: asking the service manager", "part", "units", "via", via)
}

// listBus lists failed units over the kept connection, dialling (again)
// when there is none or it broke; after no socket answered it waits
// busRetry before dialling again.
func (u *unitSource) listBus(ctx context.Context) ([]record.Unit, error) {
	if len(u.bus) == 0 {
		return nil, errors.New("no D-Bus socket to try")
	}
	var errs []error
	if u.conn != nil {
		units, err := u.conn.ListUnitsFiltered(ctx, "failed")
		if err == nil {
			return fromBus(units), nil
		}
		u.close() // the manager may have restarted: dial again at once
		errs = append(errs, err)
	} else if u.now().Before(u.nextDial) {
		return nil, u.busErr
	}
	for _, a := range u.bus {
		c, err := dbus.Dial(ctx, a)
		if err == nil {
			if u.events != nil { // before the list, so no change falls between
				u.events.attach(ctx, c, u.warn)
			}
			var units []dbus.Unit
			if units, err = c.ListUnitsFiltered(ctx, "failed"); err == nil {
				u.conn, u.busErr = c, nil
				return fromBus(units), nil
			}
			c.Close()
		}
		errs = append(errs, err)
	}
	u.busErr = errors.Join(errs...)
	u.nextDial = u.now().Add(busRetry)
	return nil, u.busErr
}

// fromBus turns the manager's list into what `systemctl list-units
// --failed --output=json` prints: units that follow another (devices known
// under several names) left out, sorted by type suffix, then name,
// ignoring ASCII case (systemctl's unit_info_compare).
func fromBus(units []dbus.Unit) []record.Unit {
	slices.SortStableFunc(units, func(a, b dbus.Unit) int {
		sa, sb := strings.LastIndexByte(a.Name, '.'), strings.LastIndexByte(b.Name, '.')
		if sa >= 0 && sb >= 0 {
			if c := caseCompare(a.Name[sa:], b.Name[sb:]); c != 0 {
				return c
			}
		}
		return caseCompare(a.Name, b.Name)
	})
	out := make([]record.Unit, 0, len(units))
	for _, x := range units {
		if x.Following != "" {
			continue
		}
		out = append(out, record.Unit{Unit: x.Name, Load: x.LoadState, Active: x.ActiveState,
			Sub: x.SubState, Description: x.Description})
	}
	return out
}

// caseCompare is strcasecmp(3) in the C locale.
func caseCompare(a, b string) int {
	lower := func(c byte) byte {
		if 'A' <= c && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := cmp.Compare(lower(a[i]), lower(b[i])); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

func (u *unitSource) listSystemctl(ctx context.Context) ([]record.Unit, error) {
	args := append([]string(nil), u.argv[1:]...)
	if u.scope == UnitsUser {
		args = append(args, "--user")
	}
	args = append(args, "list-units", "--failed", "--output=json", "--no-pager", "--plain")
	cmd := exec.CommandContext(ctx, u.argv[0], args...)
	u.out.Reset()
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &u.out, &stderr
	cmd.WaitDelay = 100 * time.Millisecond
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: no answer within %v", strings.Join(cmd.Args, " "), u.timeout)
		}
		return nil, fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, msg)
	}
	units, err := parseUnits(u.out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	return units, nil
}

// parseUnits parses systemctl's JSON list of units. It accepts only the
// fields lmn uses and requires a unit name in each entry.
func parseUnits(b []byte) ([]record.Unit, error) {
	var raw []record.Unit
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("parse units JSON: %w", err)
	}
	units := make([]record.Unit, 0, len(raw))
	for i, r := range raw {
		if r.Unit == "" {
			return nil, fmt.Errorf("parse units JSON: entry %d has no \"unit\"", i)
		}
		units = append(units, r)
	}
	return units, nil
}
