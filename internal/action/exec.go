package action

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// maxOutput caps the command output kept in a Result.
const maxOutput = 16 << 10

// capped keeps the first maxOutput bytes written to it.
type capped struct {
	buf       bytes.Buffer
	truncated bool
}

func (c *capped) Write(p []byte) (int, error) {
	room := maxOutput - c.buf.Len()
	if room <= 0 {
		c.truncated = len(p) > 0 || c.truncated
		return len(p), nil
	}
	if len(p) > room {
		c.buf.Write(p[:room])
		c.truncated = true
		return len(p), nil
	}
	c.buf.Write(p)
	return len(p), nil
}

func (c *capped) String() string {
	s := strings.TrimSpace(c.buf.String())
	if c.truncated {
		s += " …(truncated)"
	}
	return s
}

// runCommand runs argv (never through a shell) with stdin from /dev/null
// and returns its combined, capped output. The command gets env's
// environment (environ), leads a process group of its own, and is killed
// with its group when ctx ends; it gets SIGKILL if this process dies
// first, so no helper outlives a crashed daemon (Pdeathsig follows the
// forking thread, and nothing here locks goroutines to threads that exit).
func runCommand(ctx context.Context, env Env, argv []string) (string, error) {
	if len(argv) == 0 || argv[0] == "" {
		return "", fmt.Errorf("empty command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env.environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // ESRCH: the group is gone already
		return nil
	}
	var out capped
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		if o := out.String(); o != "" {
			return o, fmt.Errorf("%s: %w: %s", shellJoin(argv...), err, clipOutput(o))
		}
		return "", fmt.Errorf("%s: %w", shellJoin(argv...), err)
	}
	return out.String(), nil
}

// environ is the environment of commands env runs: Environ (or, when it
// is nil, this process's whole environment) and then ExtraEnv.
func (e Env) environ() []string {
	base := e.Environ
	if base == nil {
		base = os.Environ()
	}
	return append(append([]string{}, base...), e.ExtraEnv...)
}

// MinimalEnviron is the whole environment lmn-privd gives the commands it
// runs: PATH (this process's, or the system directories when it has none)
// and the C locale. Nothing else of the daemon's environment reaches them:
// not CREDENTIALS_DIRECTORY (where the key is), NOTIFY_SOCKET,
// WATCHDOG_USEC or LISTEN_FDS, which would let a helper speak for the
// daemon to systemd.
func MinimalEnviron() []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/run/current-system/sw/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	return []string{"PATH=" + path, "LC_ALL=C"}
}

func clipOutput(s string) string {
	if len(s) > 512 {
		return s[:512] + "…"
	}
	return s
}

func with(prefix []string, args ...string) []string {
	out := make([]string, 0, len(prefix)+len(args))
	out = append(out, prefix...)
	return append(out, args...)
}
