package probe

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/config"
)

// testTimeout is the timeout of the checks against things that never
// answer: short, so the tests are quick, and named in the errors they
// expect.
const testTimeout = 300 * time.Millisecond

// checkProbe validates p (as the configuration would), runs its check once
// and returns the result.
func checkProbe(t *testing.T, p Probe) Result {
	t.Helper()
	if p.Name == "" {
		p.Name = "test"
	}
	if p.Timeout == 0 {
		p.Timeout = config.Duration(DefaultTimeout) // the checks that time out set their own
	}
	if err := p.validate(5 * time.Second); err != nil {
		t.Fatalf("probe %+v: %v", p, err)
	}
	s := NewScheduler([]Probe{p}, 1)
	return s.checkOnce(t.Context(), 0)
}

// wantResult checks r's verdict and error.
func wantResult(t *testing.T, r Result, ok bool, errText string) {
	t.Helper()
	if r.OK != ok || r.Error != errText {
		t.Errorf("result ok=%v error=%q, want ok=%v error=%q", r.OK, r.Error, ok, errText)
	}
	// No check here runs longer than the default timeout, and the
	// latency is capped at the probe's timeout.
	if r.CheckedAt.IsZero() || r.Latency < 0 || r.Latency > DefaultTimeout {
		t.Errorf("result checked_at %v latency %v", r.CheckedAt, r.Latency)
	}
}

// tcpServer is a real listener on loopback whose connections are served
// by serve, each in its own goroutine. Connections still open when the
// test ends are closed.
func tcpServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { serve(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// closedPort returns a loopback address nothing listens on: a port just
// released by a listener of this test.
func closedPort(t *testing.T, network string) string {
	t.Helper()
	var addr string
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = c.LocalAddr().String()
		c.Close()
	default:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = ln.Addr().String()
		ln.Close()
	}
	return addr
}

// readLine reads up to the first newline of c.
func readLine(c net.Conn) string {
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		if _, err := c.Read(buf); err != nil || buf[0] == '\n' {
			return b.String()
		}
		b.WriteByte(buf[0])
	}
}

// hang blocks until ctx is done: a service that never answers.
func hang(ctx context.Context) { <-ctx.Done() }
