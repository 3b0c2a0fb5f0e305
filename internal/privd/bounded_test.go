package privd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/config"
	"github.com/lmn-heal/lmn/internal/privproto"
)

// lockedBuffer is a stderr for the server that tests can read meanwhile.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

// bigRefusal is a signed request of 16 parameters of 256 bytes that JSON
// escapes six-fold: refused (not parameters of restart_unit), and before
// the fix each refusal line echoed them, 31 KB per line.
func bigRefusal() action.Request {
	p := map[string]string{}
	for i := range privproto.MaxParams {
		p["k"+strconv.Itoa(i)] = strings.Repeat("<", action.MaxValueLen)
	}
	return action.Request{Action: "restart_unit", Params: p}
}

// The flood: refused requests grew the audit log by 31 KB each.
// Now a refusal line holds a digest instead of the parameters, and of one
// peer's refusals 10 a minute are written one by one, the rest counted
// into one summary line.
func TestRefusalFloodCostsBoundedSpace(t *testing.T) {
	var stderr lockedBuffer
	h := newHarness(t, nil)
	h.stop()
	h.srv = nil
	srvLog := slog.New(slog.NewTextHandler(&stderr, nil))
	srv, err := New(h.cfg, h.key, srvLog)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(h.socket, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	before, _ := os.Stat(h.cfg.AuditLog)
	const flood = 2000
	refused := 0
	for range flood {
		if _, err := h.client().Do(context.Background(), bigRefusal()); errors.Is(err, privproto.ErrRefused) {
			refused++
		}
	}
	cancel()
	<-done
	srv.Close()
	after, _ := os.Stat(h.cfg.AuditLog)
	es := readEntries(t, h.cfg.AuditLog)
	full, summarised := 0, 0
	for _, e := range es {
		switch e.Event {
		case EventRefused:
			full++
			if e.Params != nil || len(e.Digest) != 16 {
				t.Errorf("refusal line echoes the request: %+v", e)
			}
		case EventRefusedSummary:
			summarised += e.Count
		}
	}
	raw, _ := os.ReadFile(h.cfg.AuditLog)
	for i, line := range bytes.Split(raw, []byte("\n")) {
		if len(line) > maxLine {
			t.Errorf("line %d: %d bytes", i+1, len(line))
		}
	}
	grew := after.Size() - before.Size()
	if refused != flood || full != foldBurst || full+summarised != flood || grew > 16<<10 {
		t.Errorf("%d of %d refused; audit: %d written, %d summarised, %d bytes grown", refused, flood, full, summarised, grew)
	}
	if stderr.Len() > 16<<10 {
		t.Errorf("stderr grew by %d bytes", stderr.Len())
	}
	if rep, err := h.verify(); err != nil {
		t.Errorf("verify: %+v %v", rep, err)
	}
	t.Logf("%d refusals of %d-byte frames: audit log +%d bytes (%d lines), stderr %d bytes", flood, 5*1024, grew, len(es), stderr.Len())
}

// The folding in time: 10 lines a window, then a count, written when the
// window has passed; a peer flood does not take another peer's lines.
func TestFolderWindows(t *testing.T) {
	f := newFolder()
	t0 := time.Unix(1e9, 0)
	full := 0
	for i := range 100 {
		ok, s := f.admit(1000, privproto.CodeInvalid, t0.Add(time.Duration(i)*time.Millisecond))
		if s != nil {
			t.Fatalf("summary inside the first window: %+v", s)
		}
		if ok {
			full++
		}
	}
	if ok, _ := f.admit(2000, privproto.CodeBadAuth, t0.Add(time.Second)); !ok || full != foldBurst {
		t.Errorf("%d written of uid 1000; another uid's first refusal written: %v", full, ok)
	}
	if es := f.flush(t0.Add(30*time.Second), false); len(es) != 0 {
		t.Errorf("flushed inside the window: %+v", es)
	}
	es := f.flush(t0.Add(foldWindow), false)
	if len(es) != 1 || es[0].Count != 90 || es[0].Codes[privproto.CodeInvalid] != 90 || es[0].Peer.UID != 1000 || !es[0].Since.Equal(t0.Add(10*time.Millisecond)) {
		t.Errorf("summary after the window: %+v", es)
	}
	// The next window writes 10 again; its summary comes with the first
	// refusal after it.
	t1 := t0.Add(2 * foldWindow)
	for i := range 15 {
		f.admit(1000, privproto.CodeRateLimited, t1.Add(time.Duration(i)))
	}
	if ok, s := f.admit(1000, privproto.CodeRateLimited, t1.Add(foldWindow)); !ok || s == nil || s.Count != 5 {
		t.Errorf("after the second window: written %v, summary %+v", ok, s)
	}
	// More peers than foldPeers share one count.
	for uid := range 3 * foldPeers {
		f.admit(5000+uid, privproto.CodePermission, t1.Add(foldWindow))
	}
	if len(f.peers) > foldPeers+1 {
		t.Errorf("%d peers tracked, at most %d", len(f.peers), foldPeers+1)
	}
}

// The lock flood: with the budget spent, refused requests on
// distinct targets each left a lock file. Admission comes first now, and a
// lock file lives only while its action runs.
func TestRefusedRequestsLeaveNoLockFiles(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.RateLimits = RateLimits{Overall: Limit{Max: 1, Window: config.Duration(time.Hour)}}
		c.Env.Systemctl = failedManager(t)
		c.Units = action.UnitPolicy{}
	})
	ctx := context.Background()
	if _, err := h.client().Do(ctx, action.Request{Action: "restart_unit", Params: map[string]string{"unit": "first.service"}}); err != nil {
		t.Fatal(err)
	}
	const flood = 1000
	for i := range flood {
		req := action.Request{Action: "restart_unit", Params: map[string]string{"unit": "u" + strconv.Itoa(i) + ".service"}}
		if _, err := h.client().Do(ctx, req); !errors.Is(err, privproto.ErrRateLimited) {
			t.Fatalf("request %d: %v, want rate limited", i, err)
		}
	}
	ents, _ := os.ReadDir(h.srv.locks.dir)
	if len(ents) != 0 || h.ran.Load() != 1 {
		t.Errorf("%d lock files after 1 action and %d refusals (ran %d), want none", len(ents), flood, h.ran.Load())
	}
}

// slowConn connects and reads the challenge, then sends nothing: a
// slowloris connection. It returns nil when the server refused it.
func slowConn(t *testing.T, socket string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	p, err := privproto.ReadFrame(c)
	if err != nil || p[0] != privproto.TypeChallenge {
		c.Close()
		return nil
	}
	return c
}

// The slowloris: 200 slow connections of the client's uid took all
// 32 slots and the legitimate pings were refused "server busy". A process
// now holds at most a quarter of its uid's max_connections_per_uid pending,
// and a new connection displaces its oldest slow one (slow: waiting
// slowAfter), so a ping gets in even from the very process (this test)
// that holds the slow connections.
func TestSlowClientsDoNotStarveAPing(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ReadTimeout = config.Duration(30 * time.Second) })
	var mu sync.Mutex
	clock := time.Now()
	h.stop()
	h.prepare = func(s *Server) { s.conns.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock } }
	h.start()
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range 200 {
		if c := slowConn(t, h.socket); c != nil {
			held = append(held, c)
		}
	}
	if len(held) != h.cfg.MaxConnectionsPerUID/4 {
		t.Errorf("%d slow connections of one process held, want %d", len(held), h.cfg.MaxConnectionsPerUID/4)
	}
	// Young slow connections are not displaced: a flood of new ones is
	// refused instead.
	if err := h.client().Ping(context.Background()); !errors.Is(err, privproto.ErrRateLimited) {
		t.Errorf("ping while every slot is young: %v, want rate limited", err)
	}
	mu.Lock()
	clock = clock.Add(slowAfter)
	mu.Unlock()
	for i := range 20 {
		if err := h.client().Ping(context.Background()); err != nil {
			t.Fatalf("ping %d beside %d slow connections: %v", i, len(held), err)
		}
	}
	// The first ping displaced the oldest slow connection, which the
	// server closed; the others found its slot free.
	closed := 0
	for _, c := range held {
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); errors.Is(err, io.EOF) {
			closed++
		}
	}
	if closed != 1 {
		t.Errorf("%d slow connections displaced, want 1", closed)
	}
}

// The counted refusals reach the log once their window has passed, without
// another refusal to carry them and before shutdown: the daemon's flusher,
// in fake time.
func TestFolderFlushedOnTime(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		srv, err := New(testConfig(dir), nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		for range 25 {
			srv.refuse(&Peer{UID: 1000}, action.Request{Action: "nope"}, "no such action", privproto.CodeInvalid)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go srv.flushSummaries(ctx, done)
		time.Sleep(foldWindow / 2)
		synctest.Wait()
		if n := count(readEntries(t, srv.cfg.AuditLog), EventRefusedSummary); n != 0 {
			t.Errorf("%d summaries inside the window", n)
		}
		time.Sleep(foldWindow)
		synctest.Wait()
		es := readEntries(t, srv.cfg.AuditLog)
		if n := count(es, EventRefusedSummary); n != 1 || es[len(es)-1].Count != 15 {
			t.Errorf("after the window: %d summaries, last line %+v", n, es[len(es)-1])
		}
		cancel()
		<-done
	})
}
