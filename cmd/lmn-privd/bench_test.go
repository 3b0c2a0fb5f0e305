package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkDaemonRSS starts the daemon as a subprocess, sends it 100 000
// authenticated pings per iteration, and reports its resident memory
// (VmRSS) before and after, and the growth over the second half.
func BenchmarkDaemonRSS(b *testing.B) {
	e := newEnv(b, "")
	cmd := startDaemon(b, e)
	waitFor(b, "socket", func() bool { _, err := os.Stat(e.socket); return err == nil })
	c := client(b, e)
	ctx := context.Background()
	ping := func(n int) {
		for range n {
			if err := c.Ping(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	ping(100) // warm up
	before := vmRSS(b, cmd.Process.Pid)
	var mid int
	for b.Loop() {
		ping(50_000)
		mid = vmRSS(b, cmd.Process.Pid)
		ping(50_000)
	}
	after := vmRSS(b, cmd.Process.Pid)
	b.ReportMetric(float64(before), "rss-before-KiB")
	b.ReportMetric(float64(after), "rss-after-KiB")
	b.ReportMetric(float64(after-mid), "rss-growth-2nd-half-KiB")
}

func vmRSS(b testing.TB, pid int) int {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
