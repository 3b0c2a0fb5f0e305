package probe

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MaxOutput is how much of a command's stdout and stderr is kept.
const MaxOutput = 4096

// execWaitDelay is how long a command's output is still read after it
// exited or was killed, for children that keep its pipes open.
const execWaitDelay = 250 * time.Millisecond

// check runs the command in its own process group, which is killed when
// the timeout comes.
func (e *Exec) check(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, e.Argv[0], e.Argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &cappedBuffer{limit: MaxOutput}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Cancel = func() error {
		// The group is the command's own (Setpgid), and its leader is not
		// reaped before Cancel returns, so the id cannot be another's.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = execWaitDelay
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &ee):
		msg := exitText(ee)
		if line := firstLine(out.Bytes()); line != "" {
			msg += ": " + line
		}
		return failure(msg)
	case errors.Is(err, exec.ErrWaitDelay):
		return nil // exited 0; a child kept the pipes open
	}
	return err
}

// exitText says how the command ended: "exit status 2", "killed by signal
// 9".
func exitText(ee *exec.ExitError) string {
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "killed by signal " + strconv.Itoa(int(ws.Signal()))
	}
	return "exit status " + strconv.Itoa(ee.ExitCode())
}

// firstLine is the first line of out with anything on it, trimmed and made
// safe for a record, at most maxError bytes.
func firstLine(out []byte) string {
	for len(out) > 0 {
		var line []byte
		line, out, _ = bytes.Cut(out, []byte("\n"))
		if s := strings.TrimSpace(clipText(string(line), maxError)); s != "" {
			return s
		}
	}
	return ""
}

// cappedBuffer keeps the first limit bytes written to it and drops the
// rest, never failing a write (a command whose output is cut must not see
// EPIPE).
type cappedBuffer struct {
	buf   bytes.Buffer
	limit int
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := c.limit - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *cappedBuffer) Bytes() []byte { return c.buf.Bytes() }
