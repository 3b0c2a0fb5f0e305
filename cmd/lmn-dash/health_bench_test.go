package main

import (
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// BenchmarkGateGreenToExit measures what a deploy tool waits for after the
// gate turns green: from the resolving record entering lmn-dash's stdin to
// `lmn-dash health --wait` returning 0, through the pipe reader, the model,
// the long poll and the client. Each iteration turns the gate red, starts
// the waiting client outside the timed region (50 ms to reach its long
// poll), then times the turn to green.
func BenchmarkGateGreenToExit(b *testing.B) {
	addr, w, done := startDash()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		turnRed(addr, w)
		exited := make(chan int)
		go func() { code, _, _ := runHealth("--listen", addr, "--wait", "--timeout", "30s"); exited <- code }()
		time.Sleep(50 * time.Millisecond)
		b.StartTimer()
		io.WriteString(w, gateRecord("resolved"))
		if code := <-exited; code != 0 {
			b.Fatalf("health --wait exited %d", code)
		}
	}
	b.StopTimer()
	w.Close()
	<-done
}

// turnRed writes a firing gate record and waits until the gate says so.
func turnRed(addr string, w io.Writer) {
	io.WriteString(w, gateRecord("firing"))
	for {
		if _, out, _ := runHealth("--listen", addr); strings.Contains(out, "not green") {
			return
		}
	}
}

// BenchmarkGatePolledToExit is the peer of BenchmarkGateGreenToExit: a
// deploy script that asks the gate once a second (`until lmn-dash health;
// do sleep 1; done`, as a liveness check written without a long poll
// would) instead of waiting on it. Same records, same turn to green.
func BenchmarkGatePolledToExit(b *testing.B) {
	addr, w, done := startDash()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		turnRed(addr, w)
		exited := make(chan struct{})
		go func() {
			for {
				if code, _, _ := runHealth("--listen", addr); code == 0 {
					close(exited)
					return
				}
				time.Sleep(time.Second)
			}
		}()
		time.Sleep(time.Duration(rand.Int64N(int64(time.Second)))) // the script's phase
		b.StartTimer()
		io.WriteString(w, gateRecord("resolved"))
		<-exited
	}
	b.StopTimer()
	w.Close()
	<-done
}
