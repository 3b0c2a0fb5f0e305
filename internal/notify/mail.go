package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"os"
	"os/exec"
	"strings"
	"time"
)

// mailChannel hands each message to the local MTA as `sendmail -t -i`:
// the recipients are read from the To header, which holds only the
// configured addresses. Nothing from the stream reaches the command line,
// and every header value is one line.
type mailChannel struct {
	to   []string
	from string
	argv []string
}

func (c *mailChannel) name() string { return "mail" }

func (c *mailChannel) send(ctx context.Context, m *Message) error {
	cmd := exec.CommandContext(ctx, c.argv[0], append(c.argv[1:], "-t", "-i")...)
	cmd.Stdin = bytes.NewReader(c.compose(m, time.Now()))
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
		return permanent(fmt.Errorf("sendmail %s: %w", c.argv[0], err))
	}
	out := strings.TrimSpace(oneLine(stderr.String()))
	if len(out) > 300 {
		out = out[:300] + "…"
	}
	return fmt.Errorf("sendmail %s: %w: %s", c.argv[0], err, out)
}

// compose writes the message as RFC 5322 text with LF line ends, as
// sendmail reads it locally.
func (c *mailChannel) compose(m *Message, now time.Time) []byte {
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\n", k, oneLine(v)) }
	if c.from != "" {
		header("From", c.from)
	}
	header("To", strings.Join(c.to, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", m.Title()))
	header("Date", now.Format(time.RFC1123Z))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "8bit")
	// RFC 3834: no vacation replies to a machine.
	header("Auto-Submitted", "auto-generated")
	header("X-Lmn-Event", m.Event)
	if m.Issue != "" {
		header("X-Lmn-Issue", m.Issue)
	}
	b.WriteString("\n")
	b.WriteString(m.Text())
	b.WriteString("\n")
	return b.Bytes()
}
