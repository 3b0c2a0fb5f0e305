package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/lmn-heal/lmn/internal/detect"
	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/statefile"
	"github.com/lmn-heal/lmn/internal/summary"
)

// settings are the effective settings written in the start record.
type settings struct {
	Rules       string `json:"rules"`
	RulesDigest string `json:"rules_digest"`
	RuleCount   int    `json:"rule_count"`
	State       string `json:"state,omitempty"`
	OnlyIssues  bool   `json:"only_issues,omitempty"`
	// AlertmanagerListen is the receiver's bound address.
	AlertmanagerListen string `json:"alertmanager_listen,omitempty"`
	AlertmanagerAuth   bool   `json:"alertmanager_auth,omitempty"`
	// GenerationSettleSeconds is generation_unhealthy's settle window,
	// absent when the rule is off: lmn-dash's gate waits for its verdict.
	GenerationSettleSeconds float64 `json:"generation_settle_seconds,omitempty"`
}

func run(ctx context.Context, cfg config, stdin io.Reader, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("src", detect.Src)
	rules, err := loadRules(cfg.rulesFile)
	if err != nil {
		log.Error("bad rules", "err", err)
		return 2
	}
	if cfg.printRules {
		if _, err := stdout.Write(rules.JSON()); err != nil && !record.IsBrokenPipe(err) {
			log.Error("print rules", "err", err)
			return 1
		}
		return 0
	}
	if cfg.stateFile != "" {
		if err := statefile.CheckWritable(cfg.stateFile); err != nil {
			log.Error("bad --state: give a file in a directory lmn-detect can write", "err", err)
			return 2
		}
	}
	d := &detector{cfg: cfg, log: log, rules: rules, dec: rules.Decoder(), engine: detect.NewEngine(rules),
		upstream: record.Upstream{Stage: detect.Src}}
	d.loadState()
	w := record.NewWriter(stdout)
	d.w = w
	am, code, err := startReceiver(cfg, d, log)
	if err != nil {
		log.Error("alertmanager receiver", "err", err)
		return code
	}
	src := cfg.rulesFile
	if src == "" {
		src = detect.DefaultsName
	}
	set := settings{Rules: src, RulesDigest: rules.Digest(), RuleCount: rules.Len(),
		State: cfg.stateFile, OnlyIssues: cfg.onlyIssues}
	if am != nil {
		set.AlertmanagerListen, set.AlertmanagerAuth = am.addr, am.rc.Secret != nil
	}
	if d, ok := rules.GenerationSettle(); ok {
		set.GenerationSettleSeconds = d.Seconds()
	}
	start := record.Start{
		Header:   record.NewHeader(record.KindStart, detect.Src, cfg.host, cfg.now()),
		Version:  version,
		Settings: set,
	}
	if err := w.Emit(start); err != nil {
		log.Error("write start record", "err", err)
		if am != nil {
			am.stop(log)
		}
		return 1
	}
	if cfg.live {
		d.watch = newWatchdog(d)
		defer d.watch.stop()
		stdin = d.watch.reader(stdin)
	}
	r := record.NewReader(stdin, func() { w.Flush() })
	r.OnReject = func(err error) { log.Warn("rejected input line", "err", err) }
	// A replayed file is read ahead on a second core; a live pipe is read
	// line by line, so waiting for input means lmn-detect is idle. handle
	// passes each record on itself, under the lock that keeps the
	// receiver's and the watchdog's records out of a record's group.
	f := record.Filter{In: r, Out: w, Handle: d.handle, ReadAhead: !cfg.live,
		Pass: func(record.Line) bool { return false }}
	runErr := f.Run(ctx)
	code = 0
	if runErr != nil {
		log.Error("stream", "err", runErr)
		code = 1
	}
	if am != nil {
		if err := am.stop(log); err != nil {
			log.Error("alertmanager receiver", "err", err)
			code = 1
		}
		if err := w.Flush(); err != nil && !record.IsBrokenPipe(err) {
			log.Error("stream", "err", err)
			code = 1
		}
	}
	if err := d.saveState(); err != nil {
		log.Error("save state", "err", err)
		code = 1
	}
	if n := r.Rejected(); n > 0 {
		log.Warn("rejected input lines", "count", n)
	}
	if d.malformed > 0 {
		log.Warn("skipped malformed samples", "count", d.malformed)
	}
	return code
}

func loadRules(file string) (*detect.Rules, error) {
	if file == "" {
		return detect.Defaults(), nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return detect.ParseRules(file, data)
}

// detector joins the engine to the stream. mu guards the engine and the
// writer's order against the live absence watchdog.
type detector struct {
	cfg    config
	log    *slog.Logger
	rules  *detect.Rules
	dec    *record.SampleDecoder
	engine *detect.Engine
	w      *record.Writer
	watch  *watchdog

	mu       sync.Mutex
	lastSave time.Time
	sample   record.Sample
	// malformed counts the samples skipped as malformed: not decoding,
	// or holding an impossible value.
	malformed int
	upstream  record.Upstream
}

// handle passes l on (all of it, or issues only with --only-issues) and
// writes the issues it causes, holding d.mu throughout.
func (d *detector) handle(l record.Line) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if w := d.upstream.Check(l); w != "" {
		d.log.Warn("wrongly built pipe: "+w, "line", l.N)
	}
	if !d.cfg.onlyIssues || l.Kind == record.KindIssue {
		if err := d.w.WriteLine(l.Raw); err != nil {
			return err
		}
	}
	if l.Kind != record.KindSample || d.rules.Len() == 0 {
		return nil
	}
	if err := d.dec.Decode(l.Body(), &d.sample); err != nil {
		d.malformed++
		d.log.Warn("skipping sample that does not decode", "err", &record.LineError{Name: "stdin", Line: l.N, Err: err})
		return nil
	}
	if err := record.CheckSample(&d.sample); err != nil {
		// A ratio of 7.5 or -5 is no measurement: a broken or forged
		// collector. Judged, it would fire critical issues.
		d.malformed++
		d.log.Warn("skipping sample with an impossible value", "err", &record.LineError{Name: "stdin", Line: l.N, Err: err})
		return nil
	}
	if d.sample.TS.IsZero() {
		d.log.Warn("skipping sample without ts", "line", l.N)
		return nil
	}
	for _, is := range d.engine.Sample(&d.sample) {
		if err := d.emitIssue(is); err != nil {
			return err
		}
	}
	if d.watch != nil {
		d.watch.arm(d.engine.NextWake(0))
	}
	if d.cfg.stateFile != "" && d.cfg.now().Sub(d.lastSave) >= d.cfg.saveEvery {
		if err := d.saveStateLocked(); err != nil {
			d.log.Warn("save state", "err", err)
		}
	}
	return nil
}

// emitIssue writes is, and says it on stderr in one line unless --quiet.
// Called with d.mu held.
func (d *detector) emitIssue(is record.Issue) error {
	err := d.w.Emit(is)
	if !d.cfg.quiet {
		summary.LogIssue(d.log, &is)
	}
	return err
}

func (d *detector) loadState() {
	if d.cfg.stateFile == "" {
		return
	}
	b, err := os.ReadFile(d.cfg.stateFile)
	if errors.Is(err, fs.ErrNotExist) {
		d.log.Info("no state file yet, starting fresh", "state", d.cfg.stateFile)
		return
	}
	if err != nil {
		d.log.Warn("cannot read state file, starting fresh", "state", d.cfg.stateFile, "err", err)
		return
	}
	st, err := detect.DecodeState(b)
	if err != nil {
		d.log.Warn("state file is corrupt, starting fresh (it is replaced at exit)", "state", d.cfg.stateFile, "err", err)
		return
	}
	if st.RulesDigest != d.rules.Digest() {
		d.log.Info("rules changed since the state was saved", "state", d.cfg.stateFile)
	}
	if dropped := d.engine.Restore(st); len(dropped) > 0 {
		d.log.Info("dropped saved state of rules no longer present", "rules", dropped)
	}
}

func (d *detector) saveState() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.saveStateLocked()
}

func (d *detector) saveStateLocked() error {
	if d.cfg.stateFile == "" {
		return nil
	}
	d.lastSave = d.cfg.now()
	b, err := detect.EncodeState(d.engine.State(d.rules.Digest()))
	if err != nil {
		return err
	}
	return statefile.Write(d.cfg.stateFile, b)
}
