// Package probe checks that services answer: a TCP exchange, an HTTP GET,
// a DNS lookup or a command, each on its own interval and timeout, run by a
// Scheduler beside the collector so that a hung service never delays a
// sample. The collector reads the latest finished Result of each probe.
//
// The configuration is lmn-collect's --probes file (File); docs/stream.md
// describes the results as samples carry them.
package probe

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/lmn-heal/lmn/internal/config"
)

// Result is one finished check.
type Result struct {
	Name, Unit, Scope, Kind string
	OK                      bool
	// Latency is how long the check took, up to its timeout.
	Latency time.Duration
	// CheckedAt is when the check ended.
	CheckedAt time.Time
	// Error says briefly why the check failed ("timeout after 2s",
	// "connection refused", "status 503"); empty when OK.
	Error string
	// Streak counts the consecutive results, this one included, with the
	// same OK: 3 after the third failure in a row.
	Streak int
}

// checker is one kind of check. check returns nil when the service
// answered as it should; it returns by the context's deadline.
type checker interface {
	check(ctx context.Context) error
}

// checker returns p's check.
func (p *Probe) checker() checker {
	switch {
	case p.TCP != nil:
		return p.TCP
	case p.HTTP != nil:
		return newHTTPCheck(p.HTTP)
	case p.DNS != nil:
		return newDNSCheck(p.DNS)
	case p.Exec != nil:
		return p.Exec
	}
	return nil
}

// failure is a service's answer that was not the one wanted; its text is
// the Result's Error as it is.
type failure string

func (f failure) Error() string { return string(f) }

// maxError bounds Result.Error.
const maxError = 200

// describe says in a few words why a check failed. ctxErr is the check's
// context's error when the check returned: a deadline is a timeout
// whatever error the operation it cut short returned.
func describe(err, ctxErr error, timeout time.Duration) string {
	var f failure
	var dns *net.DNSError
	var ne net.Error
	switch {
	case errors.As(err, &f):
		return clipText(string(f), maxError)
	case errors.Is(ctxErr, context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout after " + config.Duration(timeout).String()
	case ctxErr != nil:
		return "cancelled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "no route to host"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	case errors.As(err, &dns) && dns.IsNotFound:
		return "no such host"
	case errors.As(err, &dns):
		// dns.Err ends with the cause ("read udp …: read: connection
		// refused"); the addresses before it are noise.
		cause := dns.Err
		if i := strings.LastIndex(cause, ": "); i >= 0 {
			cause = cause[i+2:]
		}
		return clipText("lookup failed: "+cause, maxError)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return clipText(err.Error(), maxError)
}

// clipText makes s safe and short for a record: valid UTF-8, control
// characters as spaces, at most limit bytes cut at a rune boundary (with
// "…" when cut).
func clipText(s string, limit int) string {
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = ' '
		}
		if b.Len()+utf8.RuneLen(r) > limit {
			return strings.TrimRight(b.String(), " ") + "…"
		}
		b.WriteRune(r)
	}
	return b.String()
}
