package privproto

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
)

// Errors of Client, one per way of failing; branch with errors.Is.
var (
	// ErrNoSocket: nothing listens at the socket path.
	ErrNoSocket = errors.New("lmn-privd not reachable")
	// ErrPermission: the socket or the daemon does not let this user in.
	ErrPermission = errors.New("not permitted to use lmn-privd")
	// ErrBadKey: the key is unusable, or the daemon does not share it.
	ErrBadKey = errors.New("bad key")
	// ErrRateLimited: try again later; the error is a *RateLimitedError.
	ErrRateLimited = errors.New("rate limited")
	// ErrRefused: the daemon refused the request (policy or validation).
	ErrRefused = errors.New("refused by lmn-privd")
	// ErrActionFailed: the action ran and failed.
	ErrActionFailed = errors.New("action failed")
	// ErrPaused: lmn-privd is paused (also ErrRefused).
	ErrPaused = errors.New("lmn-privd is paused")
)

// RateLimitedError says when to retry. errors.Is(err, ErrRateLimited).
type RateLimitedError struct {
	RetryAfter time.Duration
	Reason     string
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("lmn-privd: rate limited (%s), retry after %v", e.Reason, e.RetryAfter)
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitedError) Is(target error) bool { return target == ErrRateLimited }

// Client talks to lmn-privd over its Unix socket, one request per
// connection.
type Client struct {
	Socket string
	Key    []byte
	// Timeout bounds one round trip. Zero means the action's own timeout
	// plus 10 seconds.
	Timeout time.Duration
}

// Ping makes an authenticated no-op round trip.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.Do(ctx, action.Request{Action: "noop"})
	return err
}

// Pause makes the daemon refuse every action until Resume, and records
// it with reason in its audit log.
func (c *Client) Pause(ctx context.Context, reason string) (action.Result, error) {
	req := action.Request{Action: ControlPause}
	if reason != "" {
		req.Params = map[string]string{"reason": reason}
	}
	return c.Do(ctx, req)
}

// Resume lifts a pause (the daemon takes it from root only).
func (c *Client) Resume(ctx context.Context) (action.Result, error) {
	return c.Do(ctx, action.Request{Action: ControlResume})
}

// Do asks the daemon to run req and returns its result.
func (c *Client) Do(ctx context.Context, req action.Request) (action.Result, error) {
	if len(c.Key) < KeyLen {
		return action.Result{}, fmt.Errorf("lmn-privd client: %w: key of %d bytes, want at least %d", ErrBadKey, len(c.Key), KeyLen)
	}
	body, err := EncodeRequest(req)
	if err != nil {
		return action.Result{}, fmt.Errorf("lmn-privd client: encode: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout(req))
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.Socket)
	if err != nil {
		return action.Result{}, dialError(c.Socket, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	res, err := c.exchange(conn, body)
	if err != nil && ctx.Err() != nil && !isServerAnswer(err) {
		err = fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	return res, err
}

func (c *Client) timeout(req action.Request) time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	if s, ok := action.Lookup(req.Action); ok {
		return s.Timeout + 10*time.Second
	}
	return 10 * time.Second
}

func dialError(path string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("lmn-privd client: %s: %w: %w", path, ErrNoSocket, err)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("lmn-privd client: %s: %w: %w", path, ErrPermission, err)
	}
	return fmt.Errorf("lmn-privd client: %s: %w", path, err)
}

func (c *Client) exchange(conn net.Conn, body []byte) (action.Result, error) {
	p, err := ReadFrame(conn)
	if err != nil {
		return action.Result{}, fmt.Errorf("lmn-privd client: read challenge: %w", err)
	}
	if len(p) > 0 && p[0] == TypeEarly {
		r, err := DecodeResponse(p[1:])
		if err != nil {
			return action.Result{}, fmt.Errorf("lmn-privd client: %w", err)
		}
		return action.Result{}, responseError(r)
	}
	challenge, err := ParseChallenge(p)
	if err != nil {
		return action.Result{}, fmt.Errorf("lmn-privd client: %w", err)
	}
	mac := RequestMAC(c.Key, challenge, body)
	if err := WriteFrame(conn, SignedPayload(TypeRequest, mac, body)); err != nil {
		return action.Result{}, fmt.Errorf("lmn-privd client: send request: %w", err)
	}
	p, err = ReadFrame(conn)
	if err != nil {
		return action.Result{}, fmt.Errorf("lmn-privd client: read response: %w", err)
	}
	rmac, rbody, err := SplitSigned(TypeResponse, p)
	if err != nil {
		return action.Result{}, fmt.Errorf("lmn-privd client: %w", err)
	}
	if !hmacEqual(rmac, ResponseMAC(c.Key, challenge, rbody)) {
		return action.Result{}, fmt.Errorf("lmn-privd client: %w: the response is not signed with this key", ErrBadKey)
	}
	r, err := DecodeResponse(rbody)
	if err != nil {
		return action.Result{}, fmt.Errorf("lmn-privd client: %w", err)
	}
	if !r.OK {
		return action.Result{}, responseError(r)
	}
	if r.Result == nil {
		return action.Result{}, nil
	}
	return *r.Result, nil
}

// serverError marks errors that carry the daemon's answer.
type serverError struct{ error }

func (e serverError) Unwrap() error { return e.error }

func isServerAnswer(err error) bool {
	var se serverError
	return errors.As(err, &se)
}

// responseError maps an error response to the client's errors.
func responseError(r Response) error {
	msg := "lmn-privd: " + r.Error
	var err error
	switch r.Code {
	case CodeRateLimited:
		return serverError{&RateLimitedError{RetryAfter: time.Duration(r.RetryAfterMS) * time.Millisecond, Reason: r.Error}}
	case CodeBadAuth:
		err = fmt.Errorf("%s: %w", msg, ErrBadKey)
	case CodePermission:
		err = fmt.Errorf("%s: %w", msg, ErrPermission)
	case CodeInvalid:
		err = fmt.Errorf("%s: %w: %w", msg, ErrRefused, action.ErrInvalid)
	case CodeRefused:
		err = fmt.Errorf("%s: %w: %w", msg, ErrRefused, action.ErrDenied)
	case CodeFailed:
		err = fmt.Errorf("%s: %w: %w", msg, ErrActionFailed, action.ErrFailed)
	case CodePaused:
		err = fmt.Errorf("%s: %w: %w", msg, ErrRefused, ErrPaused)
	default:
		err = fmt.Errorf("%s: %w (unknown code %q)", msg, ErrRefused, r.Code)
	}
	return serverError{err}
}
