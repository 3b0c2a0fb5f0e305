package action

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// UnitPolicy says which units restart_unit and reset_failed_unit touch,
// and whose processes kill_process may signal. Patterns are path.Match
// globs over the full unit name.
//
// A unit is allowed when its type is in Types (if Types is not empty),
// it matches no Deny pattern and, if Allow is not empty, it matches an
// Allow pattern. An Allow entry that is a literal unit name (no glob
// characters) overrides Deny and Types for exactly that unit, so
// {"Allow": ["*", "sshd.service"]} permits sshd.service under the default
// Deny list. Units in protectedUnits are refused whatever the policy says.
type UnitPolicy struct {
	Allow []string `json:"allow"`
	Deny  []string `json:"deny"`
	// Types are the unit types (suffixes without the dot: "service")
	// that may be touched; empty allows every type.
	Types []string `json:"types"`
}

// DefaultUnitPolicy denies lmn's own broker, systemd's own units, the
// message bus, display managers and ssh, and every type but services,
// sockets, timers and paths: restarting a mount unmounts what is on it
// (home.mount), a scope cannot be started again once stopped (a login
// session's session-1.scope: the user is logged out), and a swap unit
// turns swap off, under the memory pressure it was meant for.
func DefaultUnitPolicy() UnitPolicy {
	return UnitPolicy{
		Allow: []string{"*"},
		Deny: []string{
			"lmn-privd*", "luminous-*",
			"systemd-*", "init.scope", "-.slice", "-.mount",
			"dbus*", "display-manager*", "gdm*", "sddm*", "lightdm*",
			"sshd*", "ssh.*", "ssh@*",
			"user@*", "user-runtime-dir@*",
		},
		Types: []string{"service", "socket", "timer", "path"},
	}
}

// protectedUnits are refused whatever the configured policy says:
// restarting the broker or the init scope from inside an action is never a
// repair. Nor is a slice (restarting one stops every unit in it, the broker,
// dbus and sshd included) or a target (starting reboot.target or
// poweroff.target pulls in systemd-reboot.service and friends): each would
// reach what the deny list refuses by another name. Nor are systemd's units
// that hand out root: debug-shell.service (a shell on tty9, no password),
// emergency.service and rescue.service (sulogin on the console), and
// modprobe@.service (loads the kernel module its instance names).
var protectedUnits = []string{"lmn-privd*", "luminous-privd*", "init.scope", "-.slice", "*.slice", "*.target",
	"debug-shell.service", "emergency.service", "rescue.service", "modprobe@*"}

// Check reports why name may not be touched, or nil. Errors wrap ErrDenied
// (or ErrInvalid for a malformed pattern).
func (p UnitPolicy) Check(name string) error {
	if err := checkProtected(name); err != nil {
		return err
	}
	literal := false
	allowed := len(p.Allow) == 0
	for _, pat := range p.Allow {
		if pat == name { // also a name with a backslash, which path.Match reads as an escape
			allowed, literal = true, true
			continue
		}
		ok, err := path.Match(pat, name)
		if err != nil {
			return fmt.Errorf("unit policy allow pattern %q: %w: %w", pat, ErrInvalid, err)
		}
		allowed = allowed || ok
	}
	if !allowed {
		return fmt.Errorf("unit %q: %w: not on the allow list", name, ErrDenied)
	}
	if literal {
		return nil
	}
	if typ := name[strings.LastIndexByte(name, '.')+1:]; len(p.Types) > 0 && !slices.Contains(p.Types, typ) {
		return fmt.Errorf("unit %q: %w: type %s is not in units.types %v", name, ErrDenied, typ, p.Types)
	}
	return p.denyList(name)
}

func checkProtected(name string) error {
	for _, pat := range protectedUnits {
		if ok, _ := path.Match(pat, name); ok {
			return fmt.Errorf("unit %q: %w: protected (matches %q)", name, ErrDenied, pat)
		}
	}
	return nil
}

func (p UnitPolicy) denyList(name string) error {
	for _, pat := range p.Deny {
		ok, err := path.Match(pat, name)
		if err != nil {
			return fmt.Errorf("unit policy deny pattern %q: %w: %w", pat, ErrInvalid, err)
		}
		if ok {
			return fmt.Errorf("unit %q: %w: on the deny list (matches %q)", name, ErrDenied, pat)
		}
	}
	return nil
}

// CheckAlias checks another name (an alias, or the id behind an alias) of
// a unit already allowed as requested: it must not be protected, nor on
// the deny list unless the requested name is allowed literally.
func (p UnitPolicy) CheckAlias(requested, alias string) error {
	if err := checkProtected(alias); err != nil {
		return err
	}
	for _, pat := range p.Allow {
		if pat == requested {
			return nil
		}
	}
	return p.denyList(alias)
}

// Validate checks every pattern for glob syntax and every type.
func (p UnitPolicy) Validate() error {
	for _, list := range [][]string{p.Allow, p.Deny} {
		for _, pat := range list {
			if _, err := path.Match(pat, ""); err != nil {
				return fmt.Errorf("pattern %q: %w", pat, err)
			}
		}
	}
	for _, typ := range p.Types {
		if !slices.Contains(unitSuffixes, "."+typ) {
			return fmt.Errorf("type %q: not a unit type (want one of %s)", typ, strings.Join(unitSuffixes, " "))
		}
	}
	return nil
}

// unitSuffixes are the unit types systemd knows.
var unitSuffixes = []string{
	".service", ".socket", ".device", ".mount", ".automount", ".swap",
	".target", ".path", ".timer", ".slice", ".scope",
}

const maxUnitName = 255

var errUnitName = errors.New("not a unit name")

// CheckUnitName checks name against systemd's unit-name grammar: at most
// 255 bytes of [A-Za-z0-9:_.\@-], not starting with '-', a known type
// suffix, and for an instance a non-empty template prefix and instance.
func CheckUnitName(name string) error {
	if name == "" || len(name) > maxUnitName {
		return fmt.Errorf("%w: length %d not in 1..%d", errUnitName, len(name), maxUnitName)
	}
	if name[0] == '-' {
		return fmt.Errorf("%w: starts with '-'", errUnitName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(`:_.\@-`, c) >= 0
		if !ok {
			return fmt.Errorf("%w: byte %q at %d not allowed", errUnitName, c, i)
		}
	}
	dot := strings.LastIndexByte(name, '.')
	if dot <= 0 {
		return fmt.Errorf("%w: no type suffix", errUnitName)
	}
	suffix, stem := name[dot:], name[:dot]
	known := false
	for _, s := range unitSuffixes {
		known = known || s == suffix
	}
	if !known {
		return fmt.Errorf("%w: unknown type suffix %q", errUnitName, suffix)
	}
	if at := strings.IndexByte(stem, '@'); at >= 0 {
		if at == 0 || at == len(stem)-1 || strings.Count(stem, "@") > 1 {
			return fmt.Errorf("%w: a template instance needs one '@' between a prefix and an instance", errUnitName)
		}
	}
	return nil
}

func unitTarget(p map[string]string) string { return "unit:" + p["unit"] }

func validateUnit(env Env, p map[string]string) error {
	return env.Units.Check(p["unit"])
}

func unitAction(verb, doc string, timeout time.Duration) *definition {
	return &definition{
		spec: Spec{
			Name:    strings.ReplaceAll(verb, "-", "_") + "_unit",
			Timeout: timeout,
			Doc:     doc,
			Params:  []Param{{Name: "unit", Required: true, Doc: "full unit name, e.g. nginx.service", check: CheckUnitName}},

			Disruptive: verb == "restart", // a restart stops the unit; clearing a failed state does not
		},
		validate: validateUnit,
		run: func(ctx context.Context, env Env, p map[string]string) (Result, error) {
			st, err := showUnit(ctx, env, p["unit"])
			if err != nil {
				return Result{}, err
			}
			if err := checkAliases(env, p["unit"], st.names); err != nil {
				return Result{}, err
			}
			if verb == "restart" && env.Premise != nil {
				if err := checkPremise(env, p["unit"], st); err != nil {
					return Result{}, err
				}
			}
			out, err := runCommand(ctx, env, with(env.Systemctl, verb, "--", p["unit"]))
			return Result{Output: out}, err
		},
		target: unitTarget,
		command: func(env Env, p map[string]string) string {
			return shellJoin(with(env.Systemctl, verb, "--", p["unit"])...)
		},
	}
}

// checkAliases checks every other name of unit (its id and aliases, as
// the service manager lists them) against the unit policy, so an alias
// such as messagebus.service cannot reach a denied dbus.service.
func checkAliases(env Env, unit string, names []string) error {
	for _, name := range names {
		if name == unit {
			continue
		}
		if err := env.Units.CheckAlias(unit, name); err != nil {
			return fmt.Errorf("%s is another name of %s: %w", unit, name, err)
		}
	}
	return nil
}

func init() {
	register(unitAction("restart", "restart a unit (systemctl restart -- UNIT)", 2*time.Minute))
	register(unitAction("reset-failed", "clear a unit's failed state (systemctl reset-failed -- UNIT)", 15*time.Second))
}
