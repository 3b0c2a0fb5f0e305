package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/lmn-heal/lmn/internal/cli"
	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/recordlog"
)

// `lmn-dash record --file FILE` is the record log's writer, a stage of the pipe
// like tee: every record it reads goes on to stdout unchanged and into
// FILE, which it keeps bounded itself (internal/recordlog), so no
// logrotate is needed; `lmn-dash summary` reads it back.

// recordCmd runs `lmn-dash record --file FILE [--max-size N] [--keep N]` and
// returns the exit status: 0 at the end of input or a closed downstream,
// 1 when the log cannot be written, 2 for usage.
func recordCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := cli.New("lmn-dash record", version, "--file FILE [--max-size N] [--keep N] < stream.ndjson > stream.ndjson", stdout, stderr)
	fs.NoArgs = "the record log is --file FILE, the stream comes on stdin"
	file := fs.String("file", "", "the record log `FILE` (rotated: FILE.1, FILE.2, …)")
	maxSize := fs.String("max-size", "32M", "begin a new file before FILE passes `N` bytes (K, M, G: 64M)")
	keep := fs.Int("keep", 3, "rotated files to keep, FILE.1 to FILE.`N`")
	if err := fs.Parse(args); err != nil {
		return cli.Code(err)
	}
	size, err := recordlog.ParseSize(*maxSize)
	switch {
	case err != nil:
		return cli.Code(fs.Usagef("--max-size: %v", err))
	case *keep < 0:
		return cli.Code(fs.Usagef("--keep %d: must be 0 or more", *keep))
	case *file == "":
		return cli.Code(fs.Usagef("--file: the record log is needed"))
	}
	log, err := recordlog.Open(*file, size, *keep)
	if err != nil {
		return cli.Code(fs.Usagef("%v", err))
	}
	defer log.Close()
	out := bufio.NewWriterSize(stdout, 64<<10)
	in := record.NewReader(stdin, func() { out.Flush() })
	for {
		l, err := in.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintf(stderr, "lmn-dash record: %v\n", err)
			return 1
		}
		if err := log.Append(withNewline(l.Raw)); err != nil {
			fmt.Fprintf(stderr, "lmn-dash record: %v\n", err)
			return 1
		}
		if _, err := out.Write(l.Raw); err != nil {
			return closed(err, stderr)
		}
	}
	if err := out.Flush(); err != nil {
		return closed(err, stderr)
	}
	if n := in.Rejected(); n > 0 {
		fmt.Fprintf(stderr, "lmn-dash record: %d input lines were not records, left out\n", n)
	}
	return 0
}

// withNewline returns raw ending in a newline (the last line of an input
// may lack it).
func withNewline(raw []byte) []byte {
	if len(raw) > 0 && raw[len(raw)-1] == '\n' {
		return raw
	}
	return append(raw[:len(raw):len(raw)], '\n')
}

// closed is the exit status after a failed write downstream: 0 for a
// closed pipe, as every stage.
func closed(err error, stderr io.Writer) int {
	if record.IsBrokenPipe(err) {
		return 0
	}
	fmt.Fprintf(stderr, "lmn-dash record: %v\n", err)
	return 1
}
