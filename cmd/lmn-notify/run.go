package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"

	"github.com/lmn-heal/lmn/internal/notify"
	"github.com/lmn-heal/lmn/internal/record"
)

// run is lmn-notify without the process around it: 0 ok, 1 runtime
// failure, 2 usage or configuration error.
func run(ctx context.Context, cfg config, stdin io.Reader, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("src", notify.Src)
	nc, err := settings(cfg)
	if err != nil {
		log.Error("bad configuration", "err", err)
		return 2
	}
	out := record.NewWriter(stdout)
	n, err := notify.New(nc, out, log, cfg.host)
	if err != nil {
		log.Error("bad configuration", "err", err)
		return 2
	}
	if len(nc.Channels()) == 0 {
		log.Warn("no channel configured: records are passed on, nobody is told")
	}
	start := record.NewStart(notify.Src, version, cfg.now(), nc.Settings())
	start.Host = cfg.host
	if err := out.Emit(start); err != nil {
		return finish(log, out, err)
	}
	// Workers outlive a stop by signal by up to cfg.grace, to deliver
	// what is queued.
	n.Start(context.WithoutCancel(ctx))
	in := record.NewReader(stdin, func() { out.Flush() })
	in.OnReject = func(err error) { log.Warn("rejected line", "err", err) }
	f := record.Filter{In: in, Out: out, Handle: n.Handle, ReadAhead: cfg.inline}
	err = f.Run(ctx)
	n.Close(cfg.grace)
	return finish(log, out, err)
}

// settings is the configuration file, or the defaults, with the flags
// added.
func settings(cfg config) (notify.Config, error) {
	nc := notify.DefaultConfig()
	if cfg.configFile != "" {
		var err error
		if nc, err = notify.Load(cfg.configFile); err != nil {
			return nc, err
		}
	}
	if cfg.webhook != "" {
		if err := noCredentials("--webhook", cfg.webhook); err != nil {
			return nc, err
		}
		nc.Webhook = &notify.Webhook{URL: cfg.webhook}
	}
	if cfg.ntfy != "" {
		if err := noCredentials("--ntfy", cfg.ntfy); err != nil {
			return nc, err
		}
		nc.Ntfy = &notify.Ntfy{URL: cfg.ntfy, TokenFile: cfg.ntfyTokenFile}
	} else if cfg.ntfyTokenFile != "" {
		if nc.Ntfy == nil {
			return nc, errors.New("--ntfy-token-file without --ntfy or an ntfy channel in --config")
		}
		nc.Ntfy.TokenFile = cfg.ntfyTokenFile
	}
	if cfg.mail != "" {
		if nc.Mail == nil {
			nc.Mail = &notify.Mail{}
		}
		nc.Mail.To = append(nc.Mail.To, cfg.mail)
	}
	if cfg.journald && nc.Journald == nil {
		nc.Journald = &notify.Journald{}
	}
	if cfg.pauseFile != "" {
		nc.PauseFile = cfg.pauseFile
	}
	return nc, nc.Check()
}

// noCredentials refuses a URL with a user or password on the command
// line, where every user of the machine can read it.
func noCredentials(flagName, s string) error {
	u, err := url.Parse(s)
	if err == nil && u.User != nil {
		return errors.New(flagName + ": the URL holds credentials, which the command line shows to every user; put it in a file named by the config's url_file")
	}
	return nil
}

func finish(log *slog.Logger, out *record.Writer, err error) int {
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if err != nil && !record.IsBrokenPipe(err) {
		log.Error("stopped", "err", err)
		return 1
	}
	return 0
}
