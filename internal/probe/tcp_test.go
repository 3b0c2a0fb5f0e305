package probe

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/lmn-heal/lmn/internal/config"
)

// redisLike answers PING with reply, as redis-server does with +PONG.
func redisLike(reply string) func(net.Conn) {
	return func(c net.Conn) {
		if readLine(c) == "PING\r" {
			io.WriteString(c, reply)
		}
		io.Copy(io.Discard, c)
	}
}

func redisProbe(addr string) Probe {
	return Probe{TCP: &TCP{Address: addr, Send: "PING\r\n", Expect: "+PONG"}}
}

func TestTCPAnswered(t *testing.T) {
	wantResult(t, checkProbe(t, redisProbe(tcpServer(t, redisLike("+PONG\r\n")))), true, "")
	// A reply in pieces is read until the prefix is whole.
	slow := tcpServer(t, func(c net.Conn) {
		readLine(c)
		for _, s := range []string{"+", "PO", "NG\r\n"} {
			io.WriteString(c, s)
		}
		io.Copy(io.Discard, c)
	})
	wantResult(t, checkProbe(t, redisProbe(slow)), true, "")
	// Connect only.
	wantResult(t, checkProbe(t, Probe{TCP: &TCP{Address: tcpServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })}}), true, "")
	// A banner, read without sending, and a substring.
	banner := tcpServer(t, func(c net.Conn) { io.WriteString(c, "220 mail.example ESMTP Postfix\r\n"); io.Copy(io.Discard, c) })
	wantResult(t, checkProbe(t, Probe{TCP: &TCP{Address: banner, Expect: "220 ", Contains: "ESMTP"}}), true, "")
	exim := Probe{TCP: &TCP{Address: banner, Expect: "220 ", Contains: "Exim"}, Timeout: config.Duration(testTimeout)}
	wantResult(t, checkProbe(t, exim), false,
		`reply did not contain "Exim": got "220 mail.example ESMTP Postfix" (then nothing more until the timeout)`)
}

func TestTCPWrongReply(t *testing.T) {
	addr := tcpServer(t, redisLike("-LOADING Redis is loading the dataset in memory\r\n"))
	wantResult(t, checkProbe(t, redisProbe(addr)), false, `reply did not start with "+PONG": got "-LOADING Redis is loading the dataset in"`)
}

// A listener that accepts and never answers: the check ends at its
// timeout, and says so.
func TestTCPNeverAnswers(t *testing.T) {
	addr := tcpServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	p := redisProbe(addr)
	p.Timeout = config.Duration(testTimeout)
	r := checkProbe(t, p)
	wantResult(t, r, false, "timeout after 300ms")
	if r.Latency != testTimeout {
		t.Errorf("latency %v, want the timeout", r.Latency)
	}
}

// A listener that closes each connection at once, before and after
// reading the request.
func TestTCPClosedAtOnce(t *testing.T) {
	closing := tcpServer(t, func(c net.Conn) { c.Close() })
	wantResult(t, checkProbe(t, Probe{TCP: &TCP{Address: closing, Expect: "220 "}}), false,
		`reply did not start with "220 ": connection closed without a reply`)
	afterRequest := tcpServer(t, func(c net.Conn) { readLine(c); c.Close() })
	wantResult(t, checkProbe(t, redisProbe(afterRequest)), false,
		`reply did not start with "+PONG": connection closed without a reply`)
	short := tcpServer(t, func(c net.Conn) { readLine(c); io.WriteString(c, "+PO"); c.Close() })
	wantResult(t, checkProbe(t, redisProbe(short)), false, `reply did not start with "+PONG": got "+PO"`)
}

func TestTCPRefused(t *testing.T) {
	wantResult(t, checkProbe(t, redisProbe(closedPort(t, "tcp"))), false, "connection refused")
}

// A reply that never ends is read up to MaxReply and judged there.
func TestTCPEndlessReply(t *testing.T) {
	addr := tcpServer(t, func(c net.Conn) {
		line := bytes.Repeat([]byte("x"), 1000)
		for {
			if _, err := c.Write(line); err != nil {
				return
			}
		}
	})
	wantResult(t, checkProbe(t, Probe{TCP: &TCP{Address: addr, Contains: "needle"}}), false,
		`reply did not contain "needle": got "`+strings.Repeat("x", 40)+`"`)
}

// feedReply gives matchReply the reply in pieces of n bytes, as reads may
// return it, and returns its verdict at the first done or at the end.
func feedReply(reply []byte, expect, contains string, n int) (bool, error) {
	for end := 0; ; end = min(end+n, len(reply)) {
		final := end == len(reply)
		if done, bad := matchReply(reply[:end], expect, contains, final); done || final {
			return done, bad
		}
	}
}

func TestMatchReply(t *testing.T) {
	for _, tc := range []struct {
		reply, expect, contains string
		ok                      bool
	}{
		{"+PONG\r\n", "+PONG", "", true},
		{"+PONG", "+PONG", "", true},
		{"+PON", "+PONG", "", false},
		{"-ERR", "+PONG", "", false},
		{"", "+PONG", "", false},
		{"HTTP/1.0 200 OK\r\n\r\nhealthy", "HTTP/1.", "healthy", true},
		{"HTTP/1.0 200 OK\r\n\r\nsick", "HTTP/1.", "healthy", false},
		{"abc", "", "bc", true},
		{"abc", "", "", true},
	} {
		for _, n := range []int{1, 2, 1000} {
			done, bad := feedReply([]byte(tc.reply), tc.expect, tc.contains, n)
			if !done || (bad == nil) != tc.ok {
				t.Errorf("matchReply(%q, expect %q, contains %q) in pieces of %d = %v, %v; want ok=%v",
					tc.reply, tc.expect, tc.contains, n, done, bad, tc.ok)
			}
		}
	}
}

// FuzzMatchReply holds the reply matching to its definition: whatever the
// pieces the reply comes in, the verdict is that of the whole reply, and
// the whole reply passes exactly when it starts with expect and contains
// contains.
func FuzzMatchReply(f *testing.F) {
	f.Add([]byte("+PONG\r\n"), "+PONG", "", 1)
	f.Add([]byte("-ERR unknown"), "+PONG", "", 3)
	f.Add([]byte("220 ESMTP"), "220", "ESMTP", 2)
	f.Add([]byte(""), "", "x", 1)
	f.Add([]byte("aaab"), "", "aab", 1)
	f.Fuzz(func(t *testing.T, reply []byte, expect, contains string, n int) {
		if n <= 0 || n > 1<<16 {
			n = 1
		}
		if expect == "" && contains == "" {
			return // the check reads no reply
		}
		want := bytes.HasPrefix(reply, []byte(expect)) && bytes.Contains(reply, []byte(contains))
		done, bad := feedReply(reply, expect, contains, n)
		if !done {
			t.Fatalf("no verdict at the end of %q", reply)
		}
		if (bad == nil) != want {
			t.Fatalf("reply %q expect %q contains %q in pieces of %d: %v, want ok=%v", reply, expect, contains, n, bad, want)
		}
		if bad != nil {
			msg := describe(bad, nil, DefaultTimeout)
			if !strings.HasPrefix(msg, "reply did not ") || len(msg) > maxError+len("…") {
				t.Fatalf("error %q", msg)
			}
		}
	})
}
