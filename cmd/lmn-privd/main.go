// Command lmn-privd is lmn's privileged broker, the only part that runs as
// root. It performs a short allowlist of healing actions (internal/action)
// for one unprivileged client, lmn-heal.
//
// It reads requests from its Unix socket (systemd socket activation or
// --listen PATH; protocol in internal/privproto), its JSON configuration
// (--config) and its HMAC key ($CREDENTIALS_DIRECTORY/hmac.key or
// --key-file). It writes a hash-chained audit log, diagnostics to stderr,
// and readiness, status and watchdog messages to $NOTIFY_SOCKET. Its peers
// are lmn-heal (the client, over the socket or through `sudo -n lmn-privd
// exec`) and the service manager.
//
// Usage:
//
//	lmn-privd [serve] [--config FILE] [--listen PATH] [--key-file PATH]
//	lmn-privd [--config FILE] [--allow-rejected] exec ACTION key=value...
//	lmn-privd keygen PATH
//	lmn-privd ping [--listen PATH] [--key-file PATH]
//	lmn-privd [--config FILE] [--audit-key PATH] verify-audit FILE
//	lmn-privd [--config FILE] pause [--reason TEXT]
//	lmn-privd [--config FILE] resume
//	lmn-privd print-config [--config FILE]
package main

import (
	"context"
	"io"
	"os"
	"strings"

	"github.com/lmn-heal/lmn/internal/cli"
	"github.com/lmn-heal/lmn/internal/record"
)

var version = "dev"

// config is the parsed command line.
type config struct {
	cmd      string
	config   string
	listen   string
	keyFile  string
	auditKey string
	reason   string
	args     []string // positional arguments after the subcommand

	// allowRejected: a person's override of the record of rejected
	// generations, for exec only.
	allowRejected bool
}

var subcommands = []string{"serve", "exec", "keygen", "ping", "verify-audit", "print-config", "pause", "resume"}

// parseArgs accepts flags before and after the subcommand. An error ends
// the binary with cli.Code(err).
func parseArgs(args []string, stdout, stderr io.Writer) (config, error) {
	var c config
	fs := cli.New("lmn-privd", version, "["+strings.Join(subcommands, "|")+"] [flags] [args]", stdout, stderr)
	fs.TakesArgs = true
	fs.StringVar(&c.config, "config", "", "JSON configuration `file` (defaults: print-config)")
	fs.StringVar(&c.listen, "listen", "", "socket `path` to listen on (serve) or connect to (ping) when not socket-activated")
	fs.StringVar(&c.keyFile, "key-file", "", "HMAC key `file` (default $CREDENTIALS_DIRECTORY/hmac.key, then the config's key_file)")
	fs.StringVar(&c.auditKey, "audit-key", "", "audit key `file` (verify-audit; default the config's audit_key, else FILE.key)")
	fs.StringVar(&c.reason, "reason", "", "why healing is paused (pause)")
	fs.BoolVar(&c.allowRejected, "allow-rejected", false, "exec: a person's override: switch_generation may switch to a generation lmn rejected, past its bounds")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	rest := fs.Args()
	c.cmd = "serve"
	if len(rest) > 0 {
		c.cmd, rest = rest[0], rest[1:]
		// After "exec" come only ACTION and key=value pairs: a sudoers
		// rule "lmn-privd --config FILE exec *" must not let the caller
		// add flags such as another --config.
		if c.cmd != "exec" {
			if err := fs.Parse(rest); err != nil {
				return c, err
			}
			rest = fs.Args()
		}
	}
	known := false
	for _, s := range subcommands {
		known = known || s == c.cmd
	}
	if !known {
		return c, fs.Usagef("unknown subcommand %q (want one of %s)", c.cmd, strings.Join(subcommands, ", "))
	}
	c.args = rest
	if c.allowRejected && c.cmd != "exec" {
		return c, fs.Usagef("--allow-rejected is for exec (before it: lmn-privd --allow-rejected exec ACTION …)")
	}
	want := map[string][2]int{"serve": {0, 0}, "exec": {1, 1 << 10}, "keygen": {1, 1}, "ping": {0, 0},
		"verify-audit": {1, 1}, "print-config": {0, 0}, "pause": {0, 0}, "resume": {0, 0}}[c.cmd]
	if len(rest) < want[0] || len(rest) > want[1] {
		return c, fs.Usagef("%s: %d arguments, want %d..%d", c.cmd, len(rest), want[0], want[1])
	}
	return c, nil
}

func main() {
	version = cli.Version(version) // -ldflags, else what the go command recorded
	cfg, err := parseArgs(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		os.Exit(cli.Code(err))
	}
	ctx, stop := record.NotifyContext(context.Background())
	code := run(ctx, cfg, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
