// Command lmn-detect turns samples into issues.
//
// It reads the lmn stream (newline-delimited JSON records, see
// docs/stream.md) on stdin, usually from lmn-collect, and writes every
// record on unchanged to stdout, followed by the issue records a sample
// causes: an issue fires, changes severity or resolves according to the
// rules (built-in defaults, or --rules FILE; see docs/rules.md). Its first
// record is a start record with the rules' digest. Downstream is usually
// lmn-heal or lmn-dash. It talks to no other process; with --state it keeps
// its memory in one file between runs. Diagnostics go to stderr.
package main

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/lmn-heal/lmn/internal/cli"
	"github.com/lmn-heal/lmn/internal/pipe"
	"github.com/lmn-heal/lmn/internal/record"
)

var version = "dev"

type config struct {
	rulesFile  string
	printRules bool
	stateFile  string
	onlyIssues bool
	quiet      bool   // no line on stderr per issue
	amListen   string // --alertmanager-listen, before listen.Addr
	amToken    string // --alertmanager-token-file

	// live says stdin is a pipe or terminal, where a hung collector sends
	// nothing: then absence is also judged by a wall-clock timer.
	live bool
	// now and host stamp the start record; now also paces state saves.
	now       func() time.Time
	host      string
	saveEvery time.Duration
	// onListen, if set, is told the receiver's bound address (tests).
	onListen func(addr string)
}

func parseFlags(args []string, stdout, stderr io.Writer) (config, error) {
	cfg := config{now: time.Now, host: record.Hostname(), saveEvery: 30 * time.Second}
	fs := cli.New("lmn-detect", version, "[flags] < samples.ndjson > with-issues.ndjson", stdout, stderr)
	fs.NoArgs = "the stream comes on stdin"
	fs.StringVar(&cfg.rulesFile, "rules", "", "rules `file` (JSON) replacing or, with \"extend\": true, extending the built-in rules")
	fs.BoolVar(&cfg.printRules, "print-rules", false, "print the effective rules as JSON and exit")
	fs.StringVar(&cfg.stateFile, "state", "", "keep pending counters, trend windows and firing issues in `file` across runs")
	fs.BoolVar(&cfg.onlyIssues, "only-issues", false, "write only issue records (and the start record), not the records read")
	fs.BoolVar(&cfg.quiet, "quiet", false, "write no line on stderr for each issue fired or resolved (warnings and errors still)")
	fs.StringVar(&cfg.amListen, "alertmanager-listen", "", "accept Alertmanager webhooks (POST /alertmanager) on `ADDR` (\"9465\" or \":9465\" mean 127.0.0.1:9465); default off")
	fs.StringVar(&cfg.amToken, "alertmanager-token-file", "", "require the bearer token, or user:password for basic auth, on the first line of `file`")
	return cfg, fs.Parse(args)
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
	cfg.live = isLive(os.Stdin)
	code := run(ctx, cfg, in, os.Stdout, stderr)
	end()
	restore()
	stop()
	os.Exit(code)
}

// isLive reports whether f is a pipe, socket or terminal rather than a
// regular file.
func isLive(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && !fi.Mode().IsRegular()
}
