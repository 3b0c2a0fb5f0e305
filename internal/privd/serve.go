package privd

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/privproto"
	"golang.org/x/sys/unix"
)

// writeTimeout bounds writing one response.
const writeTimeout = 5 * time.Second

// Serve accepts connections on ln until ctx is done, then stops accepting,
// waits up to ShutdownGrace for running requests, cancels what is left and
// returns.
func (s *Server) Serve(ctx context.Context, ln *net.UnixListener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	flushed := make(chan struct{})
	go s.flushSummaries(ctx, flushed)
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
		peer, perr := peerCred(conn)
		sl, ok := s.conns.open(conn, peer.UID, peer.PID)
		if !ok {
			refuseEarly(conn, privproto.Response{Code: privproto.CodeRateLimited,
				Error: "server busy: too many connections of this uid", RetryAfterMS: busyRetry.Milliseconds()})
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.conns.close(sl)
			s.handle(conn, sl, peer, perr)
		}()
	}
	s.drain()
	<-flushed
	return err
}

// flushSummaries writes the counts of folded refusals once their window
// has passed, until ctx ends.
func (s *Server) flushSummaries(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(foldWindow / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.writeSummaries(s.folds.flush(s.now(), false))
		}
	}
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
func refuseEarly(conn *net.UnixConn, r privproto.Response) {
	defer conn.Close()
	conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	body, _ := json.Marshal(r)
	privproto.WriteFrame(conn, append([]byte{privproto.TypeEarly}, body...))
}

// peerCred reads SO_PEERCRED of conn.
func peerCred(conn *net.UnixConn) (Peer, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return Peer{UID: noUID}, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Peer{UID: noUID}, err
	}
	if cerr != nil {
		return Peer{UID: noUID}, fmt.Errorf("SO_PEERCRED: %w", cerr)
	}
	return Peer{UID: int(cred.Uid), GID: int(cred.Gid), PID: int(cred.Pid), Via: "socket"}, nil
}

func (s *Server) allowed(p Peer) bool {
	return slices.Contains(s.cfg.Clients.UIDs, p.UID) || slices.Contains(s.cfg.Clients.GIDs, p.GID)
}

// handle serves one connection: one challenge, one request, one response.
func (s *Server) handle(conn *net.UnixConn, sl *slot, peer Peer, perr error) {
	defer conn.Close()
	if perr != nil || !s.allowed(peer) {
		reason := fmt.Sprintf("peer uid %d gid %d is not an allowed client", peer.UID, peer.GID)
		if perr != nil {
			reason = perr.Error()
		}
		s.refuse(&peer, action.Request{}, reason, privproto.CodePermission)
		refuseEarly(conn, privproto.Response{Code: privproto.CodePermission, Error: reason})
		return
	}
	challenge := make([]byte, privproto.ChallengeLen)
	rand.Read(challenge) // crypto/rand.Read never fails on Linux
	conn.SetDeadline(time.Now().Add(time.Duration(s.cfg.ReadTimeout)))
	if err := privproto.WriteFrame(conn, privproto.ChallengePayload(challenge)); err != nil {
		return
	}
	p, err := privproto.ReadFrame(conn)
	if !s.conns.started(sl) {
		s.refuse(&peer, action.Request{}, "slow client displaced by a newer connection of its uid", privproto.CodeRateLimited)
		return
	}
	resp := s.serveRequest(&peer, challenge, p, err)
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

// serveRequest authenticates, decodes and executes the request read as p.
func (s *Server) serveRequest(peer *Peer, challenge, p []byte, err error) privproto.Response {
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
	if IsControl(req) {
		return s.Control(peer, req)
	}
	return s.Execute(peer, req)
}
