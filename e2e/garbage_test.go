package e2e

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// garbage is what the relays put between the stages: every kind of line a
// reader must reject, and JSON objects that are not valid records of their
// kind.
var garbage = [][]byte{
	[]byte("not json at all\n"),
	[]byte(`{"kind":"sample","v":1,"ts":` + "\n"), // cut in the middle
	[]byte("[1,2,3]\n"),
	[]byte("\n"),
	[]byte("\x00\xff\xfe binary\n"),
	[]byte("\"a string\"\n"),
	[]byte(`{"kind":"sample","v":1,"ts":"yesterday","host":"x","src":"lmn-collect"}` + "\n"),
	[]byte(`{"kind":"issue","v":1,"ts":"2026-01-01T00:00:00Z","state":42}` + "\n"),
	[]byte(`{"kind":"heal","v":1,"phase":["x"]}` + "\r\n"),
	[]byte(`{"kind":"mystery","v":99}` + "\n"),
	append(append([]byte(`{"kind":"sample","pad":"`), bytes.Repeat([]byte("x"), record.MaxLine+10)...), "\"}\n"...),
}

// injectGarbage returns an injector putting the next garbage line after every
// second line, and a cut-off record when the upstream ends.
func injectGarbage() Injector {
	i := 0
	return func(n int, line []byte) []byte {
		if line == nil { // end of upstream: it stopped in the middle of a line
			return []byte(`{"kind":"sample","v":1,"ts":"2026-11-26T18:40:47Z","cpu":{"busy`)
		}
		if n%2 != 0 {
			return nil
		}
		g := garbage[i%len(garbage)]
		i++
		return g
	}
}

// TestGarbageInThePipe is scenario 5: malformed lines between every pair of
// stages and an upstream stopped in the middle (SIGTERM to lmn-collect, and
// a record cut off without its newline at the end of each stage's input).
// Nothing crashes; every record a stage wrote reaches the next stage's
// output unchanged and in order; no malformed line leaks through; lmn-dash
// counts every valid record heal wrote and reports the rejected lines; and
// every binary exits 0.
//
// It needs no root: lmn-collect reads this machine's /proc and /sys and
// lists no units, and lmn-heal may only advise (--tiers advise), so the
// host is never changed.
func TestGarbageInThePipe(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	release := make(chan struct{})
	inject := map[int]Injector{1: injectGarbage(), 2: injectGarbage(), 3: injectGarbage()}
	p := startPipe(t, inject,
		Stage{Name: "collect", Args: []string{bin(t, "lmn-collect"), "--interval", "100ms", "--units", "none"}},
		Stage{Name: "detect", Args: []string{bin(t, "lmn-detect")}},
		Stage{Name: "heal", Args: []string{bin(t, "lmn-heal"), "--tiers", "advise", "--sudo", "never",
			"--privd-socket", filepath.Join(dir, "no-privd.sock"), "--key-file", filepath.Join(dir, "no.key"),
			"--state", filepath.Join(dir, "heal.state")}},
		Stage{Name: "dash", Args: []string{bin(t, "lmn-dash"), "--headless", "--listen", addr}, HoldInput: release},
	)
	collect := p.Proc("collect")
	if _, err := collect.Out.Wait(30*time.Second, "12 samples", func(l []Captured) bool {
		return countKind(l, record.KindSample) >= 12
	}); err != nil {
		t.Fatalf("collect: %v", err)
	}
	// The downstream stages must have seen them too before the upstream
	// stops, so the stop really comes in the middle of the stream.
	if _, err := p.Proc("heal").Out.Wait(30*time.Second, "6 samples through heal", func(l []Captured) bool {
		return countKind(l, record.KindSample) >= 6
	}); err != nil {
		t.Fatalf("heal: %v", err)
	}
	// Stop the upstream in the middle of the stream. Once heal has
	// written its last record, lmn-dash (its input held open) must have
	// counted every valid record heal wrote.
	p.Signal("collect", syscall.SIGTERM)
	p.Proc("heal").Wait(t, 20*time.Second)
	want := 0
	for _, c := range p.Proc("heal").Out.All() {
		if !isGarbage(c.Raw) {
			want++
		}
	}
	got, rejected := dashCounts(t, addr, want)
	if got != want {
		t.Errorf("lmn-dash counted %d records; heal wrote %d valid ones", got, want)
	}
	if rejected == 0 {
		t.Errorf("lmn-dash rejected no line, though the relay put garbage before it")
	}
	close(release)
	p.Wait(20 * time.Second)
	p.RequireClean()

	for i := 0; i < 2; i++ { // collect → detect → heal
		up, down := p.Procs[i], p.Procs[i+1]
		in, out := up.Out.All(), down.Out.All()
		if missing, ok := isSubsequence(in, out); !ok {
			t.Errorf("%s lost a record of %s: %.200s", down.Name, up.Name, missing)
		}
		for _, c := range out {
			if !isRecord(c.Raw) {
				t.Errorf("%s wrote a line that is not a record: %.100q", down.Name, c.Raw)
			}
		}
		if n := countKind(out, record.KindSample); n < countKind(in, record.KindSample) {
			t.Errorf("%s wrote %d samples, read %d valid ones", down.Name, n, countKind(in, record.KindSample))
		}
		// Each stage rejected what was not a record, saying where.
		if !strings.Contains(down.Stderr(), "line ") {
			t.Errorf("%s did not report the rejected lines; stderr:\n%s", down.Name, lastLines(down.Stderr(), 10))
		}
		t.Logf("%s: %d records in, %d lines out", down.Name, len(in), len(out))
	}
	for _, pr := range p.Procs[1:3] {
		starts := decode[record.Start](t, pr.Out.All(), record.KindStart)
		if n := countSrc(starts, "lmn-"+pr.Name); n != 1 {
			t.Errorf("%s wrote %d start records of its own, want 1", pr.Name, n)
		}
	}
}

// isGarbage reports whether raw is one of the injected lines.
func isGarbage(raw []byte) bool {
	for _, g := range garbage {
		if bytes.Equal(bytes.TrimRight(raw, "\r\n"), bytes.TrimRight(g, "\r\n")) {
			return true
		}
	}
	return false
}

// dashCounts polls lmn-dash's /metrics (up to 10 s) until it has counted
// want records, and returns the records counted (start, sample, issue and
// heal) and the rejected lines.
func dashCounts(t testing.TB, addr string, want int) (records, rejected int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		records, rejected = 0, 0
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, line := range strings.Split(string(body), "\n") {
				name, value, ok := strings.Cut(line, " ")
				n, err := strconv.ParseFloat(value, 64)
				if !ok || err != nil {
					continue
				}
				switch {
				case strings.HasPrefix(name, "lmn_stream_records_total{"):
					records += int(n)
				case name == "lmn_stream_rejected_lines_total":
					rejected = int(n)
				}
			}
		}
		if records >= want || time.Now().After(deadline) {
			return records, rejected
		}
	}
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

func countSrc(starts []record.Start, src string) int {
	n := 0
	for _, s := range starts {
		if s.Src == src {
			n++
		}
	}
	return n
}
