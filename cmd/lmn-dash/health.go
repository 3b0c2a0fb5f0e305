package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/cli"
	lmnconfig "github.com/lmn-heal/lmn/internal/config"
	"github.com/lmn-heal/lmn/internal/dash"
	"github.com/lmn-heal/lmn/internal/dash/metrics"
	"github.com/lmn-heal/lmn/internal/listen"
)

// `lmn-dash health` is the gate deploy tools call after a switch. It lives
// in lmn-dash because the running lmn-dash (the pipe's end, --listen) is
// what holds the whole stream: it asks that one over HTTP (GET /gate, a
// long poll) rather than reading the stream itself, so the answer is the
// same one /metrics and the dashboard give.

// healthConfig is the parsed `lmn-dash health` command line.
type healthConfig struct {
	addr    string
	wait    bool
	timeout time.Duration
}

// retryPause is the pause after the dashboard could not be reached (at
// boot it may not listen yet).
const retryPause = 200 * time.Millisecond

func parseHealth(args []string, stdout, stderr io.Writer) (healthConfig, error) {
	c := healthConfig{}
	// Exit 0 green, 1 not (the failing checks named), 2 usage.
	fs := cli.New("lmn-dash health", version, "[--listen ADDR] [--wait [--timeout D]]", stdout, stderr)
	listenAddr := fs.String("listen", "127.0.0.1:9464", "the `ADDR` the pipe's lmn-dash serves on (its --listen)")
	fs.BoolVar(&c.wait, "wait", false, "wait until the gate is green, at most --timeout")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Minute, "with --wait: give up after `D`, naming the failing checks")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	addr, err := listen.Addr(*listenAddr)
	switch {
	case err != nil:
		return c, fs.Usagef("--listen: %v", err)
	case c.timeout <= 0:
		return c, fs.Usagef("--timeout must be positive")
	}
	c.addr = addr
	return c, nil
}

// health asks the gate, with --wait until it is green or the timeout, and
// returns the exit status.
func health(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parseHealth(args, stdout, stderr)
	if err != nil {
		return cli.Code(err)
	}
	deadline := time.Now().Add(c.timeout)
	url := "http://" + c.addr + "/gate"
	for {
		left := time.Until(deadline)
		wait := time.Duration(0)
		if c.wait {
			wait = min(max(left, 0), metrics.MaxGateWait/2)
		}
		g, err := askGate(ctx, url, wait)
		switch {
		case err == nil && g.Green:
			fmt.Fprintln(stdout, "green:", describe(g.Checks))
			return 0
		case ctx.Err() != nil:
			return 1
		case !c.wait || time.Until(deadline) <= 0:
			why := strings.Join(g.Failing(), "; ")
			if err != nil {
				why = fmt.Sprintf("lmn-dash at %s unreachable: %v", c.addr, err)
			}
			fmt.Fprintf(stdout, "not green after %s: %s\n", lmnconfig.Duration(c.timeout), why)
			return 1
		case err != nil:
			pause(ctx, min(retryPause, time.Until(deadline)))
		}
	}
}

// askGate is one GET /gate?wait=…; a red gate is an answer, not an error.
func askGate(ctx context.Context, url string, wait time.Duration) (dash.Gate, error) {
	ctx, cancel := context.WithTimeout(ctx, wait+5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s?wait=%s", url, wait), nil)
	if err != nil {
		return dash.Gate{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return dash.Gate{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
		return dash.Gate{}, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var g dash.Gate
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&g); err != nil {
		return dash.Gate{}, fmt.Errorf("GET %s: %w", url, err)
	}
	if len(g.Checks) == 0 {
		return dash.Gate{}, errors.New("GET " + url + ": a gate without checks")
	}
	return g, nil
}

func describe(checks []dash.GateCheck) string {
	parts := make([]string, len(checks))
	for i, c := range checks {
		parts[i] = c.Name + ": " + c.Detail
	}
	return strings.Join(parts, "; ")
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
