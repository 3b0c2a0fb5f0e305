package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/alertmanager"
	"github.com/lmn-heal/lmn/internal/heal"
	"github.com/lmn-heal/lmn/internal/record"
)

// amTimeout bounds each request to Alertmanager: an action waits at most
// this long for the maintenance check.
const amTimeout = 2 * time.Second

// amLink is lmn-heal's side of Alertmanager (--alertmanager-url): before a
// disruptive action it reads the silences, and a maintenance silence for
// this host holds the action; with the policy's silence_while_verifying it
// silences an alert while the step healing it is verified. Alertmanager
// unreachable, lmn-heal acts as without it and says so at most once per
// warnEvery.
type amLink struct {
	client *alertmanager.Client
	host   alertmanager.Host
	log    *slog.Logger
	now    func() time.Time
	// silence is the policy's alertmanager.silence_while_verifying;
	// poll is how often a held silence checks whether its alert resolved.
	silence bool
	poll    time.Duration

	ctx       context.Context
	mu        sync.Mutex
	warnEvery time.Duration
	lastWarn  time.Time
	missed    int                          // failures not said since lastWarn
	labels    map[string]map[string]string // firing alert issues: id → labels
	held      map[string]*held
	wg        sync.WaitGroup
}

func newAMLink(ctx context.Context, cfg config, policy *heal.Policy, log *slog.Logger) (*amLink, error) {
	if cfg.amURL == "" {
		return nil, nil
	}
	c, err := alertmanager.NewClient(cfg.amURL, amTimeout)
	if err != nil {
		return nil, fmt.Errorf("--alertmanager-url: %w", err)
	}
	return &amLink{client: c, host: alertmanager.LocalHost(cfg.host), log: log, now: cfg.now,
		silence: policy.Alertmanager.SilenceWhileVerifying, poll: cfg.amPoll, ctx: ctx, warnEvery: time.Minute,
		labels: map[string]map[string]string{}, held: map[string]*held{}}, nil
}

// unreachable says that Alertmanager could not be asked, at most once per
// warnEvery, with the count of failures since.
func (l *amLink) unreachable(what string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.lastWarn.IsZero() && now.Sub(l.lastWarn) < l.warnEvery {
		l.missed++
		return
	}
	l.log.Warn("alertmanager unreachable: acting as without it", "during", what, "err", err, "failures_since_last_said", l.missed)
	l.lastWarn, l.missed = now, 0
}

// hold returns the advice for a job that a maintenance silence holds, or
// "" when it may run: it is not disruptive, no maintenance silence covers
// this host, or Alertmanager could not be asked.
func (l *amLink) hold(job heal.Job) string {
	if s, ok := action.Lookup(job.Action); !ok || !s.Disruptive || job.Undo {
		return ""
	}
	ctx, cancel := context.WithTimeout(l.ctx, amTimeout)
	defer cancel()
	s, err := l.client.Maintenance(ctx, l.host)
	if err != nil {
		l.unreachable("maintenance check before "+job.Action, err)
		return ""
	}
	if s == nil {
		return ""
	}
	advice := fmt.Sprintf("held: a maintenance window holds disruptive actions on this host (Alertmanager %s)", s)
	if cmd := command(job.Action, job.Params, job.Scope); cmd != "" {
		advice += "; if still needed after it, run: " + cmd
	}
	return advice
}

// observeIssue remembers the labels of firing alert issues.
func (l *amLink) observeIssue(line record.Line) {
	var is struct {
		ID     string            `json:"id"`
		Rule   string            `json:"rule"`
		State  string            `json:"state"`
		Labels map[string]string `json:"labels"`
	}
	if line.Kind != record.KindIssue || json.Unmarshal(line.Body(), &is) != nil || is.Rule != alertmanager.Rule {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if is.State == record.StateFiring && len(is.Labels) > 0 {
		l.labels[is.ID] = is.Labels
	} else {
		delete(l.labels, is.ID)
	}
}

// afterRecords follows the engine's heal records: a verification window
// opening for an alert's issue silences the alert, an outcome ends the
// silence. Called with the engine locked.
func (l *amLink) afterRecords(eng *heal.Engine, recs []record.Heal) {
	if !l.silence {
		return
	}
	for _, r := range recs {
		switch r.Phase {
		case record.PhaseSucceeded:
			if until, ok := eng.Verifying(r.Issue); ok {
				l.silenceAlert(r.Issue, until.Sub(eng.Now()), r)
			}
		case record.PhaseVerified, record.PhaseFailed, record.PhaseAdvised, record.PhaseGaveUp:
			l.release(r.Issue)
		}
	}
}

// held is a silence lmn-heal keeps for an issue.
type held struct{ cancel context.CancelFunc }

// silenceAlert silences the alert of issue for at most window, until
// release, or until Alertmanager no longer holds the alert as firing: a
// resolve Alertmanager sends while its alert is silenced never reaches
// lmn-detect, so the silence is expired as soon as the alert resolves and
// the resolve goes out with Prometheus's next notification of it.
func (l *amLink) silenceAlert(issue string, window time.Duration, r record.Heal) {
	l.mu.Lock()
	defer l.mu.Unlock()
	labels := l.labels[issue]
	if labels == nil || l.held[issue] != nil || window <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(l.ctx, window)
	me := &held{cancel: cancel}
	l.held[issue] = me
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer func() {
			cancel()
			l.mu.Lock()
			if l.held[issue] == me {
				delete(l.held, issue)
			}
			l.mu.Unlock()
		}()
		now := l.now().UTC()
		s := alertmanager.Silence{Matchers: alertmanager.AlertExactly(labels), StartsAt: now, EndsAt: now.Add(window),
			CreatedBy: "lmn-heal@" + l.host.Names[0],
			Comment:   fmt.Sprintf("lmn-heal is healing this alert (issue %s, step %d: %s) and verifies it; expired when the outcome is known", issue, r.Step, r.Action)}
		pctx, pcancel := context.WithTimeout(ctx, amTimeout)
		id, err := l.client.Post(pctx, s)
		pcancel()
		if err != nil {
			l.unreachable("silence while verifying", err)
			return
		}
		l.log.Info("silenced the alert being healed", "issue", issue, "silence", id, "until", s.EndsAt)
		l.watch(ctx, labels)
		if ctx.Err() == context.DeadlineExceeded {
			return // the window passed: the silence ended by itself
		}
		ectx, ecancel := context.WithTimeout(context.Background(), amTimeout)
		defer ecancel()
		if err := l.client.Expire(ectx, id); err != nil {
			l.unreachable("expire the silence of issue "+issue, err)
			return
		}
		l.log.Info("expired the silence of the alert being healed", "issue", issue, "silence", id)
	}()
}

// watch returns when ctx ends or Alertmanager no longer holds the alert
// as firing.
func (l *amLink) watch(ctx context.Context, labels map[string]string) {
	t := time.NewTicker(l.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fctx, cancel := context.WithTimeout(ctx, amTimeout)
		firing, err := l.client.Firing(fctx, labels)
		cancel()
		if err == nil && !firing {
			return
		}
	}
}

// release ends the silence of issue, if it has one.
func (l *amLink) release(issue string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h := l.held[issue]; h != nil {
		h.cancel()
		delete(l.held, issue)
	}
}

// close expires every silence still held and waits for it.
func (l *amLink) close() {
	l.mu.Lock()
	for id, h := range l.held {
		h.cancel()
		delete(l.held, id)
	}
	l.mu.Unlock()
	l.wg.Wait()
}
