package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/lmn-heal/lmn/internal/cli"
	"github.com/lmn-heal/lmn/internal/dash/term"
	"github.com/lmn-heal/lmn/internal/summary"
)

// `lmn-dash summary` answers "what did lmn do in the last hour, today"
// from a recorded stream (the NixOS module's record log, a tee of the
// pipe), as monit summary does for monit: internal/summary reads it.

// summaryCmd runs `lmn-dash summary [--since D|today|TIME] [--json]
// [FILE...]` and returns the exit status: 0, 1 when a file cannot be
// read, 2 for usage.
func summaryCmd(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := cli.New("lmn-dash summary", version, "[--since D|today|TIME] [--json] [FILE...] (or < records.ndjson)", stdout, stderr)
	fs.TakesArgs = true
	since := fs.String("since", "", "report the last `D` of the stream (1h, 30m), \"today\", or since an RFC 3339 time; default the whole stream")
	asJSON := fs.Bool("json", false, "write the report as JSON")
	if err := fs.Parse(args); err != nil {
		return cli.Code(err)
	}
	span, err := parseSpan(*since)
	if err != nil {
		return cli.Code(fs.Usagef("--since %q: %v", *since, err))
	}
	var in io.Reader = stdin
	if fs.NArg() > 0 {
		var readers []io.Reader
		for _, name := range fs.Args() {
			f, err := os.Open(name)
			if err != nil {
				fmt.Fprintf(stderr, "lmn-dash summary: %v\n", err)
				return 1
			}
			defer f.Close()
			readers = append(readers, f)
		}
		in = io.MultiReader(readers...)
	} else if term.IsTerminal(stdin.Fd()) {
		return cli.Code(fs.Usagef("stdin is a terminal: give the recorded stream, such as the module's record log (lmn-dash summary --since 1h < records.ndjson)"))
	}
	rep, err := summary.Read(in, span)
	if err == nil {
		if *asJSON {
			err = rep.WriteJSON(stdout)
		} else {
			err = rep.WriteText(stdout)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "lmn-dash summary: %v\n", err)
		return 1
	}
	return 0
}

// parseSpan reads --since: a duration back from the stream's latest
// record, "today", or an RFC 3339 time.
func parseSpan(s string) (summary.Span, error) {
	switch {
	case s == "":
		return summary.Span{}, nil
	case s == "today":
		return summary.Span{Today: true}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return summary.Span{}, errors.New("must be positive")
		}
		return summary.Span{Since: d}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return summary.Span{From: t}, nil
	}
	return summary.Span{}, errors.New(`want a duration (1h, 30m), "today" or an RFC 3339 time`)
}
