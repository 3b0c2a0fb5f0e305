package action

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
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
// and returns its combined, capped output.
func runCommand(ctx context.Context, env Env, argv []string) (string, error) {
	if len(argv) == 0 || argv[0] == "" {
		return "", fmt.Errorf("empty command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env.ExtraEnv...)
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
