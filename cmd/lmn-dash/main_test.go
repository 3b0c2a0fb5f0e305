package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/cli"
)

// TestMain lets the test binary run as lmn-dash itself, so the terminal
// tests drive the real program in a real pseudo-terminal.
func TestMain(m *testing.M) {
	if os.Getenv("LMN_DASH_BE_MAIN") == "1" {
		main()
		return
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

const stream = "../../internal/dash/testdata/stream.ndjson"

func testConfig(env map[string]string) config {
	cfg, err := parseFlags(nil, io.Discard, io.Discard)
	if err != nil {
		panic("default flags rejected")
	}
	cfg.getenv = func(k string) string { return env[k] }
	cfg.now = func() time.Time { return time.Date(2026, 11, 26, 18, 45, 3, 200e6, time.UTC) }
	return cfg
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--version"}, 0, "dev\n"},
		{[]string{"-h"}, 0, ""},
		{[]string{"--bogus"}, 2, ""},
		{[]string{"file.ndjson"}, 2, ""},
		{[]string{"--headless"}, 2, ""},
		{[]string{"--headless", "--once", "--listen", "9464"}, 2, ""},
		{[]string{"--listen", "x:y:z"}, 2, ""},
		{[]string{"--listen", "9464", "--headless"}, -1, ""},
		{[]string{"--once", "--simple"}, -1, ""},
	} {
		var stdout, stderr bytes.Buffer
		cfg, err := parseFlags(tc.args, &stdout, &stderr)
		code := -1
		if err != nil {
			code = cli.Code(err)
		}
		if code != tc.code || stdout.String() != tc.out {
			t.Errorf("%v: code %d stdout %q, want %d %q (stderr %s)", tc.args, code, stdout.String(), tc.code, tc.out, stderr.String())
		}
		if code == 2 && stderr.Len() == 0 {
			t.Errorf("%v: usage error without a message", tc.args)
		}
		if code == -1 && tc.args[0] == "--listen" && cfg.listen != "127.0.0.1:9464" {
			t.Errorf("%v: listen %q", tc.args, cfg.listen)
		}
	}
}

func TestOnceSimple(t *testing.T) {
	f, err := os.Open(stream)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out, errOut bytes.Buffer
	cfg := testConfig(map[string]string{"COLUMNS": "120"})
	cfg.once = true
	if code := run(context.Background(), cfg, f, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	frame := out.String()
	for _, want := range []string{"nixos-lab", "fresh 3s", "input ended", "CRIT disk_usage mount=/", "Healing", "breaker journal_vacuum"} {
		if !strings.Contains(frame, want) {
			t.Errorf("frame lacks %q:\n%s", want, frame)
		}
	}
	if strings.ContainsRune(frame, '\x1b') {
		t.Error("escape sequences in a frame written to a non-terminal")
	}
	if first, _, _ := strings.Cut(frame, "\n"); len(first) != 120 {
		t.Errorf("first row is %d wide, want COLUMNS=120", len(first))
	}
	if !strings.Contains(errOut.String(), "stdin line 46: not a JSON object") {
		t.Errorf("rejected line not reported with its number: %s", errOut.String())
	}
}

// TestSimpleLive: stdout not a terminal, no --once: frames as records
// arrive, a last one at end of input, exit 0.
func TestSimpleLive(t *testing.T) {
	r, w := io.Pipe()
	var out bytes.Buffer
	cfg := testConfig(nil)
	done := make(chan int)
	go func() { done <- run(context.Background(), cfg, r, &out, io.Discard) }()
	data, err := os.ReadFile(stream)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("did not end at end of input")
	}
	frames := strings.Split(strings.TrimSuffix(out.String(), "\n\n"), "\n\n")
	if last := frames[len(frames)-1]; !strings.Contains(last, "input ended") || !strings.Contains(last, "disk_fill_trend") {
		t.Errorf("last frame:\n%s", last)
	}
}

// TestHeadless serves metrics from a live pipe, then ends at end of input.
func TestHeadless(t *testing.T) {
	r, w := io.Pipe()
	cfg := testConfig(nil)
	cfg.headless = true
	cfg.listen = "127.0.0.1:0"
	addrc := make(chan string, 1)
	cfg.onListen = func(a string) { addrc <- a }
	var out bytes.Buffer
	done := make(chan int)
	go func() { done <- run(context.Background(), cfg, r, &out, io.Discard) }()
	addr := <-addrc
	data, err := os.ReadFile(stream)
	if err != nil {
		t.Fatal(err)
	}
	go w.Write(data)
	var body []byte
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(body, []byte(`lmn_issue_firing{id="t-44b0"`)) {
			break
		}
	}
	if !bytes.Contains(body, []byte(`lmn_heal_actions_total{action="journal_vacuum",tier="privd",outcome="failed"} 1`)) {
		t.Errorf("metrics after the whole stream:\n%s", body)
	}
	w.Close()
	select {
	case code := <-done:
		if code != 0 || out.Len() != 0 {
			t.Errorf("exit %d, stdout %q", code, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("headless did not end at end of input")
	}
}

// TestStopBySignal: a cancelled context (SIGINT, SIGTERM) ends a quiet pipe
// with status 0.
func TestStopBySignal(t *testing.T) {
	r, w := io.Pipe()
	defer w.Close()
	cfg := testConfig(nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- run(ctx, cfg, r, io.Discard, io.Discard) }()
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("did not stop")
	}
}

func TestListenBusy(t *testing.T) {
	cfg := testConfig(nil)
	cfg.once = true
	cfg.listen = "256.0.0.1:1"
	var errOut bytes.Buffer
	if code := run(context.Background(), cfg, strings.NewReader(""), io.Discard, &errOut); code != 1 {
		t.Errorf("exit %d, want 1: %s", code, errOut.String())
	}
}

// stuckWriter is a terminal that stops taking output until released.
type stuckWriter struct {
	release chan struct{}
	writes  chan struct{}
	buf     bytes.Buffer
}

func (s *stuckWriter) Write(p []byte) (int, error) {
	select {
	case s.writes <- struct{}{}:
	default:
	}
	<-s.release
	return s.buf.Write(p)
}

// TestSlowOutputDropsFrames: while the output is stuck mid-frame, the
// whole stream is still read (the pipe never backs up); once the output
// moves again, the last frame shows the end of the stream.
func TestSlowOutputDropsFrames(t *testing.T) {
	r, w := io.Pipe()
	out := &stuckWriter{release: make(chan struct{}), writes: make(chan struct{}, 1)}
	cfg := testConfig(nil)
	done := make(chan int)
	go func() { done <- run(context.Background(), cfg, r, out, io.Discard) }()
	data, err := os.ReadFile(stream)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	first := 0 // the first frame comes with the first sample
	for !bytes.Contains(lines[first], []byte(`"kind":"sample"`)) {
		first++
	}
	w.Write(bytes.Join(lines[:first+1], nil))
	select {
	case <-out.writes: // the first frame is now stuck in Write
	case <-time.After(20 * time.Second):
		t.Fatal("no frame written")
	}
	wrote := make(chan error)
	go func() {
		_, err := w.Write(bytes.Join(lines[first+1:], nil))
		wrote <- err
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the stream backed up behind a stuck terminal")
	}
	w.Close()
	close(out.release)
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
	frames := strings.Split(strings.TrimSuffix(out.buf.String(), "\n\n"), "\n\n")
	if len(frames) > 3 {
		t.Errorf("%d frames drawn for a stuck terminal; want the stuck one and the last", len(frames))
	}
	if last := frames[len(frames)-1]; !strings.Contains(last, "disk_fill_trend") {
		t.Errorf("last frame misses the end of the stream:\n%s", last)
	}
}

// TestClosedOutput: a closed stdout (EPIPE) ends lmn-dash quietly with 0.
func TestClosedOutput(t *testing.T) {
	for _, once := range []bool{true, false} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		f, err := os.Open(stream)
		if err != nil {
			t.Fatal(err)
		}
		cfg := testConfig(nil)
		cfg.once = once
		var errOut bytes.Buffer
		if code := run(context.Background(), cfg, f, w, &errOut); code != 0 || errOut.Len() > 0 && strings.Contains(errOut.String(), "write frame") {
			t.Errorf("once=%v: exit %d, stderr %s", once, code, errOut.String())
		}
		f.Close()
		w.Close()
	}
}

// lockedBuffer is an output the test reads while lmn-dash writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSimplePrintsChanges is issue 15's "a full frame every second":
// plain mode writes one frame, then only what changed (the header's
// facts, each new event as a whole line), and a last frame at end of
// input; it lists no keys, as it reads none.
func TestSimplePrintsChanges(t *testing.T) {
	r, w := io.Pipe()
	out := &lockedBuffer{}
	cfg := testConfig(nil)
	done := make(chan int)
	go func() { done <- run(context.Background(), cfg, r, out, io.Discard) }()
	data, err := os.ReadFile(stream)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	first := 0
	for !bytes.Contains(lines[first], []byte(`"kind":"sample"`)) {
		first++
	}
	w.Write(bytes.Join(lines[:first+1], nil))
	waitOut := func(want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(out.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in:\n%s", want, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitOut("- System ")
	w.Write(bytes.Join(lines[first+1:], nil))
	waitOut("WARNING disk_fill_trend mount=/ / full in about 3h")
	time.Sleep(2500 * time.Millisecond) // a frame a second would show by now
	live := out.String()
	if n := strings.Count(live, "- System "); n != 1 {
		t.Errorf("%d frames while the stream flows, want the first only:\n%s", n, live)
	}
	if !strings.Contains(live, "lmn-dash nixos-lab  collect+ detect+ heal+  issues 2  rejected 1\n") {
		t.Errorf("no summary line of the header's facts:\n%s", live)
	}
	w.Close()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
	all := out.String()
	if !strings.Contains(all[len(live):], "input ended") || strings.Count(all, "- System ") != 2 {
		t.Errorf("no last frame at end of input:\n%s", all[len(live):])
	}
	if strings.Contains(all, "q quit") || strings.Contains(all, "? help") {
		t.Errorf("plain mode lists keys it does not read:\n%s", all)
	}
}
