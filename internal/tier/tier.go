// Package tier runs one healing action through lmn-heal's permission
// ladder: unprivileged (what the invoking user may do itself), privd (the
// lmn-privd socket), sudo (sudo -n lmn-privd exec …), fallback (a
// user-space alternative where one truly exists) and advise (the command
// a person should run). It stops at the first tier that can act and says,
// for every tier passed over, why.
//
// This is where lmn-heal's effects live; the decisions are in package heal.
package tier

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/heal"
	"github.com/lmn-heal/lmn/internal/privproto"
	"github.com/lmn-heal/lmn/internal/record"
)

// Order is the ladder, lowest privilege first.
var Order = []string{record.TierUnprivileged, record.TierPrivd, record.TierSudo, record.TierFallback, record.TierAdvise}

// Sudo modes.
const (
	SudoNever          = "never"
	SudoNoninteractive = "noninteractive"
	SudoPrompt         = "prompt"
)

// ParseTiers reads a --tiers list such as "unprivileged,privd,advise".
func ParseTiers(s string) ([]string, error) {
	var out []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if !slices.Contains(Order, t) {
			return nil, fmt.Errorf("unknown tier %q (want some of %s)", t, strings.Join(Order, ","))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no tier given")
	}
	return out, nil
}

// Runner runs actions through the tiers, lowest privilege first. (A
// ladder, heal.Ladder, is a policy's steps for one kind of issue.) It is
// safe for concurrent use.
type Runner struct {
	// Tiers are the tiers allowed (--tiers); the order is always Order.
	Tiers []string
	// Env is the unprivileged tier's environment for system-wide actions;
	// UserEnv is used for units whose scope is "user" (systemctl --user).
	Env, UserEnv action.Env
	// Privd is the lmn-privd client; nil with KeyErr saying why.
	Privd  *privproto.Client
	KeyErr error
	// Sudo is never, noninteractive or prompt. SudoArgv and PrivdArgv are
	// the argv prefixes of sudo and of lmn-privd ({"sudo"},
	// {"/run/current-system/sw/bin/lmn-privd"}).
	Sudo      string
	SudoArgv  []string
	PrivdArgv []string
	// TTY is the controlling terminal --sudo prompt asks on ("/dev/tty").
	TTY string
	// NixStore is the argv prefix of nix-store, for the nix_gc fallback.
	NixStore []string
	// Root says the process runs as root: the unprivileged tier may do
	// everything.
	Root bool

	now        func() time.Time
	mu         sync.Mutex
	privdUntil time.Time // lmn-privd said: rate limited until then
}

// outcome is what one tier did with a request.
type outcome struct {
	ran    bool   // the tier ran the action (result or err is final)
	denied string // why the tier could not act (when !ran)
	res    action.Result
	err    error
}

func deny(format string, args ...any) outcome {
	return outcome{denied: fmt.Sprintf(format, args...)}
}

// Run performs job through the ladder and returns what happened.
func (l *Runner) Run(ctx context.Context, job heal.Job) heal.Result {
	now := l.clock()
	start := now()
	req := action.Request{Action: job.Action, Params: job.Params}
	denied := map[string]string{}
	for _, t := range Order {
		if !slices.Contains(l.Tiers, t) {
			denied[t] = "not allowed by --tiers"
			continue
		}
		var o outcome
		switch t {
		case record.TierUnprivileged:
			o = l.unprivileged(ctx, job, req)
		case record.TierPrivd:
			o = l.privd(ctx, job, req)
		case record.TierSudo:
			o = l.sudo(ctx, job, req)
		case record.TierFallback:
			o = l.fallback(ctx, job, req)
		case record.TierAdvise:
			return heal.Result{Tier: t, Denied: nonEmpty(denied), Advice: l.advice(job, req), Duration: now().Sub(start)}
		}
		if !o.ran {
			denied[t] = o.denied
			continue
		}
		r := heal.Result{Tier: t, Denied: nonEmpty(denied), Duration: now().Sub(start)}
		if o.err != nil {
			r.Err = o.err.Error()
		} else if job.Restore {
			if u, ok := action.RestoreRequest(req, o.res); ok {
				r.Undo = &heal.Request{Action: u.Action, Params: u.Params}
			}
		}
		return r
	}
	return heal.Result{Denied: nonEmpty(denied), Err: "no tier could run " + job.Action, Duration: now().Sub(start)}
}

func (l *Runner) clock() func() time.Time {
	if l.now != nil {
		return l.now
	}
	return time.Now
}

func nonEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// advice is the command a person should run, as root where needed.
func (l *Runner) advice(job heal.Job, req action.Request) string {
	if job.Scope == "user" {
		return "run: " + action.Command(l.UserEnv, req)
	}
	return "run as root: " + action.Command(l.Env, req)
}

// unprivilegedActions may be tried without root: the service manager's
// polkit rules may allow them, or the files may be writable.
var unprivilegedActions = []string{"restart_unit", "reset_failed_unit", "restart_network", "flush_dns", "set_cpu_governor", "noop"}

func (l *Runner) unprivileged(ctx context.Context, job heal.Job, req action.Request) outcome {
	if action.PrivdOnly(job.Action) {
		return deny("only lmn-privd keeps the record of generations this action needs")
	}
	env := l.Env
	if job.Scope == "user" {
		env = l.UserEnv
	} else if !l.Root && !slices.Contains(unprivilegedActions, job.Action) {
		return deny("needs root")
	}
	// Never wait for a polkit password prompt: no one may be there.
	if !slices.Contains(env.Systemctl, "--no-ask-password") {
		env.Systemctl = append(slices.Clone(env.Systemctl), "--no-ask-password")
	}
	res, err := action.Run(ctx, env, req)
	if err != nil && permissionError(err) {
		return deny("permission denied")
	}
	return outcome{ran: true, res: res, err: err}
}

// permissionError tells a refusal to act (try a higher tier) from an
// action that ran and failed.
func permissionError(err error) bool {
	if errors.Is(err, os.ErrPermission) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"Access denied", "Interactive authentication required", "authentication is required",
		"Permission denied", "Operation not permitted", "not authorized"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func (l *Runner) privd(ctx context.Context, job heal.Job, req action.Request) outcome {
	if job.Scope == "user" {
		return deny("a user unit: only the user's own service manager can act on it")
	}
	if l.Privd == nil {
		if l.KeyErr != nil {
			return deny("no key (%v)", l.KeyErr)
		}
		return deny("no socket configured")
	}
	if wait := l.rateLimited(); wait > 0 {
		return deny("rate limited (retry in %s)", roundUp(wait))
	}
	res, err := l.Privd.Do(ctx, req)
	var rl *privproto.RateLimitedError
	switch {
	case err == nil:
		return outcome{ran: true, res: res}
	case errors.As(err, &rl):
		l.setRateLimited(rl.RetryAfter)
		return deny("rate limited (retry in %s)", roundUp(rl.RetryAfter))
	case errors.Is(err, privproto.ErrNoSocket):
		return deny("no socket")
	case errors.Is(err, privproto.ErrPermission):
		return deny("permission denied")
	case errors.Is(err, privproto.ErrBadKey):
		return deny("bad key")
	}
	// Refused by policy, or ran and failed, or lost mid-way: final; a
	// higher tier would meet the same policy, and a lost request may
	// have acted.
	return outcome{ran: true, err: err}
}

func (l *Runner) rateLimited() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.privdUntil.Sub(l.clock()())
}

func (l *Runner) setRateLimited(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := l.clock()().Add(d); until.After(l.privdUntil) {
		l.privdUntil = until
	}
}

// roundUp writes d in whole seconds, or minutes above two minutes.
func roundUp(d time.Duration) string {
	if d > 2*time.Minute {
		return fmt.Sprintf("%dm", int((d+time.Minute-1)/time.Minute))
	}
	return fmt.Sprintf("%ds", int((d+time.Second-1)/time.Second))
}
