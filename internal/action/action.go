// Package action is lmn's catalogue of healing actions: each has a name,
// typed parameters with strict validation, a timeout and one implementation.
// lmn-heal's unprivileged tier, lmn-privd and the one-shot `lmn-privd exec`
// used by the sudo tier all call this same code, so every privileged effect
// is written once.
//
// Implementations take their roots (sysfs, procfs) and binaries (systemctl,
// journalctl, …) from an Env, so tests aim them at temporary trees and
// sandboxed service managers. Commands are run directly, arguments after
// "--" where the tool supports it, never through a shell.
package action

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/generations"
)

// Errors that Validate and Run wrap; callers branch with errors.Is.
var (
	// ErrInvalid: a malformed request (bad parameter, missing parameter).
	ErrInvalid = errors.New("invalid request")
	// ErrDenied: a well-formed request that policy refuses (pid 1, a
	// protected unit, a kernel thread, a reused pid).
	ErrDenied = errors.New("denied")
	// ErrUnknown: an action name not in the catalogue.
	ErrUnknown = errors.New("unknown action")
	// ErrFailed: the action was allowed and ran, but did not succeed.
	ErrFailed = errors.New("action failed")
)

// MaxValueLen is the longest parameter value any action accepts.
const MaxValueLen = 256

// Env is where actions act: the roots they read and write and the commands
// they run. Empty fields take the values of DefaultEnv.
type Env struct {
	SysRoot, ProcRoot string // "/sys", "/proc" (tests: temporary trees)
	// Argv prefixes of the commands actions run, e.g. {"systemctl"},
	// {"systemctl", "--user"} or a sandbox prefix.
	Systemctl  []string
	Journalctl []string
	// NixGC is nix-collect-garbage. nix_gc no longer runs it (it deletes
	// generations by age alone); where it is an absolute path, nix-env
	// and nix-store are looked for beside it (see nixTools).
	NixGC []string
	// NixEnv and NixStore are the nix-env and nix-store nix_gc runs.
	NixEnv     []string
	NixStore   []string
	Resolvectl []string
	Nscd       []string
	// Environ is the whole environment of commands run, before ExtraEnv;
	// nil inherits this process's (lmn-heal's tiers). lmn-privd sets
	// MinimalEnviron.
	Environ []string
	// ExtraEnv is added to the environment of commands run.
	ExtraEnv []string
	// Units limits which units restart_unit and reset_failed_unit touch
	// and whose processes kill_process signals.
	Units UnitPolicy
	// Premise, if set, makes restart_unit check itself that a unit needs
	// it (lmn-privd sets it; a tier acting as the user itself does not).
	Premise *Premise
	// NixProfile is the system profile whose generations nix_gc may
	// delete ("/nix/var/nix/profiles/system"); RunRoot holds the
	// booted-system and current-system links ("/run").
	NixProfile string
	RunRoot    string
	// SystemdRun is the argv prefix switch_generation runs a generation's
	// activation with, as a transient unit of the service manager
	// ({"systemd-run"}).
	SystemdRun []string
	// Generations is where the record of rejected and known-good
	// generations is kept and the bound on automatic switches; without a
	// record switch_generation refuses (only lmn-privd keeps one).
	Generations generations.Policy
	// AllowRejected is a person's explicit override of that record: set
	// only by `lmn-privd --allow-rejected exec`, never from the socket.
	AllowRejected bool
	// Self is a pid that must never be killed (the caller's own), besides
	// pid 1 and the current process.
	Self int
	// Protect lists more pids that must never be killed (e.g. the
	// processes between a caller and `sudo lmn-privd exec`).
	Protect []int
}

// DefaultEnv returns the Env of a real machine: /sys, /proc, the tools
// found on PATH and DefaultUnitPolicy.
func DefaultEnv() Env {
	return Env{
		SysRoot:    "/sys",
		ProcRoot:   "/proc",
		Systemctl:  []string{"systemctl"},
		Journalctl: []string{"journalctl"},
		NixGC:      []string{"nix-collect-garbage"},
		NixProfile: "/nix/var/nix/profiles/system",
		RunRoot:    "/run",
		Resolvectl: []string{"resolvectl"},
		Nscd:       []string{"nscd"},
		SystemdRun: []string{"systemd-run"},
		Units:      DefaultUnitPolicy(),
	}
}

// withDefaults fills empty roots and binaries from DefaultEnv. The unit
// policy is not filled: an Env with an empty policy allows every unit name
// that passes the grammar and the built-in protections.
func (e Env) withDefaults() Env {
	d := DefaultEnv()
	if e.SysRoot == "" {
		e.SysRoot = d.SysRoot
	}
	if e.ProcRoot == "" {
		e.ProcRoot = d.ProcRoot
	}
	if e.NixProfile == "" {
		e.NixProfile = d.NixProfile
	}
	if e.RunRoot == "" {
		e.RunRoot = d.RunRoot
	}
	fill := func(v *[]string, def []string) {
		if len(*v) == 0 {
			*v = def
		}
	}
	fill(&e.Systemctl, d.Systemctl)
	fill(&e.Journalctl, d.Journalctl)
	fill(&e.NixGC, d.NixGC)
	fill(&e.Resolvectl, d.Resolvectl)
	fill(&e.Nscd, d.Nscd)
	fill(&e.SystemdRun, d.SystemdRun)
	e.NixEnv, e.NixStore = nixTools(e)
	return e
}

// Request asks for one action with its parameters.
type Request struct {
	Action string            `json:"action"`
	Params map[string]string `json:"params,omitempty"`
}

// Result is what an action did.
type Result struct {
	Output string `json:"output,omitempty"`
	// Restore is state to put back later: set_cpu_governor returns the
	// previous governor per policy ("policy0": "schedutil"). See
	// RestoreRequest.
	Restore map[string]string `json:"restore,omitempty"`
}

// Spec describes one action of the catalogue.
type Spec struct {
	Name    string
	Params  []Param
	Timeout time.Duration
	Doc     string
	// Disruptive actions interrupt what a machine serves while they run
	// (a restart, a kill, a cold cache): a maintenance window holds them.
	Disruptive bool
	// Destructive says the action deletes something that cannot be put
	// back (Nix generations, journal files). This is the one place that
	// says so: lmn-heal runs a destructive action only on a strong signal
	// (docs/policy.md, "Destructive actions").
	Destructive bool
}

// Param describes one parameter of an action.
type Param struct {
	Name     string
	Required bool
	Doc      string
	check    func(string) error
}

// definition is one catalogue entry.
type definition struct {
	spec Spec
	// validate checks the parameters together and against env (policy).
	validate func(env Env, p map[string]string) error
	run      func(ctx context.Context, env Env, p map[string]string) (Result, error)
	target   func(p map[string]string) string
	command  func(env Env, p map[string]string) string
}

var catalogue = map[string]*definition{}

func register(d *definition) {
	catalogue[d.spec.Name] = d
}

// Specs returns the catalogue, sorted by name.
func Specs() []Spec {
	out := make([]Spec, 0, len(catalogue))
	for _, d := range catalogue {
		s := d.spec
		s.Params = slices.Clone(s.Params)
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the Spec of the named action.
func Lookup(name string) (Spec, bool) {
	d, ok := catalogue[name]
	if !ok {
		return Spec{}, false
	}
	return d.spec, true
}

// Validate checks req against the catalogue and env's policy without
// acting. Errors wrap ErrUnknown, ErrInvalid or ErrDenied.
func Validate(env Env, req Request) error {
	_, err := validate(env.withDefaults(), req)
	return err
}

func validate(env Env, req Request) (*definition, error) {
	d, ok := catalogue[req.Action]
	if !ok {
		return nil, fmt.Errorf("action %q: %w", clip(req.Action), ErrUnknown)
	}
	for k := range req.Params {
		if !slices.ContainsFunc(d.spec.Params, func(p Param) bool { return p.Name == k }) {
			return nil, fmt.Errorf("%s: parameter %q: %w: not a parameter of this action", d.spec.Name, clip(k), ErrInvalid)
		}
	}
	for _, p := range d.spec.Params {
		v, ok := req.Params[p.Name]
		if !ok {
			if p.Required {
				return nil, fmt.Errorf("%s: parameter %q: %w: required", d.spec.Name, p.Name, ErrInvalid)
			}
			continue
		}
		if len(v) > MaxValueLen {
			return nil, fmt.Errorf("%s: parameter %q: %w: longer than %d bytes", d.spec.Name, p.Name, ErrInvalid, MaxValueLen)
		}
		if p.check != nil {
			if err := p.check(v); err != nil {
				return nil, fmt.Errorf("%s: parameter %s=%q: %w: %w", d.spec.Name, p.Name, clip(v), ErrInvalid, err)
			}
		}
	}
	if d.validate != nil {
		if err := d.validate(env, req.Params); err != nil {
			return nil, fmt.Errorf("%s: %w", d.spec.Name, err)
		}
	}
	return d, nil
}

// Run validates req, then performs it within the action's own timeout (and
// ctx). Errors wrap ErrUnknown, ErrInvalid, ErrDenied or ErrFailed.
func Run(ctx context.Context, env Env, req Request) (Result, error) {
	env = env.withDefaults()
	d, err := validate(env, req)
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.spec.Timeout)
	defer cancel()
	res, err := d.run(ctx, env, req.Params)
	if err == nil {
		return res, nil
	}
	if errors.Is(err, ErrDenied) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrFailed) {
		return res, fmt.Errorf("%s: %w", d.spec.Name, err)
	}
	return res, fmt.Errorf("%s: %w: %w", d.spec.Name, ErrFailed, err)
}

// Target names what req acts on, for per-target rate limits and for
// running one action per target at a time: "unit:nginx.service",
// "pid:1234", "governor", "caches", "dns", "network", "nix-store",
// "journal", "system-profile", "noop". It is "" for an unknown action.
func Target(req Request) string {
	d, ok := catalogue[req.Action]
	if !ok {
		return ""
	}
	return d.target(req.Params)
}

// Command returns the shell command a person would run to do req by hand,
// for advice. Every value is shell-quoted. It is "" for an unknown action.
func Command(env Env, req Request) string {
	d, ok := catalogue[req.Action]
	if !ok {
		return ""
	}
	return d.command(env.withDefaults(), req.Params)
}

func fixed(s string) func(map[string]string) string {
	return func(map[string]string) string { return s }
}

// clip shortens a value for an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// shellJoin quotes argv for a POSIX shell.
func shellJoin(argv ...string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:=@,+%", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// isProtectedPid reports whether pid may never be signalled.
func (e Env) isProtectedPid(pid int) bool {
	return pid <= 1 || pid == os.Getpid() || (e.Self > 0 && pid == e.Self) || slices.Contains(e.Protect, pid)
}
