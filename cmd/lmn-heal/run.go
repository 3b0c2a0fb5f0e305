package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/heal"
	"github.com/lmn-heal/lmn/internal/privproto"
	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/statefile"
	"github.com/lmn-heal/lmn/internal/summary"
	"github.com/lmn-heal/lmn/internal/tier"
)

// run is lmn-heal without the process around it: 0 ok, 1 runtime
// failure, 2 usage or configuration error.
func run(ctx context.Context, cfg config, stdin io.Reader, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("src", heal.Src)
	policy, err := loadPolicy(cfg.policyFile)
	if err != nil {
		log.Error("bad policy", "err", err)
		return 2
	}
	if cfg.printPolicy {
		b, _ := json.MarshalIndent(policy, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
		return 0
	}
	if cfg.stateFile != "" && !cfg.dryRun {
		if err := statefile.CheckWritable(cfg.stateFile); err != nil {
			log.Error("bad --state: give a file in a directory lmn-heal can write", "err", err)
			return 2
		}
	}
	runner := newRunner(cfg)
	eng := heal.New(heal.Config{Policy: policy, DryRun: cfg.dryRun, Host: cfg.host, Target: target, Command: command,
		// {{pressured_unit}} is a unit the catalogue would let
		// restart_unit touch.
		AllowUnit: func(unit string) bool { return runner.Env.Units.Check(unit) == nil },
		Wall:      cfg.now})
	if cfg.stateFile != "" {
		loadState(eng, cfg.stateFile, log)
	}
	h := &healer{cfg: cfg, eng: eng, log: log, runner: runner, lastSave: cfg.now(), upstream: record.Upstream{Stage: heal.Src}}
	h.ctx, h.cancel = context.WithCancel(ctx)
	defer h.cancel()
	if h.am, err = newAMLink(h.ctx, cfg, policy, log); err != nil {
		log.Error("bad flag", "err", err)
		return 2
	}
	if cfg.euid == 0 && !cfg.dryRun && slices.Contains(cfg.tiers, record.TierUnprivileged) {
		log.Warn("running as root: actions run as root, directly (the unprivileged tier is root's own systemctl); " +
			"run as an ordinary user to act only through lmn-privd and advice, or --dry-run to only plan")
	}
	h.out = record.NewWriter(stdout)
	start := record.NewStart(heal.Src, version, cfg.now(), h.settings(policy))
	start.Host = cfg.host
	if err := h.out.Emit(start); err != nil {
		return h.finish(err)
	}
	if cfg.pauseFile != "" {
		h.checkPause() // before the first record: a pause holds from the start
		go h.watchPause(h.ctx)
	}
	in := record.NewReader(stdin, func() { h.out.Flush() })
	in.OnReject = func(err error) { log.Warn("rejected line", "err", err) }
	// A replayed file is read ahead on a second core.
	f := record.Filter{In: in, Out: h.out, Handle: h.handle, ReadAhead: cfg.inline}
	err = f.Run(ctx)
	h.mu.Lock()
	h.stopAlarm()
	h.mu.Unlock()
	h.wait()
	if h.am != nil {
		h.am.close()
	}
	return h.finish(err)
}

func loadPolicy(file string) (*heal.Policy, error) {
	if file == "" {
		return heal.DefaultPolicy(), nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return heal.ParsePolicy(file, data, catalog)
}

// catalog tells policy validation about the actions of internal/action.
func catalog(name string) (map[string]bool, bool) {
	s, ok := action.Lookup(name)
	if !ok {
		return nil, false
	}
	params := make(map[string]bool, len(s.Params))
	for _, p := range s.Params {
		params[p.Name] = p.Required
	}
	return params, true
}

func target(a string, params map[string]string) string {
	return action.Target(action.Request{Action: a, Params: params})
}

func command(a string, params map[string]string, scope string) string {
	var env action.Env
	if scope == "user" {
		env.Systemctl = []string{"systemctl", "--user"}
	}
	return action.Command(env, action.Request{Action: a, Params: params})
}

// newRunner sets up the permission tiers from the flags. A key that
// cannot be read leaves the privd tier out, with the reason.
func newRunner(cfg config) *tier.Runner {
	env := action.DefaultEnv()
	env.Systemctl = cfg.systemctl
	env.ExtraEnv = cfg.extraEnv
	if cfg.sysRoot != "" {
		env.SysRoot, env.ProcRoot = cfg.sysRoot, cfg.procRoot
	}
	env.Self = os.Getpid()
	user := env
	user.Systemctl = cfg.userctl
	l := &tier.Runner{
		Tiers: cfg.tiers, Env: env, UserEnv: user,
		Sudo: cfg.sudo, SudoArgv: []string{"sudo"}, PrivdArgv: cfg.privdArgv, TTY: cfg.tty,
		NixStore: []string{"nix-store"}, Root: cfg.euid == 0,
	}
	if key, err := privproto.LoadKey(cfg.keyFile); err != nil {
		l.KeyErr = keyReason(err)
	} else {
		l.Privd = &privproto.Client{Socket: cfg.privdSocket, Key: key}
	}
	return l
}

// keyReason shortens a key error for a denied reason.
func keyReason(err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errors.New("key file missing")
	case errors.Is(err, os.ErrPermission):
		return errors.New("key file not readable")
	}
	return err
}

// healer is the running filter: the engine, the tiers and the writer,
// with jobs running in goroutines so the pipe keeps flowing.
type healer struct {
	cfg    config
	eng    *heal.Engine
	log    *slog.Logger
	runner *tier.Runner
	am     *amLink // nil without --alertmanager-url
	out    *record.Writer
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex // guards eng, lastSave, the alarm
	jobs     sync.WaitGroup
	lastSave time.Time
	alarm    alarm           // a live pipe's wake-up at the engine's next deadline (alarm.go)
	saveErr  error           // of the latest save; guarded by mu
	upstream record.Upstream // guarded by mu
	// pauseChecked is when the pause file was last looked at (pause.go).
	pauseChecked time.Time
}

func (h *healer) settings(p *heal.Policy) map[string]any {
	b, _ := json.Marshal(p)
	sum := sha256.Sum256(b)
	s := map[string]any{
		"policy_sha256": hex.EncodeToString(sum[:]), "dry_run": h.cfg.dryRun, "tiers": h.cfg.tiers,
		"sudo": h.cfg.sudo, "privd_socket": h.cfg.privdSocket, "key_file": h.cfg.keyFile,
	}
	// Who acts: as root the unprivileged tier is root's own systemctl.
	s["uid"] = h.cfg.euid
	if h.cfg.euid == 0 {
		s["root"] = true
	}
	if h.cfg.policyFile != "" {
		s["policy"] = h.cfg.policyFile
	}
	if h.cfg.stateFile != "" {
		s["state"] = h.cfg.stateFile
	}
	if h.cfg.pauseFile != "" {
		s["pause_file"] = h.cfg.pauseFile
	}
	if h.runner.KeyErr != nil && !h.cfg.dryRun {
		s["privd"] = h.runner.KeyErr.Error()
	}
	if h.cfg.amURL != "" {
		s["alertmanager_url"] = h.cfg.amURL
	}
	s["actions"] = policyActions(p)
	return s
}

// policyActions are the actions the enabled ladders of p may run, sorted:
// lmn-dash exports their series at zero from the start.
func policyActions(p *heal.Policy) []string {
	var out []string
	for _, l := range p.Ladders {
		if l.Enabled != nil && !*l.Enabled {
			continue
		}
		for _, st := range l.Steps {
			for _, a := range st.Actions {
				out = append(out, a.Action)
			}
		}
	}
	if p.Find(record.RuleGenerationUnhealthy, map[string]string{}) != nil {
		out = append(out, "mark_generation_good") // a change judged healthy (internal/heal/generation.go)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// handle is called for each record after it was passed on.
func (h *healer) handle(line record.Line) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if line.Kind == record.KindSample || line.Kind == record.KindIssue {
		h.alarm.readAt = time.Now()
	}
	if h.cfg.pauseFile != "" && time.Since(h.pauseChecked) >= h.cfg.pauseRecheck {
		h.pauseLocked()
	}
	if w := h.upstream.Check(line); w != "" {
		h.log.Warn("wrongly built pipe: "+w, "line", line.N)
	}
	over := h.eng.Overflow()
	var ce *heal.ClockError
	if err := h.eng.Observe(line); errors.As(err, &ce) {
		h.log.Warn("record time not used", "line", line.N, "err", err, "refused_so_far", h.eng.Skewed())
	} else if err != nil {
		h.log.Warn("record not used", "line", line.N, "err", err)
	}
	if n := h.eng.Overflow(); n > over && n&(n-1) == 0 { // the first, then at each doubling
		h.log.Warn("too many issues: refused, with advice", "tracked", h.eng.Tracked(), "refused", n)
	}
	if h.am != nil {
		h.am.observeIssue(line)
	}
	return h.flushEngine(false)
}

// flushEngine writes the engine's records, starts its jobs and saves the
// state when due. Called with h.mu held.
func (h *healer) flushEngine(force bool) error {
	recs, jobs := h.eng.Drain()
	for _, r := range recs {
		if err := h.out.Emit(r); err != nil {
			return err
		}
		if !h.cfg.quiet {
			summary.LogHeal(h.log, &r)
		}
	}
	if h.am != nil {
		h.am.afterRecords(h.eng, recs)
	}
	for _, j := range jobs {
		h.start(j)
	}
	if h.eng.Dirty() || force || h.cfg.now().Sub(h.lastSave) >= h.cfg.saveEvery {
		h.save()
	}
	h.arm()
	return nil
}

// start runs job. On a live pipe it runs in its own goroutine, so records
// keep flowing, and its records are written when it ends, after whatever
// record is being passed on then. Replaying a file, it runs inline: the
// stream waits for it, so verification windows are judged against the
// records that follow it, the same way every run.
func (h *healer) start(job heal.Job) {
	if h.cfg.inline {
		if h.heldBack(job) {
			return
		}
		res := h.run(job)
		h.eng.Complete(job.ID, res)
		if err := h.flushEngine(true); err != nil {
			h.log.Warn("write", "err", err)
		}
		return
	}
	h.jobs.Add(1)
	go func() {
		defer h.jobs.Done()
		h.mu.Lock()
		held := h.heldBack(job)
		h.mu.Unlock()
		if held {
			h.out.Flush()
			return
		}
		res := h.run(job)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.eng.Complete(job.ID, res)
		if err := h.flushEngine(true); err != nil {
			h.log.Warn("write", "err", err)
			h.cancel()
			return
		}
		h.out.Flush()
	}()
}

// run runs job through the permission ladder, unless a maintenance
// window holds it (then the ladder ends in advice saying so), or reads a
// unit's state for a Check job.
func (h *healer) run(job heal.Job) heal.Result {
	if job.Check {
		return h.runner.State(h.ctx, job)
	}
	if h.am != nil {
		if advice := h.am.hold(job); advice != "" {
			return heal.Result{Tier: record.TierAdvise, Advice: advice}
		}
	}
	return h.runner.Run(h.ctx, job)
}

// wait lets running actions finish (each has its own timeout) and writes
// their records.
func (h *healer) wait() {
	h.jobs.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.flushEngine(true)
}

func (h *healer) finish(err error) int {
	ferr := h.out.Flush()
	if err == nil {
		err = ferr
	}
	if err != nil && !record.IsBrokenPipe(err) {
		h.log.Error("stopped", "err", err)
		return 1
	}
	if h.saveErr != nil {
		// As lmn-detect: the state the next run needs was lost.
		h.log.Error("save state", "err", h.saveErr)
		return 1
	}
	return 0
}
