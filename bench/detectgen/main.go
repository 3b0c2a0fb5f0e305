// Command detectgen writes a synthetic but realistic sample stream for
// benchmarking lmn-detect: it takes the first sample of a stream recorded
// with lmn-collect (or, without -template, a built-in sample shaped like a
// small NixOS machine) and walks its values through n ticks, deterministically.
// With -decode FILE it instead times a bare json.Unmarshal of every line of
// FILE into record.Sample: the floor lmn-detect is compared with.
//
// It reads only the template or decode file, writes the stream to stdout,
// and talks to no other process.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/lmn-heal/lmn/internal/detect/detecttest"
	"github.com/lmn-heal/lmn/internal/record"
)

func main() {
	n := flag.Int("n", 86400, "number of samples")
	step := flag.Duration("step", time.Second, "time between samples")
	template := flag.String("template", "", "a stream `file` whose first sample is the template (default: built-in)")
	decode := flag.String("decode", "", "time a bare decode of every line of `file` instead")
	flag.Parse()
	if *decode != "" {
		if err := decodeFloor(*decode, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "detectgen:", err)
			os.Exit(1)
		}
		return
	}
	tmpl := detecttest.Template()
	if *template != "" {
		s, err := firstSample(*template)
		if err != nil {
			fmt.Fprintln(os.Stderr, "detectgen:", err)
			os.Exit(2)
		}
		tmpl = s
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	for s := range detecttest.Walk(tmpl, *n, *step, 1, 0.01) {
		w.Write(detecttest.Line(&s))
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "detectgen:", err)
		os.Exit(1)
	}
}

func firstSample(path string) (record.Sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return record.Sample{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var s record.Sample
		if json.Unmarshal(sc.Bytes(), &s) == nil && s.Kind == record.KindSample {
			return s, nil
		}
	}
	return record.Sample{}, fmt.Errorf("%s: no sample", path)
}

func decodeFloor(path string, out io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	start := time.Now()
	n := 0
	for sc.Scan() {
		var s record.Sample
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			return fmt.Errorf("%s line %d: %w", path, n+1, err)
		}
		n++
	}
	d := time.Since(start)
	fmt.Fprintf(out, "bare decode: %d samples in %.2fs = %.0f samples/s\n", n, d.Seconds(), float64(n)/d.Seconds())
	return sc.Err()
}
