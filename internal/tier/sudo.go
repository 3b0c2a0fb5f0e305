package tier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/heal"
	"github.com/lmn-heal/lmn/internal/privproto"
)

// sudo runs `sudo -n lmn-privd exec ACTION k=v…`: the same validation,
// audit log and rate limit as the daemon, for machines without the socket.
// It never prompts on the pipe: -n, or with --sudo prompt a password
// asked on the controlling terminal when there is one.
func (l *Runner) sudo(ctx context.Context, job heal.Job, req action.Request) outcome {
	switch {
	case job.Scope == "user":
		return deny("a user unit: only the user's own service manager can act on it")
	case l.Sudo == SudoNever || l.Sudo == "":
		return deny("not allowed by --sudo never")
	case len(l.SudoArgv) == 0 || len(l.PrivdArgv) == 0:
		return deny("no sudo or lmn-privd binary")
	}
	if wait := l.rateLimited(); wait > 0 {
		return deny("rate limited (retry in %s)", roundUp(wait))
	}
	argv := slices.Clone(l.SudoArgv)
	var stdin *os.File
	if l.Sudo == SudoPrompt {
		tty, err := os.OpenFile(l.TTY, os.O_RDWR, 0)
		if err != nil {
			return deny("no terminal to ask for the sudo password")
		}
		defer tty.Close()
		stdin = tty
	} else {
		argv = append(argv, "-n")
	}
	argv = append(argv, "--")
	argv = append(argv, l.PrivdArgv...)
	argv = append(argv, execArgs(req)...)
	timeout := time.Minute
	if s, ok := action.Lookup(req.Action); ok {
		timeout = s.Timeout + 30*time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = stdin // nil: /dev/null, never the pipe
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	return l.sudoOutcome(err, stdout.Bytes(), stderr.String())
}

// execArgs is ACTION followed by k=v in key order.
func execArgs(req action.Request) []string {
	args := []string{"exec", req.Action}
	keys := make([]string, 0, len(req.Params))
	for k := range req.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		args = append(args, k+"="+req.Params[k])
	}
	return args
}

// sudoOutcome reads what sudo and lmn-privd exec said: exec prints the
// daemon's response (privproto.Response) as JSON on stdout.
func (l *Runner) sudoOutcome(err error, stdout []byte, stderr string) outcome {
	msg := strings.TrimSpace(stderr)
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return deny("no sudo")
	}
	var resp privproto.Response
	if jerr := json.Unmarshal(bytes.TrimSpace(stdout), &resp); jerr == nil && (resp.OK || resp.Code != "") {
		return l.execResponse(resp)
	}
	if err == nil {
		return outcome{ran: true, res: action.Result{Output: firstLine(strings.TrimSpace(string(stdout)))}}
	}
	if strings.HasPrefix(msg, "sudo:") {
		switch {
		case strings.Contains(msg, "password is required"), strings.Contains(msg, "terminal is required"),
			strings.Contains(msg, "incorrect password"):
			return deny("sudo needs a password")
		case strings.Contains(msg, "not in the sudoers"), strings.Contains(msg, "not allowed to execute"),
			strings.Contains(msg, "may not run sudo"):
			return deny("sudo not allowed for this user")
		}
		return deny("sudo failed: %s", firstLine(msg))
	}
	if msg == "" {
		msg = err.Error()
	}
	// lmn-privd ran but said nothing we understand: it may have acted.
	return outcome{ran: true, err: fmt.Errorf("sudo lmn-privd exec: %s", firstLine(msg))}
}

// execResponse maps lmn-privd exec's response like the privd tier maps
// the daemon's.
func (l *Runner) execResponse(r privproto.Response) outcome {
	switch r.Code {
	case "":
		if r.Result != nil {
			return outcome{ran: true, res: *r.Result}
		}
		return outcome{ran: true}
	case privproto.CodeRateLimited:
		d := time.Duration(r.RetryAfterMS) * time.Millisecond
		l.setRateLimited(d)
		return deny("rate limited (retry in %s)", roundUp(d))
	case privproto.CodePermission, privproto.CodeBadAuth:
		return deny("lmn-privd exec: %s", r.Error)
	}
	return outcome{ran: true, err: fmt.Errorf("lmn-privd exec: %s: %s", r.Code, r.Error)}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// fallback runs a user-space alternative where one truly exists. Today
// that is nix_gc: `nix-store --gc` as the invoking user removes only store
// paths nothing refers to, and (unlike --delete-older-than) deletes no
// profile generation. Nothing here ever deletes a user's files.
func (l *Runner) fallback(ctx context.Context, job heal.Job, req action.Request) outcome {
	if job.Action != "nix_gc" || len(l.NixStore) == 0 {
		return deny("no user-space alternative for %s", job.Action)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	argv := append(slices.Clone(l.NixStore), "--gc")
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return deny("no nix-store")
		}
		return outcome{ran: true, err: fmt.Errorf("nix-store --gc: %w: %s", err, firstLine(strings.TrimSpace(out.String())))}
	}
	return outcome{ran: true, res: action.Result{Output: firstLine(strings.TrimSpace(out.String()))}}
}
