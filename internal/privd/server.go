// Package privd is lmn-privd, the root broker: it authenticates one
// unprivileged client per connection (SO_PEERCRED, then an HMAC over a
// fresh challenge), rate-limits and audits every action, and runs it
// through internal/action.
package privd

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/privproto"
	"golang.org/x/sys/unix"
)

// writeTimeout bounds writing one response.
const writeTimeout = 5 * time.Second

// busyRetry is the retry hint when a target is busy or the server is full.
const busyRetry = time.Second

// Server is the daemon's state shared by all connections.
type Server struct {
	cfg    Config
	key    []byte
	env    action.Env
	log    *slog.Logger
	audit  *auditLog
	limits *limiter
	sem    chan struct{}

	now func() time.Time
	run func(context.Context, action.Env, action.Request) (action.Result, error)

	// OnStatus, if set, is told a one-line status after each action
	// (lmn-privd sends it to systemd as STATUS=).
	OnStatus func(string)
	ran      atomic.Int64
	refused  atomic.Int64

	mu    sync.Mutex
	busy  map[string]*os.File // targets with an action running, and their lock files
	wg    sync.WaitGroup
	ctx   context.Context // actions run under it; cancelled after shutdown grace
	abort context.CancelFunc
}

// New opens the audit log, rebuilds the rate limiter from it, and returns
// a server. key may be nil for Execute-only use (`lmn-privd exec`).
func New(cfg Config, key []byte, log *slog.Logger) (*Server, error) {
	s := &Server{
		cfg: cfg, key: key, env: cfg.ActionEnv(), log: log,
		limits: newLimiter(cfg.RateLimits),
		sem:    make(chan struct{}, cfg.MaxConnections),
		now:    time.Now,
		run:    action.Run,
		busy:   map[string]*os.File{},
	}
	s.ctx, s.abort = context.WithCancel(context.Background())
	a, err := openAudit(cfg.AuditLog, s.absorb, func(line int64, err error) {
		log.Warn("audit log line does not parse", "file", cfg.AuditLog, "line", line, "err", err)
	})
	if err != nil {
		return nil, err
	}
	s.audit = a
	return s, nil
}

// absorb feeds audit lines written earlier, or by another writer, to the
// rate limiter.
func (s *Server) absorb(e Entry) {
	if e.Event == EventIntent && e.Action != "" {
		s.limits.record(e.TS.Time, e.Action, e.Target)
	}
}

// Close closes the audit log.
func (s *Server) Close() error {
	s.abort()
	return s.audit.Close()
}

// Serve accepts connections on ln until ctx is done, then stops accepting,
// waits up to ShutdownGrace for running requests, cancels what is left and
// returns.
func (s *Server) Serve(ctx context.Context, ln *net.UnixListener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var err error
	for {
		var conn *net.UnixConn
		conn, err = ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				err = nil
				break
			}
			s.log.Warn("accept", "err", err)
			time.Sleep(10 * time.Millisecond) // EMFILE and friends: do not spin
			continue
		}
		select {
		case s.sem <- struct{}{}:
		default:
			s.refuseEarly(conn, privproto.Response{Code: privproto.CodeRateLimited,
				Error: "server busy: too many connections", RetryAfterMS: busyRetry.Milliseconds()})
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.sem }()
			s.handle(conn)
		}()
	}
	s.drain()
	return err
}

// drain waits for running requests, at most ShutdownGrace, then cancels
// them and waits again.
func (s *Server) drain() {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Duration(s.cfg.ShutdownGrace)):
		s.log.Warn("shutdown grace over: cancelling running actions")
		s.abort()
		<-done
	}
}

// refuseEarly answers a connection with an unsigned early frame and closes
// it, without reading from it.
func (s *Server) refuseEarly(conn *net.UnixConn, r privproto.Response) {
	defer conn.Close()
	conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	body, _ := json.Marshal(r)
	privproto.WriteFrame(conn, append([]byte{privproto.TypeEarly}, body...))
}

// peerCred reads SO_PEERCRED of conn.
func peerCred(conn *net.UnixConn) (Peer, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return Peer{}, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Peer{}, err
	}
	if cerr != nil {
		return Peer{}, fmt.Errorf("SO_PEERCRED: %w", cerr)
	}
	return Peer{UID: int(cred.Uid), GID: int(cred.Gid), PID: int(cred.Pid), Via: "socket"}, nil
}

func (s *Server) allowed(p Peer) bool {
	return slices.Contains(s.cfg.Clients.UIDs, p.UID) || slices.Contains(s.cfg.Clients.GIDs, p.GID)
}

// handle serves one connection: one challenge, one request, one response.
func (s *Server) handle(conn *net.UnixConn) {
	defer conn.Close()
	peer, err := peerCred(conn)
	if err != nil || !s.allowed(peer) {
		reason := fmt.Sprintf("peer uid %d gid %d is not an allowed client", peer.UID, peer.GID)
		if err != nil {
			reason = err.Error()
		}
		s.refuse(&peer, action.Request{}, reason, privproto.CodePermission)
		s.refuseEarly(conn, privproto.Response{Code: privproto.CodePermission, Error: reason})
		return
	}
	challenge := make([]byte, privproto.ChallengeLen)
	rand.Read(challenge) // crypto/rand.Read never fails on Linux
	conn.SetDeadline(time.Now().Add(time.Duration(s.cfg.ReadTimeout)))
	if err := privproto.WriteFrame(conn, privproto.ChallengePayload(challenge)); err != nil {
		return
	}
	resp := s.serveRequest(conn, &peer, challenge)
	conn.SetDeadline(time.Now().Add(writeTimeout))
	body := encodeResponse(resp)
	mac := privproto.ResponseMAC(s.key, challenge, body)
	if err := privproto.WriteFrame(conn, privproto.SignedPayload(privproto.TypeResponse, mac, body)); err != nil {
		s.log.Info("response not delivered", "peer_pid", peer.PID, "err", err)
	}
}

// maxResponseBody is the largest response JSON a frame carries.
const maxResponseBody = privproto.MaxFrame - 1 - privproto.MACLen

// encodeResponse returns the JSON of resp, its output cut until it fits in
// a frame: the output is capped at 16 KiB, but JSON escapes a control
// character or '<' as six bytes, and a response that cannot be sent leaves
// the client unable to tell that the action ran.
func encodeResponse(resp privproto.Response) []byte {
	body, _ := json.Marshal(resp)
	if len(body) <= maxResponseBody || resp.Result == nil {
		return body
	}
	full := resp.Result.Output
	for n := len(full) / 2; n > 0 && len(body) > maxResponseBody; n /= 2 {
		r := *resp.Result
		r.Output = strings.ToValidUTF8(full[:n], "") + " …(truncated)"
		resp.Result = &r
		body, _ = json.Marshal(resp)
	}
	return body
}

// serveRequest reads, authenticates, decodes and executes the request.
func (s *Server) serveRequest(conn *net.UnixConn, peer *Peer, challenge []byte) privproto.Response {
	p, err := privproto.ReadFrame(conn)
	if err != nil {
		return s.refuse(peer, action.Request{}, "bad frame: "+err.Error(), privproto.CodeInvalid)
	}
	body, err := privproto.VerifyRequest(s.key, challenge, p)
	if errors.Is(err, privproto.ErrMAC) {
		return s.refuse(peer, action.Request{}, "HMAC mismatch: wrong key, altered or replayed request", privproto.CodeBadAuth)
	}
	if err != nil {
		return s.refuse(peer, action.Request{}, err.Error(), privproto.CodeInvalid)
	}
	req, err := privproto.DecodeRequest(body)
	if err != nil {
		return s.refuse(peer, action.Request{}, err.Error(), privproto.CodeInvalid)
	}
	return s.Execute(peer, req)
}

// refuse audits a refusal and returns the response that says so.
func (s *Server) refuse(peer *Peer, req action.Request, reason, code string) privproto.Response {
	e := &Entry{TS: stamp(s.now()), Event: EventRefused, Peer: peer, Action: req.Action,
		Params: req.Params, Target: action.Target(req), Code: code, Reason: reason}
	if err := s.audit.write(e); err != nil {
		s.log.Error("audit refusal", "err", err)
	}
	s.log.Info("refused", "code", code, "reason", reason, "action", req.Action)
	s.refused.Add(1)
	s.status()
	return privproto.Response{Code: code, Error: reason}
}

// limited is a rate-limit refusal.
type limited struct {
	wait time.Duration
	why  string
}

func (l *limited) Error() string { return l.why }

// Execute validates, rate-limits, audits and runs req for peer. The
// connection handler and `lmn-privd exec` both use it.
func (s *Server) Execute(peer *Peer, req action.Request) privproto.Response {
	env := s.env
	if peer != nil && peer.PID > 0 {
		env.Self = peer.PID // never kill the caller
		env.Protect = peer.Chain
	}
	env.AllowRejected = peer != nil && peer.Via == "exec" && peer.AllowRejected
	if err := action.Validate(env, req); err != nil {
		code := privproto.CodeInvalid
		if errors.Is(err, action.ErrDenied) {
			code = privproto.CodeRefused
		}
		return s.refuse(peer, req, err.Error(), code)
	}
	if req.Action == "noop" { // ping: neither limited nor audited
		return privproto.Response{OK: true, Result: &action.Result{Output: "ok"}}
	}
	target := action.Target(req)
	if !s.claim(target) {
		r := s.refuse(peer, req, "target "+target+" busy: an action on it is running", privproto.CodeRateLimited)
		r.RetryAfterMS = busyRetry.Milliseconds()
		return r
	}
	defer s.release(target)
	id := newID()
	if resp, ok := s.admit(peer, req, target, id); !ok {
		return resp
	}
	start := s.now()
	res, err := s.run(s.ctx, env, req)
	dur := float64(s.now().Sub(start).Microseconds()) / 1000
	e := &Entry{TS: stamp(s.now()), Event: EventResult, ID: id, Peer: peer, Action: req.Action,
		Target: target, Outcome: "ok", Output: res.Output, Restore: res.Restore, DurationMS: &dur}
	resp := privproto.Response{OK: true, Result: &res, ID: id}
	if err != nil {
		e.Outcome, e.Reason = "failed", err.Error()
		resp = privproto.Response{Code: privproto.CodeFailed, Error: err.Error(), ID: id}
		if errors.Is(err, action.ErrDenied) {
			e.Code, resp.Code = privproto.CodeRefused, privproto.CodeRefused
		}
	}
	if err := s.audit.write(e); err != nil {
		s.log.Error("audit result", "id", id, "err", err)
	}
	s.log.Info("action", "id", id, "action", req.Action, "target", target, "outcome", e.Outcome, "duration_ms", dur)
	s.ran.Add(1)
	s.status()
	return resp
}

// admit checks the rate limits and writes the intent line, under the audit
// lock so concurrent writers see one consistent history.
func (s *Server) admit(peer *Peer, req action.Request, target, id string) (privproto.Response, bool) {
	now := s.now()
	err := s.audit.locked(func() error {
		if wait, why, ok := s.limits.check(now, req.Action, target); !ok {
			s.audit.append(&Entry{TS: stamp(now), Event: EventRefused, Peer: peer, Action: req.Action,
				Params: req.Params, Target: target, Code: privproto.CodeRateLimited, Reason: why})
			return &limited{wait: wait, why: why}
		}
		intent := &Entry{TS: stamp(now), Event: EventIntent, ID: id, Peer: peer, Action: req.Action,
			Params: req.Params, Target: target}
		if err := s.audit.append(intent); err != nil {
			return err
		}
		s.limits.record(now, req.Action, target)
		return nil
	})
	var l *limited
	switch {
	case errors.As(err, &l):
		s.log.Info("rate limited", "action", req.Action, "target", target, "retry_after", l.wait)
		return privproto.Response{Code: privproto.CodeRateLimited, Error: l.why, RetryAfterMS: max(l.wait.Milliseconds(), 1)}, false
	case err != nil:
		s.log.Error("audit intent failed: refusing", "action", req.Action, "err", err)
		return privproto.Response{Code: privproto.CodeRefused, Error: "audit log unavailable: " + err.Error()}, false
	}
	return privproto.Response{}, true
}

func (s *Server) claim(target string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.busy[target]; ok {
		return false
	}
	lock, err := s.lockTarget(target)
	if err != nil {
		if !errors.Is(err, unix.EWOULDBLOCK) {
			s.log.Warn("target lock", "target", target, "err", err)
		}
		return false
	}
	s.busy[target] = lock
	return true
}

// lockTarget takes an exclusive flock on the target's lock file beside
// the audit log, so the daemon and a concurrent `lmn-privd exec` under
// sudo never act on one target at once.
func (s *Server) lockTarget(target string) (*os.File, error) {
	dir := s.cfg.AuditLog + ".locks"
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("target locks: %w", err)
	}
	sum := sha256.Sum256([]byte(target))
	name := filepath.Join(dir, hex.EncodeToString(sum[:8]))
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("target lock %s: %w", name, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (s *Server) release(target string) {
	s.mu.Lock()
	if f := s.busy[target]; f != nil {
		f.Close() // drops the flock
	}
	delete(s.busy, target)
	s.mu.Unlock()
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Abort cancels running actions at once.
func (s *Server) Abort() { s.abort() }

// Started writes a start line to the audit log.
func (s *Server) Started(version string) {
	e := &Entry{TS: stamp(s.now()), Event: EventStart, Reason: "lmn-privd " + version + " serving"}
	if err := s.audit.write(e); err != nil {
		s.log.Error("audit start", "err", err)
	}
}

func (s *Server) status() {
	if s.OnStatus != nil {
		s.OnStatus(fmt.Sprintf("serving: %d actions run, %d requests refused", s.ran.Load(), s.refused.Load()) + s.generationStatus())
	}
}

// Healthy reports whether the audit log can be locked within d: an
// fsync or lock that hangs means no action could be admitted, so the
// watchdog should stop being fed.
func (s *Server) Healthy(d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		s.audit.mu.Lock()
		s.audit.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}
