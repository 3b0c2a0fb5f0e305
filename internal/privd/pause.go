package privd

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/privproto"
)

// The kill switch: `lmn-privd pause [--reason TEXT]` (as root, or any
// client over the socket) writes a pause line to the audit log, and from
// then every action is refused (code "paused") by the daemon and by every
// `lmn-privd exec`, which read the same log before admitting anything,
// until `lmn-privd resume` (root only: a client may stop healing, never
// restart it) writes a resume line. Being in the log, a pause survives
// restarts and is part of the chain.

// maxPauseReason bounds the reason of a pause.
const maxPauseReason = 200

// absorbPause follows the pause and resume lines of the log.
func (s *Server) absorbPause(e Entry) {
	switch e.Event {
	case EventPause:
		p := e
		s.paused = &p
	case EventResume:
		s.paused = nil
	}
}

// pausedError is the refusal of an action while paused; "" when not.
// Call it inside the audit lock.
func (s *Server) pausedError() string {
	p := s.paused
	if p == nil {
		return ""
	}
	who := "root"
	if p.Peer != nil && p.Peer.UID != 0 {
		who = fmt.Sprintf("uid %d", p.Peer.UID)
	}
	msg := fmt.Sprintf("lmn-privd is paused (since %s by %s", p.TS.UTC().Format("2006-01-02 15:04:05Z"), who)
	if p.Reason != "" {
		msg += ": " + p.Reason
	}
	return msg + "): every action is refused until `lmn-privd resume`"
}

// Control performs a pause or resume request of peer and records it.
func (s *Server) Control(peer *Peer, req action.Request) privproto.Response {
	reason, err := controlReason(req)
	if err != nil {
		return s.refuse(peer, req, err.Error(), privproto.CodeInvalid)
	}
	if req.Action == privproto.ControlResume && (peer == nil || peer.UID != 0) {
		return s.refuse(peer, req, "only root may resume lmn-privd: a client may pause healing, never restart it", privproto.CodeRefused)
	}
	event := EventPause
	if req.Action == privproto.ControlResume {
		event = EventResume
	}
	e := &Entry{TS: stamp(s.now()), Event: event, Peer: peer, Reason: reason}
	err = s.audit.locked(func() error {
		if err := s.audit.append(e); err != nil {
			return err
		}
		s.absorbPause(*e) // this process's own lines are not read back
		return nil
	})
	if err != nil {
		s.log.Error("audit "+event, "err", err)
		return privproto.Response{Code: privproto.CodeRefused, Error: "audit log unavailable: " + err.Error()}
	}
	s.log.Warn("lmn-privd "+event+"d", "reason", reason, "peer_uid", uidOf(peer))
	s.status()
	if event == EventPause {
		return privproto.Response{OK: true, Result: &action.Result{Output: "paused: every action is refused until lmn-privd resume"}}
	}
	return privproto.Response{OK: true, Result: &action.Result{Output: "resumed"}}
}

// controlReason checks a control request's parameters: an optional short
// reason for pause, nothing for resume.
func controlReason(req action.Request) (string, error) {
	for k := range req.Params {
		if k != "reason" || req.Action != privproto.ControlPause {
			return "", fmt.Errorf("%s: parameter %q: %w: not a parameter of this request", req.Action, clipString(k, 64), action.ErrInvalid)
		}
	}
	r := req.Params["reason"]
	if len(r) > maxPauseReason || strings.ContainsFunc(r, unicode.IsControl) {
		return "", fmt.Errorf("pause: reason: %w: at most %d bytes of printable text", action.ErrInvalid, maxPauseReason)
	}
	return r, nil
}

// IsControl reports whether req is a pause or resume request.
func IsControl(req action.Request) bool {
	return req.Action == privproto.ControlPause || req.Action == privproto.ControlResume
}

func uidOf(p *Peer) int {
	if p == nil {
		return noUID
	}
	return p.UID
}
