// Command lmn-notify tells a person when healing needs them.
//
// It reads the lmn stream (newline-delimited JSON, see docs/stream.md) on
// stdin, usually from lmn-heal, and writes every record on unchanged to
// stdout, followed by its own notify records. From issue and heal records
// it decides what a person must hear of (a ladder that ended in advice,
// gave up, made things worse or did not recover, a silent collector, and
// the recovery of an issue they were told of; see internal/notify) and
// sends it to the configured channels: a JSON webhook, an ntfy topic, mail
// through the local sendmail -t, and journald's native socket. A slow or
// dead channel never holds up the stream. Channels come from flags or one
// JSON file (--config); secrets only from files. Downstream is usually
// lmn-dash. Diagnostics go to stderr. Exit status: 0 done, 1 runtime
// failure, 2 bad usage or configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/lmn-heal/lmn/internal/cli"
	"github.com/lmn-heal/lmn/internal/pipe"
	"github.com/lmn-heal/lmn/internal/record"
)

var version = "dev"

type config struct {
	configFile    string
	webhook       string
	ntfy          string
	ntfyTokenFile string
	mail          string
	journald      bool
	pauseFile     string
	version       bool

	// inline: input is a regular file, read ahead on a second core.
	inline bool

	// Set by tests, not by flags.
	host  string
	now   func() time.Time
	grace time.Duration // how long queued messages may take at the end
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := config{host: record.Hostname(), now: time.Now, grace: 5 * time.Second}
	fs := flag.NewFlagSet("lmn-notify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.configFile, "config", "", "configuration `file` (JSON): what to send, limits, channels (see docs/notify.md)")
	fs.StringVar(&cfg.webhook, "webhook", "", "post JSON to this webhook `URL` (a URL holding a token belongs in the config's url_file)")
	fs.StringVar(&cfg.ntfy, "ntfy", "", "publish to this ntfy topic `URL`")
	fs.StringVar(&cfg.ntfyTokenFile, "ntfy-token-file", "", "`file` holding the ntfy access token")
	fs.StringVar(&cfg.mail, "mail", "", "mail this `address` through the local sendmail -t")
	fs.BoolVar(&cfg.journald, "journald", false, "write entries to journald's native socket")
	fs.StringVar(&cfg.pauseFile, "pause-file", "", "the pause file messages name (default /run/luminous/pause, or the config's pause_file)")
	fs.BoolVar(&cfg.version, "version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: lmn-notify [flags] < with-heals.ndjson > with-notify.ndjson\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return cfg, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return cfg, nil
}

func main() {
	version = cli.Version(version) // -ldflags, else what the go command recorded
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lmn-notify:", err)
		os.Exit(2)
	}
	if cfg.version {
		fmt.Println(version)
		os.Exit(0)
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
