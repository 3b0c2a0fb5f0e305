package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/privd"
	"github.com/lmn-heal/lmn/internal/privproto"
)

// control pauses or resumes lmn-privd: as root, by writing the line to
// the audit log itself (the daemon and every exec read it before they
// admit an action); otherwise over the socket with the client's key.
func control(ctx context.Context, c config, cfg privd.Config, stdout io.Writer, log *slog.Logger) int {
	req := action.Request{Action: c.cmd}
	if c.reason != "" {
		req.Params = map[string]string{"reason": c.reason}
	}
	var out string
	if os.Geteuid() == 0 && c.listen == "" {
		srv, err := privd.New(cfg, nil, log)
		if err != nil {
			log.Error(c.cmd, "err", err)
			return exitFailure
		}
		defer srv.Close()
		resp := srv.Control(&privd.Peer{UID: 0, GID: os.Getgid(), PID: os.Getpid(), Via: "local"}, req)
		if !resp.OK {
			log.Error(c.cmd, "code", resp.Code, "err", resp.Error)
			return exitFailure
		}
		out = resp.Result.Output
	} else {
		key, err := loadKey(c, cfg)
		if err != nil {
			log.Error("key", "err", err)
			return exitUsage
		}
		cl := privproto.Client{Socket: cmp(c.listen, cfg.Socket.Path), Key: key, Timeout: 5 * time.Second}
		res, err := cl.Do(ctx, req)
		if err != nil {
			log.Error(c.cmd, "socket", cl.Socket, "err", err)
			return exitFailure
		}
		out = res.Output
	}
	fmt.Fprintln(stdout, out)
	return exitOK
}

// verifyAudit checks the audit log at path with its key and sealed head,
// and says what it found: exit 0 when it verifies, 1 when it does not.
func verifyAudit(c config, cfg privd.Config, path string, stdout io.Writer, log *slog.Logger) int {
	keyPath := path + ".key"
	switch {
	case c.auditKey != "":
		keyPath = c.auditKey
	case cfg.AuditKey != "":
		keyPath = cfg.AuditKey
	}
	rep, err := privd.VerifyFile(path, keyPath)
	if rep.Torn > 0 {
		fmt.Fprintf(stdout, "%s: torn tail: %d bytes after line %d, a write cut short (removed, with a repair line, at lmn-privd's next start)\n", path, rep.Torn, rep.Lines)
	}
	for _, e := range rep.Open {
		fmt.Fprintf(stdout, "%s: open: line %d: intent %s (%s %s) has no outcome: still running, or lmn-privd died (closed at its next start)\n",
			path, e.Seq, e.ID, e.Action, e.Target)
	}
	if err != nil {
		fmt.Fprintf(stdout, "%s: BAD: %v\n", path, err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "%s: ok, %d lines, head sealed at line %d, %d open intents\n", path, rep.Lines, rep.HeadSeq, len(rep.Open))
	return exitOK
}
