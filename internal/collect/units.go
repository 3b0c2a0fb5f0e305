package collect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// UnitsTimeout bounds one systemctl call.
const UnitsTimeout = 2 * time.Second

// Unit scopes for Config.Units.
const (
	UnitsSystem = "system"
	UnitsUser   = "user"
	UnitsNone   = "none"
)

// unitSource lists failed units with systemctl. When systemd is not the
// service manager it warns once and stops asking.
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
}

func newUnitSource(cfg Config, w *warner) *unitSource {
	u := &unitSource{scope: cfg.Units, argv: cfg.Systemctl, booted: cfg.Booted, timeout: UnitsTimeout, warn: w}
	if u.scope == "" || u.scope == UnitsNone {
		u.disabled = true
	}
	if len(u.argv) == 0 {
		u.argv = []string{"systemctl"}
	}
	if u.booted == nil {
		u.booted = systemdBooted
	}
	return u
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
	u.units = record.Units{Scope: u.scope, Failed: failed}
	return &u.units
}

func (u *unitSource) list(ctx context.Context) ([]record.Unit, error) {
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
