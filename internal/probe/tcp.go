package probe

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"time"
)

// MaxReply is how much of a TCP reply is read at most.
const MaxReply = 4096

// check connects, sends and reads the reply until it is known to match or
// not.
func (t *TCP) check(ctx context.Context) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", t.Address)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := deadlineFrom(ctx, c)
	defer stop()
	if t.Send != "" {
		if _, err := io.WriteString(c, t.Send); err != nil {
			return err
		}
	}
	if t.Expect == "" && t.Contains == "" {
		return nil
	}
	buf := make([]byte, 0, MaxReply)
	for {
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		eof := errors.Is(err, io.EOF)
		if done, bad := matchReply(buf, t.Expect, t.Contains, eof || len(buf) == cap(buf)); done {
			return bad
		}
		if err != nil && len(buf) > 0 && (errors.Is(err, os.ErrDeadlineExceeded) || ctx.Err() != nil) {
			// What came so far is the finding, not the wait.
			_, bad := matchReply(buf, t.Expect, t.Contains, true)
			return failure(bad.Error() + " (then nothing more until the timeout)")
		}
		if err != nil {
			return err
		}
	}
}

// deadlineFrom gives conn ctx's deadline and cuts it short when ctx is
// cancelled; stop undoes the latter.
func deadlineFrom(ctx context.Context, c net.Conn) (stop func() bool) {
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	return context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
}

// matchReply judges the reply read so far: done once it is known to start
// with expect (when set) and to contain contains (when set), or known not
// to; bad then says which. final means no more of the reply will come (the
// peer closed it or MaxReply bytes were read).
func matchReply(reply []byte, expect, contains string, final bool) (done bool, bad error) {
	if expect != "" {
		n := min(len(reply), len(expect))
		if string(reply[:n]) != expect[:n] || (final && n < len(expect)) {
			return true, notReplied("start with", expect, reply)
		}
		if n < len(expect) {
			return false, nil
		}
	}
	if contains != "" && !bytes.Contains(reply, []byte(contains)) {
		if final {
			return true, notReplied("contain", contains, reply)
		}
		return false, nil
	}
	return true, nil
}

// notReplied says what the reply lacked and how it began.
func notReplied(verb, want string, reply []byte) failure {
	msg := "reply did not " + verb + " " + strconv.Quote(want)
	if len(reply) == 0 {
		return failure(msg + ": connection closed without a reply")
	}
	got := reply[:min(len(reply), 40)]
	if i := bytes.IndexAny(got, "\r\n"); i > 0 {
		got = got[:i]
	}
	return failure(msg + ": got " + strconv.Quote(string(got)))
}
