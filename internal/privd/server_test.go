package privd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/config"
	"github.com/lmn-heal/lmn/internal/privproto"
)

func TestPingAndAction(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	if err := h.client().Ping(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := h.client().Do(ctx, dropReq)
	if err != nil {
		t.Fatal(err)
	}
	if h.dropCaches() != "3\n" || res.Output == "" {
		t.Errorf("drop_caches = %q, output %q", h.dropCaches(), res.Output)
	}
	es := h.entries()
	if count(es, EventIntent) != 1 || count(es, EventResult) != 1 {
		t.Errorf("audit: %+v", es)
	}
	if rep, err := h.verify(); err != nil || rep.Lines != int64(len(es)) || rep.HeadSeq != uint64(len(es)) {
		t.Errorf("Verify = %+v, %v", rep, err)
	}
}

func TestClientErrors(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	wrong := h.client()
	wrong.Key = bytes.Repeat([]byte{1}, privproto.KeyLen)
	if _, err := wrong.Do(ctx, dropReq); !errors.Is(err, privproto.ErrBadKey) {
		t.Errorf("wrong key: %v", err)
	}
	nosock := h.client()
	nosock.Socket = h.dir + "/none.sock"
	if err := nosock.Ping(ctx); !errors.Is(err, privproto.ErrNoSocket) {
		t.Errorf("no socket: %v", err)
	}
	c := h.client()
	if _, err := c.Do(ctx, action.Request{Action: "kill_process", Params: map[string]string{"pid": "1", "start_time": "1"}}); !errors.Is(err, privproto.ErrRefused) || !errors.Is(err, action.ErrDenied) {
		t.Errorf("kill pid 1: %v", err)
	}
	if _, err := c.Do(ctx, action.Request{Action: "restart_unit", Params: map[string]string{"unit": "a;reboot.service"}}); !errors.Is(err, action.ErrInvalid) {
		t.Errorf("bad unit: %v", err)
	}
	if _, err := c.Do(ctx, action.Request{Action: "set_cpu_governor", Params: map[string]string{"governor": "performance"}}); !errors.Is(err, privproto.ErrRefused) {
		t.Errorf("governor without cpufreq: %v", err)
	}
	if h.ran.Load() != 0 || h.dropCaches() != "" {
		t.Errorf("%d actions ran", h.ran.Load())
	}
}

func TestValidationRefusesThroughDaemon(t *testing.T) {
	h := newHarness(t, nil)
	self := strconv.Itoa(os.Getpid()) // the daemon and the caller here
	cases := map[string]action.Request{
		"pid 1":      {Action: "kill_process", Params: map[string]string{"pid": "1", "start_time": "1"}},
		"pid -1":     {Action: "kill_process", Params: map[string]string{"pid": "-1", "start_time": "1"}},
		"self":       {Action: "kill_process", Params: map[string]string{"pid": self, "start_time": "1"}},
		"shell meta": {Action: "restart_unit", Params: map[string]string{"unit": "x.service; reboot"}},
		"subshell":   {Action: "restart_unit", Params: map[string]string{"unit": "$(reboot).service"}},
		"deny list":  {Action: "restart_unit", Params: map[string]string{"unit": "sshd.service"}},
		"privd":      {Action: "restart_unit", Params: map[string]string{"unit": "lmn-privd.service"}},
	}
	for name, req := range cases {
		if _, err := h.client().Do(context.Background(), req); !errors.Is(err, privproto.ErrRefused) {
			t.Errorf("%s: %v, want refused", name, err)
		}
	}
	es := h.entries()
	if h.ran.Load() != 0 || count(es, EventRefused) != len(cases) || count(es, EventIntent) != 0 {
		t.Errorf("ran %d, audit refused %d intent %d", h.ran.Load(), count(es, EventRefused), count(es, EventIntent))
	}
	t.Logf("%d dangerous requests refused and audited, none ran", len(cases))
}

func TestEveryBitFlipRejected(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RateLimits = RateLimits{} })
	var frameLen int
	h.rawExchange(func(ch []byte) []byte { f := h.validFrame(dropReq)(ch); frameLen = len(f); return nil })
	rejected := 0
	for bit := 0; bit < frameLen*8; bit++ {
		var ch []byte
		resp := h.rawExchange(func(c []byte) []byte {
			ch = c
			f := h.validFrame(dropReq)(c)
			f[bit/8] ^= 1 << (bit % 8)
			return f
		})
		if resp == nil {
			t.Fatalf("bit %d: no response", bit)
		}
		if r := h.response(resp, ch); r.OK {
			t.Fatalf("bit %d: flipped request accepted", bit)
		}
		rejected++
	}
	if h.ran.Load() != 0 || h.dropCaches() != "" || count(h.entries(), EventIntent) != 0 {
		t.Fatalf("an action ran: %d", h.ran.Load())
	}
	// The unflipped frame works, so the rejections were the flips.
	if resp := h.rawExchange(h.validFrame(dropReq)); !h.response(resp, nil).OK || h.ran.Load() != 1 {
		t.Fatalf("valid frame refused")
	}
	t.Logf("%d of %d single-bit flips rejected, 0 actions ran", rejected, frameLen*8)
}

func TestReplayRejected(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RateLimits = RateLimits{} })
	var captured []byte
	resp := h.rawExchange(func(ch []byte) []byte { captured = h.validFrame(dropReq)(ch); return captured })
	if !h.response(resp, nil).OK || h.ran.Load() != 1 {
		t.Fatal("first request refused")
	}
	for i := range 5 {
		resp := h.rawExchange(func([]byte) []byte { return captured })
		if r := h.response(resp, nil); r.OK || r.Code != privproto.CodeBadAuth {
			t.Fatalf("replay %d: %+v", i, r)
		}
	}
	if h.ran.Load() != 1 {
		t.Errorf("replays ran %d actions", h.ran.Load()-1)
	}
}

func TestMalformedFramesThenServes(t *testing.T) {
	h := newHarness(t, nil)
	body := []byte(`{"action":"noop","action":"drop_caches"}`)
	frames := map[string]func([]byte) []byte{
		"zero length":  func([]byte) []byte { return []byte{0, 0, 0, 0} },
		"oversized":    func([]byte) []byte { return binary.BigEndian.AppendUint32(nil, privproto.MaxFrame+1) },
		"huge":         func([]byte) []byte { return []byte{0xff, 0xff, 0xff, 0xff} },
		"truncated":    func([]byte) []byte { return append(binary.BigEndian.AppendUint32(nil, 100), 'Q') },
		"garbage":      func([]byte) []byte { return privproto.AppendFrame(nil, []byte("hello world, let me in please")) },
		"wrong type":   func(ch []byte) []byte { f := h.validFrame(dropReq)(ch); f[4] = 'R'; return f },
		"no mac":       func([]byte) []byte { return privproto.AppendFrame(nil, []byte("Q{}")) },
		"empty":        func([]byte) []byte { return nil },
		"signed dup":   func(ch []byte) []byte { return signed(h.key, ch, body) },
		"signed extra": func(ch []byte) []byte { return signed(h.key, ch, []byte(`{"action":"noop","x":1}`)) },
		"signed big": func(ch []byte) []byte {
			return signed(h.key, ch, []byte(`{"action":"nix_gc","params":{"older_than":"`+string(bytes.Repeat([]byte("1"), 4000))+`d"}}`))
		},
	}
	for name, f := range frames {
		resp := h.rawExchange(f)
		if resp == nil {
			t.Errorf("%s: no response", name)
			continue
		}
		if r := h.response(resp, nil); r.OK {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := h.client().Ping(context.Background()); err != nil {
		t.Fatalf("daemon stopped serving: %v", err)
	}
	if h.ran.Load() != 0 {
		t.Errorf("%d actions ran", h.ran.Load())
	}
	t.Logf("%d malformed frames rejected, daemon still serves", len(frames))
}

func signed(key, ch, body []byte) []byte {
	return privproto.AppendFrame(nil, privproto.SignedPayload(privproto.TypeRequest, privproto.RequestMAC(key, ch, body), body))
}

func TestSilentClientsDoNotBlock(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxConnections = 3; c.ReadTimeout = config.Duration(500 * time.Millisecond) })
	var conns []net.Conn
	for range 2 { // two silent clients hold two of three slots
		c, err := net.Dial("unix", h.socket)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	if err := h.client().Ping(context.Background()); err != nil {
		t.Fatalf("ping beside silent clients: %v", err)
	}
	if d := time.Since(start); d > 400*time.Millisecond {
		t.Errorf("ping waited %v behind silent clients", d)
	}
	// A silent client is cut off by the read deadline.
	conns[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	privproto.ReadFrame(conns[0]) // challenge
	p, err := privproto.ReadFrame(conns[0])
	if err != nil {
		t.Fatalf("silent client got no answer: %v", err)
	}
	if r := h.response(p, nil); r.Code != privproto.CodeInvalid {
		t.Errorf("silent client: %+v", r)
	}
}

func TestFullServerRefusesAtOnce(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxConnections = 1; c.ReadTimeout = config.Duration(3 * time.Second) })
	c, err := net.Dial("unix", h.socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	privproto.ReadFrame(c) // the slot is taken once the challenge is out
	err = h.client().Ping(context.Background())
	var rl *privproto.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter <= 0 {
		t.Errorf("full server: %v, want rate limited with a retry time", err)
	}
}

func TestFloodRunsExactlyTheLimit(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.RateLimits = RateLimits{Overall: Limit{Max: 10, Window: config.Duration(5 * time.Minute)}}
		c.Env.Systemctl = failedManager(t) // a real program that says every unit failed, instead of a service manager
		c.Units = action.UnitPolicy{}
	})
	const flood = 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok, limited int
	var maxRetry time.Duration
	for i := range flood {
		wg.Go(func() {
			req := action.Request{Action: "restart_unit", Params: map[string]string{"unit": "u" + strconv.Itoa(i) + ".service"}}
			err := doPastBusy(h.client(), req)
			mu.Lock()
			defer mu.Unlock()
			var rl *privproto.RateLimitedError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &rl):
				limited++
				maxRetry = max(maxRetry, rl.RetryAfter)
			default:
				t.Errorf("request %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if ok != 10 || limited != flood-10 || h.ran.Load() != 10 {
		t.Errorf("flood of %d: %d ok, %d limited, %d ran; want 10 ran", flood, ok, limited, h.ran.Load())
	}
	if maxRetry <= 0 || maxRetry > 5*time.Minute {
		t.Errorf("retry after %v", maxRetry)
	}
	t.Logf("flood of %d: %d ran, %d rate limited (retry after ≤ %v)", flood, ok, limited, maxRetry.Round(time.Second))

	// The limit survives a restart: a new server over the same audit log.
	h.stop()
	h.start()
	_, err := h.client().Do(context.Background(), action.Request{Action: "restart_unit", Params: map[string]string{"unit": "after.service"}})
	if !errors.Is(err, privproto.ErrRateLimited) {
		t.Errorf("after restart: %v, want rate limited", err)
	}
	if h.ran.Load() != 10 {
		t.Errorf("after restart %d ran", h.ran.Load())
	}
}

func TestOneActionPerTarget(t *testing.T) {
	h := newHarness(t, nil)
	release := make(chan struct{})
	started := make(chan struct{})
	h.srv.run = func(ctx context.Context, env action.Env, req action.Request) (action.Result, error) {
		h.ran.Add(1)
		close(started)
		<-release
		return action.Result{}, nil
	}
	errc := make(chan error, 1)
	go func() { _, err := h.client().Do(context.Background(), dropReq); errc <- err }()
	<-started
	_, err := h.client().Do(context.Background(), dropReq)
	close(release)
	if !errors.Is(err, privproto.ErrRateLimited) {
		t.Errorf("second action on a busy target: %v", err)
	}
	if err := <-errc; err != nil {
		t.Errorf("first: %v", err)
	}
	if err := h.client().Ping(context.Background()); err != nil {
		t.Errorf("ping while busy: %v", err)
	}
}

// A second server over the same audit log stands in for `lmn-privd exec`
// under sudo, a process of its own: while the daemon acts on a target, the
// other refuses it as busy, and the flock is gone once the action ends.
func TestOneActionPerTargetAcrossProcesses(t *testing.T) {
	h := newHarness(t, nil)
	release := make(chan struct{})
	started := make(chan struct{})
	h.srv.run = func(ctx context.Context, env action.Env, req action.Request) (action.Result, error) {
		close(started)
		<-release
		return action.Result{}, nil
	}
	other, err := New(h.srv.cfg, nil, h.srv.log)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ran := 0
	other.run = func(context.Context, action.Env, action.Request) (action.Result, error) {
		ran++
		return action.Result{}, nil
	}
	errc := make(chan error, 1)
	go func() { _, err := h.client().Do(context.Background(), dropReq); errc <- err }()
	<-started
	resp := other.Execute(nil, dropReq)
	close(release)
	if resp.OK || resp.Code != privproto.CodeRateLimited || ran != 0 {
		t.Errorf("exec on a target the daemon holds: %+v, ran %d; want busy, not run", resp, ran)
	}
	if err := <-errc; err != nil {
		t.Fatalf("daemon's action: %v", err)
	}
	if resp := other.Execute(nil, dropReq); !resp.OK || ran != 1 {
		t.Errorf("exec after the daemon's action ended: %+v, ran %d", resp, ran)
	}
}

func TestAuditFailureRefuses(t *testing.T) {
	h := newHarness(t, nil)
	h.srv.audit.f.Close() // every audit write now fails
	_, err := h.client().Do(context.Background(), dropReq)
	if !errors.Is(err, privproto.ErrRefused) {
		t.Errorf("with a broken audit log: %v, want refused", err)
	}
	if h.ran.Load() != 0 || h.dropCaches() != "" {
		t.Error("action ran without an intent line")
	}
}

func mustOpen(t *testing.T, path string) *os.File {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestHealthyFollowsTheAuditLock(t *testing.T) {
	h := newHarness(t, nil)
	if !h.srv.Healthy(time.Second) {
		t.Fatal("idle server unhealthy")
	}
	h.srv.audit.mu.Lock() // as a hung fsync would hold it
	if h.srv.Healthy(50 * time.Millisecond) {
		t.Error("healthy while the audit log is stuck")
	}
	h.srv.audit.mu.Unlock()
	if !h.srv.Healthy(time.Second) {
		t.Error("unhealthy after the audit log came back")
	}
}

// An action's output is capped at 16 KiB, but JSON escapes a control
// character or '<' as six bytes: the response must still fit in a frame,
// or the client cannot tell that the action ran. The tool is a real
// subprocess standing in for journalctl.
func TestLargeEscapedOutputStillAnswered(t *testing.T) {
	dir := t.TempDir()
	tool := filepath.Join(dir, "journalctl")
	script := "#!/bin/sh\ni=0\nwhile [ $i -lt 300 ]; do printf '<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<\\001\\001\\n'; i=$((i+1)); done\n"
	if err := os.WriteFile(tool, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *Config) { c.Env.Journalctl = []string{tool} })
	res, err := h.client().Do(context.Background(), action.Request{Action: "journal_vacuum", Params: map[string]string{"size": "1G"}})
	if err != nil {
		t.Fatalf("journal_vacuum with a large escaped output: %v", err)
	}
	if !strings.HasPrefix(res.Output, "<<<<") || !strings.Contains(res.Output, "truncated") {
		t.Errorf("output %.80q… (%d bytes), want the start of it, marked truncated", res.Output, len(res.Output))
	}
	if es := h.entries(); count(es, EventResult) != 1 {
		t.Errorf("audit: %+v", es)
	}
}

// doPastBusy sends req again for as long as the server says it is busy
// with this process's connections (one process holds at most 4 pending:
// conns.go), as a client told to retry does; the flood is of requests, not
// connections.
func doPastBusy(c *privproto.Client, req action.Request) error {
	for {
		_, err := c.Do(context.Background(), req)
		var rl *privproto.RateLimitedError
		if !errors.As(err, &rl) || !strings.Contains(rl.Reason, "server busy") {
			return err
		}
	}
}
