package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/privd"
	"github.com/lmn-heal/lmn/internal/privproto"
	"github.com/lmn-heal/lmn/internal/systemd"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func run(ctx context.Context, c config, stdin io.Reader, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("src", "lmn-privd")
	switch c.cmd {
	case "keygen":
		if err := privproto.WriteKey(c.args[0]); err != nil {
			log.Error("keygen", "err", err)
			return exitFailure
		}
		return exitOK
	}
	cfg, err := loadConfig(c)
	if err != nil {
		log.Error("configuration", "err", err)
		return exitUsage
	}
	switch c.cmd {
	case "verify-audit":
		return verifyAudit(c, cfg, c.args[0], stdout, log)
	case "pause", "resume":
		return control(ctx, c, cfg, stdout, log)
	case "print-config":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(cfg)
		return exitOK
	case "exec":
		return execOnce(ctx, cfg, c.args, c.allowRejected, stdout, log)
	}
	key, err := loadKey(c, cfg)
	if err != nil {
		log.Error("key", "err", err)
		return exitUsage
	}
	if c.cmd == "ping" {
		return ping(ctx, c, cfg, key, stdout, log)
	}
	return serve(ctx, c, cfg, key, log)
}

func loadConfig(c config) (privd.Config, error) {
	if c.config == "" {
		return privd.DefaultConfig(), nil
	}
	// Run through sudo, the configuration decides which binaries run as
	// root: it must be root's and writable by root only.
	if c.cmd == "exec" && viaSudo() {
		if err := privd.CheckRootOwned(c.config); err != nil {
			return privd.Config{}, err
		}
	}
	return privd.LoadConfig(c.config)
}

// loadKey prefers --key-file, then the systemd credential, then the
// configuration's key_file.
func loadKey(c config, cfg privd.Config) ([]byte, error) {
	path := c.keyFile
	if dir := os.Getenv("CREDENTIALS_DIRECTORY"); path == "" && dir != "" {
		path = filepath.Join(dir, privd.CredentialName)
	}
	if path == "" {
		path = cfg.KeyFile
	}
	if path == "" {
		return nil, errors.New("no key: give --key-file, set key_file in the config, or run under systemd with LoadCredential=hmac.key")
	}
	return privproto.LoadKey(path)
}

func serve(ctx context.Context, c config, cfg privd.Config, key []byte, log *slog.Logger) int {
	srv, err := privd.New(cfg, key, log)
	if err != nil {
		log.Error("start", "err", err)
		return exitFailure
	}
	defer srv.Close()
	ln, err := privd.Activated()
	where := "socket activation"
	if err == nil && ln == nil {
		where = cmp(c.listen, cfg.Socket.Path)
		ln, err = privd.Listen(where, cfg.Socket.Group)
		if err == nil {
			defer os.Remove(where)
		}
	}
	if err != nil {
		log.Error("listen", "err", err)
		return exitFailure
	}
	srv.Started(version)
	srv.OnStatus = func(st string) { systemd.Notify("STATUS=" + st) }
	status := "serving on " + where
	if _, err := systemd.Notify(systemd.Ready + "\nSTATUS=" + status); err != nil {
		log.Warn("notify", "err", err)
	}
	log.Info("ready", "listen", where, "audit_log", cfg.AuditLog, "version", version)
	stopDog := watchdog(ctx, srv, log)
	err = srv.Serve(ctx, ln)
	stopDog()
	systemd.Notify(systemd.Stopping + "\nSTATUS=stopping")
	if err != nil {
		log.Error("serve", "err", err)
		return exitFailure
	}
	log.Info("stopped")
	return exitOK
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// watchdog sends WATCHDOG=1 at half the interval systemd expects, while
// the server is healthy (its audit log not stuck).
func watchdog(ctx context.Context, srv *privd.Server, log *slog.Logger) func() {
	d, ok := systemd.WatchdogInterval()
	if !ok {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(d / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if !srv.Healthy(d / 4) {
					log.Error("audit log stuck: not feeding the watchdog")
					continue
				}
				if _, err := systemd.Notify(systemd.Watchdog); err != nil {
					log.Warn("watchdog", "err", err)
				}
			}
		}
	}()
	return cancel
}

// execOnce runs one action in this process (for `sudo -n`), with the same
// validation, rate limit and audit as the daemon, and prints the response.
func execOnce(ctx context.Context, cfg privd.Config, args []string, allowRejected bool, stdout io.Writer, log *slog.Logger) int {
	req := action.Request{Action: args[0], Params: map[string]string{}}
	for _, kv := range args[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			log.Error("exec: want key=value", "arg", kv)
			return exitUsage
		}
		if _, dup := req.Params[k]; dup {
			log.Error("exec: parameter given twice", "key", k)
			return exitUsage
		}
		req.Params[k] = v
	}
	if viaSudo() {
		os.Setenv("PATH", trustedPath)
	}
	srv, err := privd.New(cfg, nil, log)
	if err != nil {
		log.Error("exec", "err", err)
		return exitFailure
	}
	defer srv.Close()
	// The parent is sudo (or the caller itself); protect the sudos above
	// it and the real caller too.
	peer := &privd.Peer{UID: envInt("SUDO_UID", os.Getuid()), GID: envInt("SUDO_GID", os.Getgid()),
		PID: os.Getppid(), Via: "exec", Chain: callerChain(cfg.Env.ProcRoot, os.Getppid()), AllowRejected: allowRejected}
	stop := context.AfterFunc(ctx, srv.Abort)
	defer stop()
	resp := srv.Execute(peer, req)
	json.NewEncoder(stdout).Encode(resp)
	if resp.OK {
		return exitOK
	}
	if resp.Code == privproto.CodeInvalid {
		return exitUsage
	}
	return exitFailure
}

// trustedPath is the PATH of `exec` run through sudo: the system's own
// directories, never the caller's (sudo keeps the caller's PATH unless
// sudoers sets secure_path), since a relative command in the configuration
// ("nscd", or every default) would otherwise be the caller's program run
// as root. A variable so tests can aim it at a directory of stand-ins.
var trustedPath = "/run/current-system/sw/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// viaSudo reports whether this process was started by sudo, which sets
// SUDO_UID itself: the caller is then not root and not trusted.
func viaSudo() bool { return os.Getenv("SUDO_UID") != "" }

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n >= 0 {
		return n
	}
	return def
}

func ping(ctx context.Context, c config, cfg privd.Config, key []byte, stdout io.Writer, log *slog.Logger) int {
	cl := privproto.Client{Socket: cmp(c.listen, cfg.Socket.Path), Key: key, Timeout: 5 * time.Second}
	start := time.Now()
	if err := cl.Ping(ctx); err != nil {
		log.Error("ping", "socket", cl.Socket, "err", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "ok %s %v\n", cl.Socket, time.Since(start).Round(time.Microsecond))
	return exitOK
}

// callerChain returns the processes above pid (sudo, this process's
// parent) that must not be killed either: every sudo in a row (with a
// terminal sudo runs the command under a second sudo, its monitor) and the
// first process above them, the real caller, unless that is pid 1.
func callerChain(procRoot string, pid int) []int {
	var chain []int
	for range 8 {
		comm, parent, err := action.ProcessParent(procRoot, pid)
		if err != nil || comm != "sudo" || parent <= 1 {
			return chain
		}
		chain = append(chain, parent)
		pid = parent
	}
	return chain
}
