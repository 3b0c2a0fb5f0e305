// Command lmn-dash is the end of the lmn pipe: it reads the record stream on
// stdin (samples from lmn-collect, issues from lmn-detect, heal steps from
// lmn-heal) and shows the machine and its healing as a terminal dashboard,
// or as plain text frames, and with --listen serves the same model as
// Prometheus metrics on /metrics with a /healthz check.
//
// It writes no records and talks to no peer but the terminal (/dev/tty for
// keys) and, with --listen, HTTP clients: scrapers, and `lmn-dash health`,
// the gate a deploy tool calls, which asks a running lmn-dash for GET /gate
// and exits 0 when it is green, 1 when not (naming the failing checks).
//
//	lmn-collect | lmn-detect | lmn-heal | lmn-dash
//	lmn-collect --count 3 | lmn-dash --once
//	... | lmn-dash --headless --listen 9464
//	lmn-dash health --wait --timeout 5m
//	lmn-dash summary --since 1h < records.ndjson
//	... | lmn-dash record --file /var/log/luminous-healing/records.ndjson | lmn-dash --headless --listen 9464
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/lmn-heal/lmn/internal/cli"
	"github.com/lmn-heal/lmn/internal/dash/term"
	"github.com/lmn-heal/lmn/internal/listen"
	"github.com/lmn-heal/lmn/internal/record"
)

var version = "dev"

type config struct {
	listen   string // host:port after listen.Addr; "" is off
	headless bool
	once     bool
	simple   bool

	// Seams for tests.
	tty      string              // the terminal for keys, /dev/tty
	getenv   func(string) string // NO_COLOR, TERM, COLUMNS
	now      func() time.Time    // the wall clock, for freshness only
	onListen func(addr string)   // told the bound metrics address
	maxFPS   int
}

func main() {
	version = cli.Version(version) // -ldflags, else what the go command recorded
	if len(os.Args) > 1 && os.Args[1] == "summary" {
		os.Exit(summaryCmd(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "record" {
		os.Exit(recordCmd(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "health" {
		ctx, stop := record.NotifyContext(context.Background())
		code := health(ctx, os.Args[2:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	cfg, err := parseFlags(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		os.Exit(cli.Code(err))
	}
	if term.IsTerminal(os.Stdin.Fd()) {
		fmt.Fprintln(os.Stderr, "lmn-dash: stdin is a terminal; pipe the stream in: lmn-collect | lmn-detect | lmn-heal | lmn-dash")
		os.Exit(2)
	}
	if os.Getenv("GOGC") == "" {
		// The live heap is a few hundred KiB; the default 4 MiB minimum heap
		// goal would be most of the resident size. Collect sooner instead:
		// at one frame a second that costs well under 0.1 % of a core.
		debug.SetGCPercent(25)
	}
	ctx, stop := record.NotifyContext(context.Background())
	in, restore := record.Input(ctx, os.Stdin)
	code := run(ctx, cfg, in, os.Stdout, os.Stderr)
	restore()
	stop()
	os.Exit(code)
}

// parseFlags returns the configuration, or an error for main to exit
// with (cli.Code): after -h, --version or a usage error.
func parseFlags(args []string, stdout, stderr io.Writer) (config, error) {
	cfg := config{tty: "/dev/tty", getenv: os.Getenv, now: time.Now, maxFPS: 10}
	fs := cli.New("lmn-dash", version, "[--listen ADDR] [--headless | --once] [--simple] < stream.ndjson", stdout, stderr)
	fs.NoArgs = "the stream comes on stdin"
	listenFlag := fs.String("listen", "", "serve Prometheus /metrics and /healthz on `ADDR` (\"9464\" or \":9464\" mean 127.0.0.1:9464); default off")
	fs.BoolVar(&cfg.headless, "headless", false, "no terminal output: serve --listen only, until end of input")
	fs.BoolVar(&cfg.once, "once", false, "read to end of input, print one final frame, exit")
	fs.BoolVar(&cfg.simple, "simple", false, "plain ASCII frames, no colour (also chosen by NO_COLOR, TERM=dumb, or stdout not a terminal)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: lmn-dash [--listen ADDR] [--headless | --once] [--simple]\n\n"+
			"Reads the lmn record stream on stdin and shows it. Keys of the dashboard (from /dev/tty): q quit,\n"+
			"p pause, ? help; plain mode reads no keys (Ctrl-C quits).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.headless && cfg.once {
		return cfg, fs.Usagef("--headless and --once exclude each other")
	}
	if *listenFlag != "" {
		addr, err := listen.Addr(*listenFlag)
		if err != nil {
			return cfg, fs.Usagef("--listen: %v", err)
		}
		cfg.listen = addr
	}
	if cfg.headless && cfg.listen == "" {
		return cfg, fs.Usagef("--headless needs --listen: without a terminal, metrics are the only output")
	}
	return cfg, nil
}
