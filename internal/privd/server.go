// Package privd is lmn-privd, the root broker: it authenticates one
// unprivileged client per connection (SO_PEERCRED, then an HMAC over a
// fresh challenge), rate-limits and audits every action, and runs it
// through internal/action.
package privd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/privproto"
)

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
	conns  *connTable
	folds  *folder
	locks  targetLocks

	// Guarded by the audit lock: rebuilt from the log.
	open   openIntents
	paused *Entry
	resets resets

	now func() time.Time
	run func(context.Context, action.Env, action.Request) (action.Result, error)

	// OnStatus, if set, is told a one-line status after each action
	// (lmn-privd sends it to systemd as STATUS=).
	OnStatus func(string)
	ran      atomic.Int64
	refused  atomic.Int64

	mu    sync.Mutex
	busy  map[string]*os.File // targets with an action running in this process, and their locks
	wg    sync.WaitGroup
	ctx   context.Context // actions run under it; cancelled after shutdown grace
	abort context.CancelFunc
}

// New loads (or makes) the audit key, opens and verifies the audit log,
// rebuilds the rate limiter, the pause and the open intents from it,
// closes the intents of actions that died with their process, and
// returns a server. key may be nil for `lmn-privd exec` and the local
// pause and resume.
func New(cfg Config, key []byte, log *slog.Logger) (*Server, error) {
	s := &Server{
		cfg: cfg, key: key, env: cfg.ActionEnv(), log: log,
		limits: newLimiter(cfg.RateLimits),
		folds:  newFolder(),
		locks:  targetLocks{dir: cfg.AuditLog + ".locks"},
		open:   openIntents{},
		resets: resets{},
		now:    time.Now,
		run:    action.Run,
		busy:   map[string]*os.File{},
	}
	s.conns = newConnTable(cfg.MaxConnections, cfg.MaxConnectionsPerUID, func() time.Time { return s.now() })
	s.ctx, s.abort = context.WithCancel(context.Background())
	auditKey, created, err := loadAuditKey(cfg.AuditKeyPath())
	if err != nil {
		return nil, err
	}
	a, err := openAudit(cfg.AuditLog, auditKey, s.absorb)
	if err != nil {
		return nil, err
	}
	s.audit = a
	a.onAnchor = func(seq uint64, hash string) {
		log.Info("audit head", "file", cfg.AuditLog, "seq", seq, "hash", hash)
	}
	a.onHeadErr = func(err error) { log.Warn("audit head not sealed: it lags behind the log", "err", err) }
	if created && a.chain.seq > 0 {
		a.verified = fmt.Errorf("%w: the audit key %s was missing and a new one made: the %d lines before cannot be verified", ErrChain, cfg.AuditKeyPath(), a.chain.seq)
	}
	if a.verified != nil {
		log.Error("audit log does not verify", "file", cfg.AuditLog, "err", a.verified)
	}
	s.locks.sweep()
	if err := a.locked(func() error { return s.closeDangling(s.now()) }); err != nil {
		a.Close()
		return nil, err
	}
	return s, nil
}

// absorb feeds audit lines written earlier, or by another writer, to the
// rate limiter, the pause and the open intents.
func (s *Server) absorb(e Entry) {
	if e.Event == EventIntent && e.Action != "" {
		s.limits.record(e.TS.Time, e.Action, e.Target)
	}
	s.absorbPause(e)
	s.open.absorb(e)
	s.resets.absorb(e)
}

// Close writes the refusals still counted and closes the audit log.
func (s *Server) Close() error {
	s.abort()
	s.writeSummaries(s.folds.flush(s.now(), true))
	return s.audit.Close()
}

// Abort cancels running actions at once.
func (s *Server) Abort() { s.abort() }

// refuse audits a refusal (or counts it: refusals.go) and returns the
// response that says so.
func (s *Server) refuse(peer *Peer, req action.Request, reason, code string) privproto.Response {
	e := s.refusal(peer, req, action.Target(req), reason, code)
	if err := s.audit.locked(func() error { return s.appendRefusal(e) }); err != nil {
		s.log.Error("audit refusal", "err", err)
	}
	return privproto.Response{Code: code, Error: reason}
}

// refusal is the audit line of a refusal: the action and target (clipped)
// and a digest of the request, never its parameters.
func (s *Server) refusal(peer *Peer, req action.Request, target, reason, code string) *Entry {
	s.refused.Add(1)
	s.status()
	return &Entry{TS: stamp(s.now()), Event: EventRefused, Peer: peer, Action: clipString(req.Action, 64),
		Target: clipString(target, 300), Digest: requestDigest(req), Code: code, Reason: clipString(reason, maxReason)}
}

// appendRefusal writes e, or counts it, with the summary of its peer's
// last window first. Call it inside the audit lock.
func (s *Server) appendRefusal(e *Entry) error {
	full, summary := s.folds.admit(uidOf(e.Peer), e.Code, e.TS.Time)
	if summary != nil {
		s.logSummary(summary)
		if err := s.audit.append(summary); err != nil {
			return err
		}
	}
	if !full {
		return nil
	}
	s.log.Info("refused", "code", e.Code, "reason", e.Reason, "action", e.Action, "digest", e.Digest, "peer_uid", uidOf(e.Peer))
	return s.audit.append(e)
}

func (s *Server) logSummary(e *Entry) {
	s.log.Warn("refusals folded", "peer_uid", e.Peer.UID, "count", e.Count, "codes", e.Codes, "since", e.Since.Time)
}

// writeSummaries writes summaries of past windows.
func (s *Server) writeSummaries(es []*Entry) {
	if len(es) == 0 {
		return
	}
	err := s.audit.locked(func() error {
		for _, e := range es {
			s.logSummary(e)
			if err := s.audit.append(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.log.Error("audit refusal summary", "err", err)
	}
}

// limited is a refusal decided inside the audit lock.
type limited struct {
	code string
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
	if !s.reserve(target) {
		r := s.refuse(peer, req, "target "+target+" busy: an action on it is running", privproto.CodeRateLimited)
		r.RetryAfterMS = busyRetry.Milliseconds()
		return r
	}
	defer s.release(target)
	id := newID()
	resp, ok, reset := s.admit(peer, req, target, id)
	if !ok {
		return resp
	}
	if reset { // the unit's failed state was reset by lmn-privd just now: restart it once
		premise := *env.Premise
		premise.ResetByBroker = []string{req.Params["unit"]}
		env.Premise = &premise
	}
	start := s.now()
	res, err := s.run(s.ctx, env, req)
	dur := float64(s.now().Sub(start).Microseconds()) / 1000
	e := &Entry{TS: stamp(s.now()), Event: EventResult, ID: id, Peer: peer, Action: req.Action,
		Target: target, Outcome: "ok", Output: clipString(res.Output, 1024), Restore: res.Restore, DurationMS: &dur}
	resp = privproto.Response{OK: true, Result: &res, ID: id}
	if err != nil {
		e.Outcome, e.Reason = "failed", clipString(err.Error(), 1024)
		resp = privproto.Response{Code: privproto.CodeFailed, Error: err.Error(), ID: id}
		if errors.Is(err, action.ErrDenied) {
			e.Code, resp.Code = privproto.CodeRefused, privproto.CodeRefused
		}
	}
	err = s.audit.locked(func() error {
		s.resets.absorb(*e) // this process's own lines are not read back
		return s.audit.append(e)
	})
	if err != nil {
		s.log.Error("audit result", "id", id, "err", err)
	}
	s.log.Info("action", "id", id, "action", req.Action, "target", target, "outcome", e.Outcome, "duration_ms", dur)
	s.ran.Add(1)
	s.status()
	return resp
}

// admit decides, under the audit lock so that concurrent writers see one
// consistent history: the pause, then the rate limits, and only for an
// action that passes them the target's lock; then it writes the intent.
// reset says lmn-privd reset the target's failed state just before.
func (s *Server) admit(peer *Peer, req action.Request, target, id string) (resp privproto.Response, ok, reset bool) {
	now := s.now()
	refuse := func(l *limited) error {
		if err := s.appendRefusal(s.refusal(peer, req, target, l.why, l.code)); err != nil {
			s.log.Error("audit refusal", "err", err)
		}
		return l
	}
	err := s.audit.locked(func() error {
		if why := s.pausedError(); why != "" {
			return refuse(&limited{code: privproto.CodePaused, why: why})
		}
		if wait, why, ok := s.limits.check(now, req.Action, target); !ok {
			return refuse(&limited{code: privproto.CodeRateLimited, wait: wait, why: why})
		}
		lock, err := s.locks.tryLock(target)
		if err != nil {
			return refuse(&limited{code: privproto.CodeRateLimited, wait: busyRetry, why: "target " + target + " busy: an action on it is running"})
		}
		reset = s.resets.recent(target, now)
		intent := &Entry{TS: stamp(now), Event: EventIntent, ID: id, Peer: peer, Action: req.Action,
			Params: req.Params, Target: target}
		if err := s.audit.append(intent); err != nil {
			if s.audit.chain.seq == intent.Seq { // written, not synced: say it did not run
				s.audit.append(&Entry{TS: stamp(now), Event: EventResult, ID: id, Peer: peer, Action: req.Action,
					Target: target, Outcome: "not_run", Reason: clipString("not run: the intent line could not be made durable: "+err.Error(), maxReason)})
			}
			s.locks.unlock(lock)
			return err
		}
		s.hold(target, lock)
		s.limits.record(now, req.Action, target)
		s.resets.absorb(*intent)
		return nil
	})
	var l *limited
	switch {
	case errors.As(err, &l):
		r := privproto.Response{Code: l.code, Error: l.why}
		if l.code == privproto.CodeRateLimited {
			r.RetryAfterMS = max(l.wait.Milliseconds(), 1)
		}
		return r, false, false
	case err != nil:
		s.log.Error("audit intent failed: refusing", "action", req.Action, "err", err)
		return privproto.Response{Code: privproto.CodeRefused, Error: "audit log unavailable: " + err.Error()}, false, false
	}
	return privproto.Response{}, true, reset
}

// reserve claims target in this process (no file yet: admit takes the
// lock of an admitted action only).
func (s *Server) reserve(target string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.busy[target]; ok {
		return false
	}
	s.busy[target] = nil
	return true
}

func (s *Server) hold(target string, lock *os.File) {
	s.mu.Lock()
	s.busy[target] = lock
	s.mu.Unlock()
}

func (s *Server) release(target string) {
	s.mu.Lock()
	lock := s.busy[target]
	delete(s.busy, target)
	s.mu.Unlock()
	s.locks.unlock(lock)
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Started writes a start line to the audit log, saying what verifying the
// log found.
func (s *Server) Started(version string) {
	e := &Entry{TS: stamp(s.now()), Event: EventStart, Outcome: "ok",
		Reason: "lmn-privd " + version + " serving; the audit log verifies"}
	if err := s.audit.verified; err != nil {
		e.Outcome, e.Reason = "failed", clipString("lmn-privd "+version+" serving; the audit log does NOT verify: "+err.Error(), 1024)
	}
	if err := s.audit.write(e); err != nil {
		s.log.Error("audit start", "err", err)
	}
	s.audit.mu.Lock()
	if s.audit.onAnchor != nil {
		s.audit.onAnchor(s.audit.chain.seq, s.audit.chain.prev)
	}
	s.audit.mu.Unlock()
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
