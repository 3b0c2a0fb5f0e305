// Package privproto is the wire format between lmn-privd and its one
// client, and the client lmn-heal uses.
//
// Every message is a frame: a 4-byte big-endian length, then that many
// bytes of payload (at most MaxFrame), whose first byte says what it is.
//
//	server → client  'C' 0x01 challenge[32]         a fresh random challenge
//	server → client  'E' json(Response)             refusal before any request (peer not allowed, busy)
//	client → server  'Q' mac[32] json(Request)      mac = HMAC-SHA256(key, challenge || json)
//	server → client  'R' mac[32] json(Response)     mac = HMAC-SHA256(key, "R" || challenge || json)
//
// One request per connection. Because the challenge is fresh, a captured
// request cannot be replayed, and because the MAC covers the exact request
// bytes, no parameter can be changed. The response MAC lets the client tell
// a wrong key (or a stranger on the socket) from a refusal.
package privproto

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frame types (the first payload byte).
const (
	TypeChallenge = 'C'
	TypeEarly     = 'E'
	TypeRequest   = 'Q'
	TypeResponse  = 'R'
)

const (
	// MaxFrame is the largest payload accepted.
	MaxFrame = 64 << 10
	// ChallengeLen is the length of the server's random challenge.
	ChallengeLen = 32
	// MACLen is the length of an HMAC-SHA256.
	MACLen = sha256.Size
	// Version is the protocol version carried in the challenge frame.
	Version = 1
)

// ErrFrame is wrapped by every framing error.
var ErrFrame = errors.New("bad frame")

// ReadFrame reads one frame and returns its payload.
func ReadFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("read frame length: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > MaxFrame {
		return nil, fmt.Errorf("%w: length %d not in 1..%d", ErrFrame, n, MaxFrame)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("%w: read %d-byte payload: %w", ErrFrame, n, err)
	}
	return buf, nil
}

// AppendFrame appends the frame carrying payload to dst.
func AppendFrame(dst, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}

// WriteFrame writes payload as one frame in one Write.
func WriteFrame(w io.Writer, payload []byte) error {
	if len(payload) == 0 || len(payload) > MaxFrame {
		return fmt.Errorf("%w: payload of %d bytes", ErrFrame, len(payload))
	}
	_, err := w.Write(AppendFrame(make([]byte, 0, 4+len(payload)), payload))
	return err
}

// ChallengePayload returns the payload of a challenge frame.
func ChallengePayload(challenge []byte) []byte {
	return append([]byte{TypeChallenge, Version}, challenge...)
}

// ParseChallenge returns the challenge of a challenge frame's payload.
func ParseChallenge(p []byte) ([]byte, error) {
	if len(p) != 2+ChallengeLen || p[0] != TypeChallenge || p[1] != Version {
		return nil, fmt.Errorf("%w: not a version %d challenge (%d bytes)", ErrFrame, Version, len(p))
	}
	return p[2:], nil
}

// RequestMAC is HMAC-SHA256(key, challenge || body).
func RequestMAC(key, challenge, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(challenge)
	m.Write(body)
	return m.Sum(nil)
}

// ResponseMAC is HMAC-SHA256(key, "R" || challenge || body).
func ResponseMAC(key, challenge, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte{TypeResponse})
	m.Write(challenge)
	m.Write(body)
	return m.Sum(nil)
}

// SignedPayload returns typ || mac || body.
func SignedPayload(typ byte, mac, body []byte) []byte {
	p := make([]byte, 0, 1+len(mac)+len(body))
	p = append(p, typ)
	p = append(p, mac...)
	return append(p, body...)
}

// SplitSigned splits a 'Q' or 'R' payload into its MAC and body.
func SplitSigned(typ byte, p []byte) (mac, body []byte, err error) {
	if len(p) < 1+MACLen+2 || p[0] != typ {
		return nil, nil, fmt.Errorf("%w: want a %q frame with a MAC and a body (%d bytes)", ErrFrame, typ, len(p))
	}
	return p[1 : 1+MACLen], p[1+MACLen:], nil
}

// VerifyRequest checks a request payload against key and challenge in
// constant time and returns the authenticated body.
func VerifyRequest(key, challenge, payload []byte) ([]byte, error) {
	mac, body, err := SplitSigned(TypeRequest, payload)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(mac, RequestMAC(key, challenge, body)) {
		return nil, ErrMAC
	}
	return body, nil
}

// ErrMAC means a MAC did not match: wrong key, altered or replayed bytes.
var ErrMAC = errors.New("HMAC mismatch")

func hmacEqual(a, b []byte) bool { return hmac.Equal(a, b) }
