// Package notify decides what of the lmn stream a person is told, and
// tells them: lmn-notify's one concept.
//
// A decider reads issue and heal records and picks the events of the
// events table (events.go): a ladder that ended in advice, gave up, made
// things worse or did not recover, a rollback, a silent collector, and
// one "recovered" when an issue a person was told of heals. Issues lmn
// healed by itself are not told. Each issue is told at most once per
// PerIssue window, and a storm is folded into one digest per window after
// its first Burst messages.
//
// Each channel (webhook, ntfy, mail through sendmail -t, journald's native
// protocol) has a bounded queue and one goroutine that delivers with
// retries and backoff, so a slow or dead channel never holds up the
// stream; drops are counted and reported in notify records. Secrets come
// from files and are scrubbed from every error.
package notify

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/lmn-heal/lmn/internal/config"
	"github.com/lmn-heal/lmn/internal/record"
)

// Src is the src of lmn-notify's records.
const Src = "lmn-notify"

// Notifier is the running stage: the decider, the channels' workers and
// the digest timer.
type Notifier struct {
	cfg     Config
	out     *record.Writer
	log     *slog.Logger
	host    string
	workers []*worker

	mu    sync.Mutex // guards dec and timer
	dec   *decider
	timer *time.Timer

	ctx     context.Context
	cancel  context.CancelFunc
	closing chan struct{}
	wg      sync.WaitGroup
}

// New sets up the channels of cfg, reading their secret files. Its errors
// are configuration errors naming the field.
func New(cfg Config, out *record.Writer, log *slog.Logger, host string) (*Notifier, error) {
	n := &Notifier{cfg: cfg, out: out, log: log, host: host, closing: make(chan struct{})}
	n.dec = newDecider(&n.cfg, time.Now)
	chans, err := cfg.channels()
	if err != nil {
		return nil, err
	}
	for _, ch := range chans {
		n.workers = append(n.workers, newWorker(ch, &n.cfg, n.report, log))
	}
	return n, nil
}

// Start starts the channels' workers; they stop when ctx is done or after
// Close.
func (n *Notifier) Start(ctx context.Context) {
	n.ctx, n.cancel = context.WithCancel(ctx)
	for _, w := range n.workers {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			w.run(n.ctx, n.closing)
		}()
	}
}

// Handle takes one record after it was passed on: the Handle of a
// record.Filter. It never blocks on a channel, and a record it cannot use
// is reported, not fatal.
func (n *Notifier) Handle(line record.Line) error {
	if line.Kind != record.KindIssue && line.Kind != record.KindHeal {
		return nil
	}
	n.mu.Lock()
	msgs, err := n.dec.observe(line)
	n.armDigest()
	n.mu.Unlock()
	if err != nil {
		n.log.Warn("record not used", "line", line.N, "err", err)
	}
	for _, m := range msgs {
		n.put(m)
	}
	return nil
}

// armDigest sets the timer for a pending digest. Called with n.mu held.
func (n *Notifier) armDigest() {
	due, ok := n.dec.dueAt()
	if !ok || n.timer != nil {
		return
	}
	n.timer = time.AfterFunc(time.Until(due), n.flushDigest)
}

func (n *Notifier) flushDigest() {
	n.mu.Lock()
	n.timer = nil
	m := n.dec.flush()
	n.armDigest()
	n.mu.Unlock()
	if m != nil {
		n.put(m)
	}
}

func (n *Notifier) put(m *Message) {
	for _, w := range n.workers {
		w.put(m)
	}
}

// Close sends the pending digest, lets the workers empty their queues for
// up to grace, then stops them; messages still queued are reported lost.
func (n *Notifier) Close(grace time.Duration) {
	n.mu.Lock()
	if n.timer != nil {
		n.timer.Stop()
		n.timer = nil
	}
	m := n.dec.takeDigest()
	n.mu.Unlock()
	if m != nil {
		n.put(m)
	}
	close(n.closing)
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		n.cancel()
		<-done
	}
	n.cancel()
}

// report writes one notify record now: workers call it from their own
// goroutines, so it flushes.
func (n *Notifier) report(r record.Notify) {
	r.Header = record.NewHeader(record.KindNotify, Src, n.host, time.Now())
	if err := n.out.Emit(r); err == nil {
		n.out.Flush()
	}
}

// channels builds the configured channels, reading secrets from their
// files.
func (c *Config) channels() ([]channel, error) {
	var out []channel
	if w := c.Webhook; w != nil {
		u, err := secretURL(w.URL, w.URLFile)
		if err != nil {
			return nil, config.Field("webhook", err)
		}
		ch, err := newHTTPChannel("webhook", u, nil, buildWebhook)
		if err != nil {
			return nil, config.Field("webhook.url", err)
		}
		out = append(out, ch)
	}
	if nt := c.Ntfy; nt != nil {
		u, err := secretURL(nt.URL, nt.URLFile)
		if err != nil {
			return nil, config.Field("ntfy", err)
		}
		var token string
		if nt.TokenFile != "" {
			if token, err = readSecret(nt.TokenFile); err != nil {
				return nil, config.Field("ntfy.token_file", err)
			}
		}
		ch, err := newHTTPChannel("ntfy", u, secrets{token}, buildNtfy(token))
		if err != nil {
			return nil, config.Field("ntfy.url", err)
		}
		out = append(out, ch)
	}
	if m := c.Mail; m != nil {
		out = append(out, &mailChannel{to: m.To, from: m.From, argv: m.Sendmail})
	}
	if j := c.Journald; j != nil {
		out = append(out, &journaldChannel{socket: j.Socket})
	}
	return out, nil
}

// secretURL returns the URL given, or read from file.
func secretURL(u, file string) (string, error) {
	if file == "" {
		return u, nil
	}
	s, err := readSecret(file)
	if err != nil {
		return "", config.Field("url_file", err)
	}
	if parseHTTP(s) != nil { // its message would show part of the secret
		return "", config.Errorf("url_file", "%s: want an http:// or https:// URL with a host", file)
	}
	return s, nil
}

// readSecret reads a secret file: its content without surrounding white
// space. Errors name the file, never its content.
func readSecret(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s: empty", file)
	}
	return s, nil
}
