package alertmanager

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/lmn-heal/lmn/internal/detect"
	"github.com/lmn-heal/lmn/internal/record"
)

// Path is where the receiver takes notifications: POST /alertmanager.
const Path = "/alertmanager"

// Receiver is the webhook endpoint. It answers at once: the issue records
// of a notification are handed to Queue, which never waits, and nothing
// downstream (lmn-heal, an action) is waited for.
type Receiver struct {
	// Host is this machine, for the host filter; HostName is written in
	// the issue records.
	Host     Host
	HostName string
	// Secret, when set, is required: as a bearer token
	// ("Authorization: Bearer SECRET"), or as basic auth whose
	// "user:password" is SECRET.
	Secret []byte
	// Queue takes the records of one notification, in order, without
	// waiting; false means it is full: the sender gets 503 and retries,
	// and nothing is remembered.
	Queue func([]record.Issue) bool
	Now   func() time.Time
	Log   *slog.Logger

	mu     sync.Mutex
	dedupe *Dedupe
	counts Counts
}

// Counts are what the receiver has seen since it started.
type Counts struct {
	Requests     uint64 // notifications posted
	Unauthorized uint64 // without the secret (401)
	BadRequests  uint64 // bodies refused as a whole (400)
	Full         uint64 // refused because the queue was full (503)
	Accepted     uint64 // alerts written as issue records
	Duplicates   uint64 // alerts delivered before (another peer, a retry, a repeat)
	Stale        uint64 // alerts about an older episode than one known
	OtherHost    uint64 // alerts naming another machine
	Invalid      uint64 // alerts left out of an otherwise good body
}

func (c Counts) String() string {
	return fmt.Sprintf("requests %d, accepted %d, duplicates %d, stale %d, other host %d, invalid alerts %d, unauthorized %d, bad requests %d, queue full %d",
		c.Requests, c.Accepted, c.Duplicates, c.Stale, c.OtherHost, c.Invalid, c.Unauthorized, c.BadRequests, c.Full)
}

// Counts returns the counts so far.
func (rc *Receiver) Counts() Counts {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.counts
}

// Handler serves POST Path; other paths are 404, other methods 405.
func (rc *Receiver) Handler() http.Handler {
	rc.mu.Lock()
	if rc.dedupe == nil {
		rc.dedupe = NewDedupe()
	}
	rc.mu.Unlock()
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+Path, rc.serve)
	return mux
}

func (rc *Receiver) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rc.count(func(c *Counts) { c.Requests++ })
	if !rc.authorized(r) {
		rc.count(func(c *Counts) { c.Unauthorized++ })
		rc.Log.Warn("alertmanager: request without the secret", "remote", r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Bearer realm="lmn-detect", Basic realm="lmn-detect"`)
		http.Error(w, "unauthorized: send the secret of --alertmanager-token-file", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var msg *Message
	if err == nil {
		msg, err = Decode(body)
	} else if mb := (*http.MaxBytesError)(nil); errors.As(err, &mb) {
		err = fmt.Errorf("%w: larger than %d bytes", ErrBody, MaxBody)
	}
	if err != nil {
		rc.count(func(c *Counts) { c.BadRequests++ })
		rc.Log.Warn("alertmanager: bad request", "remote", r.RemoteAddr, "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, e := range msg.Invalid {
		rc.Log.Warn("alertmanager: alert left out", "remote", r.RemoteAddr, "err", e)
	}
	res, ok := rc.take(msg)
	if !ok {
		rc.Log.Warn("alertmanager: queue full, asking the sender to retry", "remote", r.RemoteAddr)
		http.Error(w, "busy: the issue queue is full; retry", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintf(w, "ok: %s\n", res)
	for _, e := range msg.Invalid {
		fmt.Fprintf(w, "left out: %v\n", e)
	}
}

func (rc *Receiver) count(f func(*Counts)) {
	rc.mu.Lock()
	f(&rc.counts)
	rc.mu.Unlock()
}

func (rc *Receiver) authorized(r *http.Request) bool {
	if len(rc.Secret) == 0 {
		return true
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return subtle.ConstantTimeCompare([]byte(tok), rc.Secret) == 1
	}
	if user, pass, ok := r.BasicAuth(); ok {
		return subtle.ConstantTimeCompare([]byte(user+":"+pass), rc.Secret) == 1
	}
	return false
}

// result is what one notification gave, for the answer.
type result struct{ accepted, duplicates, stale, other, invalid int }

func (r result) String() string {
	return fmt.Sprintf("accepted %d, duplicates %d, stale %d, other host %d, invalid %d",
		r.accepted, r.duplicates, r.stale, r.other, r.invalid)
}

// take judges every alert of msg, queues the fresh ones and only then
// remembers them. ok is false when the queue was full.
func (rc *Receiver) take(msg *Message) (result, bool) {
	now := rc.Now()
	res := result{invalid: len(msg.Invalid)}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	type fresh struct {
		id string
		a  Alert
	}
	var recs []record.Issue
	var keep []fresh
	var dups []string
	inBody := map[string]Alert{}
	for _, a := range msg.Alerts {
		if _, other := rc.Host.Other(a.Labels); other {
			res.other++
			continue
		}
		id := detect.ID(Rule, a.Labels)
		v := rc.dedupe.Judge(id, a)
		if prev, ok := inBody[id]; ok && v == Fresh && prev.Status == a.Status && prev.StartsAt.Equal(a.StartsAt) {
			v = Duplicate // the same alert twice in one body
		}
		switch v {
		case Duplicate:
			res.duplicates++
			dups = append(dups, id)
			continue
		case Stale:
			res.stale++
			continue
		}
		inBody[id] = a
		keep = append(keep, fresh{id, a})
		recs = append(recs, Issue(a, rc.HostName, now))
	}
	if len(recs) > 0 && !rc.Queue(recs) {
		rc.counts.Full++
		return res, false
	}
	for _, f := range keep {
		rc.dedupe.Commit(f.id, f.a, now)
	}
	for _, id := range dups {
		rc.dedupe.Seen(id, now)
	}
	res.accepted = len(recs)
	c := &rc.counts
	c.Accepted += uint64(res.accepted)
	c.Duplicates += uint64(res.duplicates)
	c.Stale += uint64(res.stale)
	c.OtherHost += uint64(res.other)
	c.Invalid += uint64(res.invalid)
	return res, true
}

// Timeouts bound how long a client may take; slow or stuck clients are cut
// off, so they cannot hold the receiver's connections.
type Timeouts struct {
	Header time.Duration // to send the request line and headers
	Read   time.Duration // to send the whole request, body included
	Write  time.Duration // to take the answer
	Idle   time.Duration // between requests on a kept-alive connection
}

// DefaultTimeouts suit Alertmanager, which posts small bodies and waits
// 10 s for an answer by default.
var DefaultTimeouts = Timeouts{Header: 5 * time.Second, Read: 10 * time.Second, Write: 10 * time.Second, Idle: time.Minute}

// Serve serves h on ln with the timeouts until ctx is done.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, t Timeouts, log *slog.Logger) error {
	srv := &http.Server{
		Handler: h, ReadHeaderTimeout: t.Header, ReadTimeout: t.Read, WriteTimeout: t.Write, IdleTimeout: t.Idle,
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("alertmanager receiver: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return nil
}

// LoadSecret reads the secret of --alertmanager-token-file: its first
// line, without surrounding blanks. An empty secret is an error.
func LoadSecret(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSpace(line)
	if line == "" {
		return nil, fmt.Errorf("%s: empty: want a bearer token, or user:password for basic auth, on the first line", file)
	}
	return []byte(line), nil
}
