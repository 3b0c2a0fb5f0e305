package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/lmn-heal/lmn/internal/alertmanager"
	"github.com/lmn-heal/lmn/internal/listen"
	"github.com/lmn-heal/lmn/internal/record"
)

// inboxMax bounds the issue records waiting to be written; past it the
// receiver answers 503 and Alertmanager retries.
const inboxMax = 4096

// inbox joins the issue records of the Alertmanager receiver to
// lmn-detect's output. The receiver's handler only puts them here, which
// never waits, and answers. A goroutine of the inbox writes them while
// holding the detector's lock, which the main loop holds from passing a
// record on until the issues that record caused are written: so the
// receiver's records land between two such groups, never inside one, each
// as one whole line, in the order they were received.
type inbox struct {
	d      *detector
	mu     sync.Mutex
	recs   []record.Issue
	err    error // the write error that stopped the inbox
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

func newInbox(d *detector) *inbox {
	ib := &inbox{d: d, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go ib.run()
	return ib
}

// put queues recs, or returns false if the inbox is full or stopped.
func (ib *inbox) put(recs []record.Issue) bool {
	ib.mu.Lock()
	if ib.err != nil || ib.closed || len(ib.recs)+len(recs) > inboxMax {
		ib.mu.Unlock()
		return false
	}
	ib.recs = append(ib.recs, recs...)
	select { // under ib.mu, so never after close closed wake
	case ib.wake <- struct{}{}:
	default:
	}
	ib.mu.Unlock()
	return true
}

func (ib *inbox) run() {
	defer close(ib.done)
	for range ib.wake {
		ib.write()
	}
}

// write writes what is queued and flushes, between two groups of the
// main loop.
func (ib *inbox) write() {
	d := ib.d
	d.mu.Lock()
	defer d.mu.Unlock()
	ib.mu.Lock()
	recs := ib.recs
	ib.recs = nil
	ib.mu.Unlock()
	var err error
	for _, is := range recs {
		if err = d.emitIssue(is); err != nil {
			break
		}
	}
	if err == nil && len(recs) > 0 {
		err = d.w.Flush()
	}
	if err != nil {
		ib.mu.Lock()
		ib.err = err
		ib.mu.Unlock()
		if !record.IsBrokenPipe(err) {
			d.log.Warn("write alertmanager issue", "err", err)
		}
	}
}

// close writes what is still queued and stops the inbox; call it once the
// receiver no longer puts.
func (ib *inbox) close() {
	ib.mu.Lock()
	ib.closed = true
	ib.mu.Unlock()
	close(ib.wake)
	<-ib.done
	ib.write()
}

// receiver is the running webhook endpoint of --alertmanager-listen.
type receiver struct {
	rc     *alertmanager.Receiver
	inbox  *inbox
	addr   string
	cancel context.CancelFunc
	served chan error
}

// startReceiver listens on cfg.amListen and serves the webhook, feeding
// d's output. It returns nil when the flag is not set. On error, code is
// the exit status: 2 for a bad flag or token file, 1 when the address
// cannot be bound.
func startReceiver(cfg config, d *detector, log *slog.Logger) (r *receiver, code int, err error) {
	if cfg.amListen == "" {
		if cfg.amToken != "" {
			return nil, 2, fmt.Errorf("--alertmanager-token-file needs --alertmanager-listen")
		}
		return nil, 0, nil
	}
	addr, err := listen.Addr(cfg.amListen)
	if err != nil {
		return nil, 2, fmt.Errorf("--alertmanager-listen: %w", err)
	}
	rc := &alertmanager.Receiver{Host: alertmanager.LocalHost(cfg.host), HostName: cfg.host, Now: cfg.now, Log: log}
	if cfg.amToken != "" {
		if rc.Secret, err = alertmanager.LoadSecret(cfg.amToken); err != nil {
			return nil, 2, fmt.Errorf("--alertmanager-token-file: %w", err)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, 1, fmt.Errorf("--alertmanager-listen: %w", err)
	}
	r = &receiver{rc: rc, inbox: newInbox(d), addr: ln.Addr().String(), served: make(chan error, 1)}
	rc.Queue = r.inbox.put
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.served <- alertmanager.Serve(ctx, ln, rc.Handler(), alertmanager.DefaultTimeouts, log) }()
	log.Info("accepting Alertmanager webhooks", "addr", r.addr, "path", alertmanager.Path, "auth", rc.Secret != nil)
	if cfg.onListen != nil {
		cfg.onListen(r.addr)
	}
	return r, 0, nil
}

// stop shuts the endpoint down, then writes what it queued.
func (r *receiver) stop(log *slog.Logger) error {
	r.cancel()
	err := <-r.served
	r.inbox.close()
	log.Info("alertmanager receiver", "counts", r.rc.Counts().String())
	return err
}
