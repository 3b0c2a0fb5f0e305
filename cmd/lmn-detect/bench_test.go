package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/detect/detecttest"
	"github.com/lmn-heal/lmn/internal/record"
)

const benchSamples = 3600

// benchStream is an hour of samples at 1 s, as one input.
func benchStream(b *testing.B) ([]byte, [][]byte) {
	b.Helper()
	var all bytes.Buffer
	var lines [][]byte
	for s := range detecttest.Walk(detecttest.Template(), benchSamples, time.Second, 1, 0.01) {
		l := detecttest.Line(&s)
		lines = append(lines, l)
		all.Write(l)
	}
	return all.Bytes(), lines
}

// BenchmarkDecodeFloor is the floor lmn-detect is measured against: a bare
// json.Unmarshal of each line into record.Sample.
func BenchmarkDecodeFloor(b *testing.B) {
	all, lines := benchStream(b)
	b.SetBytes(int64(len(all)))
	for b.Loop() {
		for _, l := range lines {
			var s record.Sample
			if err := json.Unmarshal(l, &s); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*benchSamples)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkDetect runs the same stream through lmn-detect's run with the
// default rules: read, pass on, decode, evaluate, write.
func BenchmarkDetect(b *testing.B) {
	all, _ := benchStream(b)
	cfg := testConfig()
	b.SetBytes(int64(len(all)))
	for b.Loop() {
		if code := run(context.Background(), cfg, bytes.NewReader(all), io.Discard, io.Discard); code != 0 {
			b.Fatalf("run: exit %d", code)
		}
	}
	b.ReportMetric(float64(b.N*benchSamples)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkPassThrough is the part of BenchmarkDetect lmn-detect cannot
// change: record.Reader validating each line and the writer passing it on.
func BenchmarkPassThrough(b *testing.B) {
	all, _ := benchStream(b)
	b.SetBytes(int64(len(all)))
	for b.Loop() {
		w := record.NewWriter(io.Discard)
		f := record.Filter{In: record.NewReader(bytes.NewReader(all), nil), Out: w}
		if err := f.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchSamples)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkDetectVsDecode interleaves the two measures above block by
// block, so that on a busy shared machine both see the same load; its
// detect/decode metric is the ratio the target is stated in (>= 0.5).
func BenchmarkDetectVsDecode(b *testing.B) {
	all, lines := benchStream(b)
	cfg := testConfig()
	var detect, decode time.Duration
	for b.Loop() {
		t0 := time.Now()
		for _, l := range lines {
			var s record.Sample
			if err := json.Unmarshal(l, &s); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		if code := run(context.Background(), cfg, bytes.NewReader(all), io.Discard, io.Discard); code != 0 {
			b.Fatalf("run: exit %d", code)
		}
		decode += t1.Sub(t0)
		detect += time.Since(t1)
	}
	n := float64(b.N * benchSamples)
	b.ReportMetric(n/detect.Seconds(), "detect-samples/s")
	b.ReportMetric(n/decode.Seconds(), "decode-samples/s")
	b.ReportMetric(decode.Seconds()/detect.Seconds(), "detect/decode")
}
