// Command lmn-heal answers issues with healing actions.
//
// It reads the lmn stream (newline-delimited JSON, see docs/stream.md) on
// stdin, usually from lmn-detect, and writes every record on unchanged to
// stdout, followed by heal records: for each firing issue it walks a
// ladder of steps from its policy (built in, or --policy FILE; see
// docs/policy.md), runs each action through the permission ladder
// (unprivileged, lmn-privd over its Unix socket, sudo -n lmn-privd exec,
// a user-space fallback, advice), verifies from the stream that the issue
// resolved, and gives up behind a circuit breaker. Downstream is usually
// lmn-dash. It talks to lmn-privd (--privd-socket, --key-file), sudo, and
// the service manager (systemctl, systemctl --user), and with
// --alertmanager-url to Alertmanager's API (silences). With --state it keeps
// breakers, backoff and values to restore in one file between runs.
// Its clock is the stream's; on a live pipe (stdin not a regular file) it
// also wakes at a ladder's next deadline when no record comes first
// (docs/policy.md, Time). Diagnostics go to stderr.
package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/cli"
	"github.com/lmn-heal/lmn/internal/pipe"
	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/tier"
)

var version = "dev"

type config struct {
	policyFile  string
	printPolicy bool
	dryRun      bool
	quiet       bool // no line on stderr per heal step
	euid        int  // who acts: 0 is root (a seam for tests)
	stateFile   string
	tiers       []string
	privdSocket string
	keyFile     string
	sudo        string
	systemctl   []string
	userctl     []string
	privdArgv   []string
	pauseFile   string
	amURL       string // --alertmanager-url

	// inline runs actions in the reading goroutine (input is a file).
	inline bool

	// Set by tests, not by flags.
	sysRoot   string
	procRoot  string
	extraEnv  []string
	host      string
	now       func() time.Time
	saveEvery time.Duration
	tty       string

	// How often the pause file is looked at (pause.go).
	pauseEvery, pauseRecheck time.Duration
	amPoll                   time.Duration // how often a held silence looks for its alert's resolve
}

func parseFlags(args []string, stdout, stderr io.Writer) (config, error) {
	cfg := config{host: record.Hostname(), now: time.Now, euid: os.Geteuid(), saveEvery: 30 * time.Second, tty: "/dev/tty", amPoll: 2 * time.Second}
	cfg.pauseEvery, cfg.pauseRecheck = pauseEvery, pauseRecheck
	fs := cli.New("lmn-heal", version, "[flags] < with-issues.ndjson > with-heals.ndjson", stdout, stderr)
	fs.NoArgs = "the stream comes on stdin"
	fs.StringVar(&cfg.policyFile, "policy", "", "policy `file` (JSON) replacing or, with \"extend\": true, extending the built-in policy")
	fs.BoolVar(&cfg.printPolicy, "print-policy", false, "print the effective policy as JSON and exit")
	fs.BoolVar(&cfg.dryRun, "dry-run", false, "plan and write planned heal records; run nothing, write no state")
	fs.BoolVar(&cfg.quiet, "quiet", false, "write no line on stderr for each heal step (warnings and errors still)")
	fs.StringVar(&cfg.stateFile, "state", "", "keep breakers, backoff, ladders and values to restore in `file` across runs")
	tiers := fs.String("tiers", strings.Join(tier.Order, ","), "the permission tiers that may act, a comma `list` of "+strings.Join(tier.Order, ","))
	fs.StringVar(&cfg.privdSocket, "privd-socket", "/run/luminous/privd.sock", "lmn-privd's socket `path`")
	fs.StringVar(&cfg.keyFile, "key-file", "/var/lib/luminous-healing/hmac.key", "the HMAC key shared with lmn-privd (`path`)")
	fs.StringVar(&cfg.sudo, "sudo", tier.SudoNoninteractive, "sudo `mode`: never, noninteractive (sudo -n) or prompt (ask on the controlling terminal)")
	systemctl := fs.String("systemctl", "systemctl", "argv `prefix` for system units, split on spaces")
	userctl := fs.String("systemctl-user", "systemctl --user", "argv `prefix` for user units, split on spaces")
	privd := fs.String("lmn-privd", "", "lmn-privd `binary` the sudo tier runs (default: next to lmn-heal, else on PATH)")
	fs.StringVar(&cfg.pauseFile, "pause-file", "/run/luminous/pause", "hold every action while this `file` exists (\"\": no pause file)")
	fs.StringVar(&cfg.amURL, "alertmanager-url", "", "Alertmanager `URL` (http://host:9093): a maintenance silence holds disruptive actions; see docs/policy.md")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	var err error
	if cfg.tiers, err = tier.ParseTiers(*tiers); err != nil {
		return cfg, fs.Usagef("--tiers: %v", err)
	}
	switch cfg.sudo {
	case tier.SudoNever, tier.SudoNoninteractive, tier.SudoPrompt:
	default:
		return cfg, fs.Usagef("--sudo %q: want never, noninteractive or prompt", cfg.sudo)
	}
	if cfg.systemctl = strings.Fields(*systemctl); len(cfg.systemctl) == 0 {
		return cfg, fs.Usagef("--systemctl: empty")
	}
	if cfg.userctl = strings.Fields(*userctl); len(cfg.userctl) == 0 {
		return cfg, fs.Usagef("--systemctl-user: empty")
	}
	cfg.privdArgv = []string{privdBinary(*privd)}
	return cfg, nil
}

// privdBinary finds lmn-privd: the flag, else next to this binary, else
// by name on sudo's secure_path.
func privdBinary(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "lmn-privd")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "lmn-privd"
}

func main() {
	version = cli.Version(version) // -ldflags, else what the go command recorded
	cfg, err := parseFlags(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		os.Exit(cli.Code(err))
	}
	if !cli.EventLines(os.Stdout, os.Stderr) {
		cfg.quiet = true // a stage before lmn-dash on a terminal: the dashboard holds the screen
	}
	ctx, stop := record.NotifyContext(context.Background())
	ctx, stderr, end := pipe.Stage(ctx, os.Stdout, os.Stderr)
	in, restore := record.Input(ctx, os.Stdin)
	if fi, err := os.Stdin.Stat(); err == nil && fi.Mode().IsRegular() {
		cfg.inline = true
	}
	code := run(ctx, cfg, in, os.Stdout, stderr)
	end()
	restore()
	stop()
	os.Exit(code)
}
