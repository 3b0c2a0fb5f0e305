package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

func testConfig(t *testing.T, args ...string) config {
	t.Helper()
	cfg, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatalf("flags %q: %v", args, err)
	}
	cfg.host = "notifier"
	cfg.grace = 5 * time.Second
	return cfg
}

// webhookServer counts the messages it takes, by event; while down is
// set it drops each connection without an answer.
type webhookServer struct {
	*httptest.Server
	down   atomic.Bool
	mu     sync.Mutex
	events []string
}

func newWebhookServer(t *testing.T) *webhookServer {
	s := &webhookServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.down.Load() {
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
			return
		}
		var body struct{ Event, Text string }
		json.NewDecoder(r.Body).Decode(&body)
		s.mu.Lock()
		s.events = append(s.events, body.Event)
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *webhookServer) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.events...)
}

func issueLine(id, state string, ts time.Time) string {
	return fmt.Sprintf(`{"kind":"issue","v":1,"ts":%q,"host":"box","src":"lmn-detect","id":%q,"rule":"unit_failed","subject":{"scope":"system","unit":"%s.service"},"state":%q,"severity":"warning","value":1,"threshold":1,"since":%q,"summary":"%s.service (system) has failed"}`,
		ts.Format(record.TimeLayout), id, id, state, ts.Format(record.TimeLayout), id)
}

func advisedLine(id string, ts time.Time) string {
	return fmt.Sprintf(`{"kind":"heal","v":1,"ts":%q,"host":"box","src":"lmn-heal","issue":%q,"rule":"unit_failed","subject":{"scope":"system","unit":"%s.service"},"action":"advise","step":2,"phase":"advised","tier":"advise","advice":"run as root: systemctl restart -- %s.service"}`,
		ts.Format(record.TimeLayout), id, id, id)
}

func sampleLine(seq int, ts time.Time) string {
	return fmt.Sprintf(`{"kind": "sample", "v":1,"ts":%q,"host":"box","src":"lmn-collect","seq":%d}`, ts.Format(record.TimeLayout), seq)
}

// notifyRecords returns the notify records of out, and the other lines.
func split(t *testing.T, out string) (notes []record.Notify, others []string) {
	t.Helper()
	for _, l := range strings.SplitAfter(out, "\n") {
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, `{"kind":"notify"`) {
			var n record.Notify
			if err := json.Unmarshal([]byte(l), &n); err != nil {
				t.Fatalf("notify record %s: %v", l, err)
			}
			notes = append(notes, n)
			continue
		}
		if !strings.HasPrefix(l, `{"kind":"start","v":1,"ts":`) || !strings.Contains(l, `"src":"lmn-notify"`) {
			others = append(others, l)
		}
	}
	return notes, others
}

func TestPassesEveryRecordOnAndTells(t *testing.T) {
	srv := newWebhookServer(t)
	ts := time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)
	valid := []string{
		sampleLine(1, ts) + "\n",
		issueLine("a", "firing", ts) + "\r\n", // CRLF and spacing kept as read
		advisedLine("a", ts) + "\n",
		`{"kind":"future","v":1,"ts":"2026-11-26T18:00:00Z","odd":  [1, 2]}` + "\n",
		issueLine("a", "resolved", ts.Add(time.Minute)) + "\n",
	}
	input := valid[0] + "garbage, not a record\n" + strings.Join(valid[1:], "")
	var out, errb bytes.Buffer
	code := run(context.Background(), testConfig(t, "--webhook", srv.URL+"/hook"), strings.NewReader(input), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	notes, others := split(t, out.String())
	if got := strings.Join(others, ""); got != strings.Join(valid, "") {
		t.Errorf("records passed on:\n%s\nwant:\n%s", got, strings.Join(valid, ""))
	}
	if !strings.Contains(errb.String(), "stdin line 2: not a JSON object") {
		t.Errorf("stderr does not report the garbage line: %s", errb.String())
	}
	if got := strings.Join(srv.got(), " "); got != "advised recovered" {
		t.Errorf("webhook got %q, want advised recovered", got)
	}
	if len(notes) != 2 || notes[0].Phase != "sent" || notes[0].Channel != "webhook" || notes[0].Host != "notifier" {
		t.Errorf("notify records %+v", notes)
	}
	if !strings.HasPrefix(out.String(), `{"kind":"start","v":1,`) || strings.Contains(out.String(), "/hook") {
		t.Errorf("start record missing, or it shows the URL path: %s", strings.SplitN(out.String(), "\n", 2)[0])
	}
}

func TestBadConfigurationExits2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.json")
	os.WriteFile(path, []byte(`{"webhook":{"urll":"http://x"}}`), 0o600)
	for _, args := range [][]string{
		{"--config", path},
		{"--webhook", "https://user:s3cr3t@hooks.example/x"},
		{"--ntfy-token-file", "/t"},
		{"--mail", "ops@example.org\nBcc: x@y"},
	} {
		var errb bytes.Buffer
		code := run(context.Background(), testConfig(t, args...), strings.NewReader(""), io.Discard, &errb)
		if code != 2 || strings.Contains(errb.String(), "s3cr3t") {
			t.Errorf("%q: exit %d, %s", args, code, errb.String())
		}
		if args[0] == "--config" && !strings.Contains(errb.String(), path+`: webhook.urll: unknown field (did you mean \"url\"?)`) {
			t.Errorf("error does not name the file and field: %s", errb.String())
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the filter and the workers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestChannelDownTenMinutes runs the stage in a bubble of fake time: one
// sample a second for ten minutes and an issue advised every 20 s, while
// the webhook drops every connection. Every record comes out, in order,
// as it comes in; the channel's queue is bounded and its drops are
// counted; when the webhook is back, what is queued is delivered.
func TestChannelDownTenMinutes(t *testing.T) {
	srv := newWebhookServer(t) // outside the bubble: its goroutines wait on the network
	srv.down.Store(true)
	path := filepath.Join(t.TempDir(), "notify.json")
	os.WriteFile(path, []byte(`{"queue":8,"burst":100,"webhook":{"url":"`+srv.URL+`/hook"}}`), 0o600)
	synctest.Test(t, func(t *testing.T) {
		pr, pw := io.Pipe()
		var out syncBuffer
		done := make(chan int)
		go func() { done <- run(context.Background(), testConfig(t, "--config", path), pr, &out, io.Discard) }()
		var want []string
		start := time.Now()
		for i := range 600 {
			ts := start.Add(time.Duration(i) * time.Second)
			lines := []string{sampleLine(i, ts)}
			if i%20 == 0 {
				id := fmt.Sprintf("u%02d", i/20)
				lines = append(lines, issueLine(id, "firing", ts), advisedLine(id, ts))
			}
			for _, l := range lines {
				io.WriteString(pw, l+"\n")
				want = append(want, l+"\n")
			}
			synctest.Wait()
			if _, others := split(t, out.String()); len(others) != len(want) {
				t.Fatalf("at %ds %d records out, want %d: the pipe is held up", i, len(others), len(want))
			}
			time.Sleep(time.Second)
		}
		srv.down.Store(false)
		time.Sleep(2 * time.Minute) // the longest backoff is 1m
		pw.Close()
		if code := <-done; code != 0 {
			t.Fatalf("exit %d", code)
		}
		notes, others := split(t, out.String())
		if strings.Join(others, "") != strings.Join(want, "") {
			t.Fatal("records lost or changed")
		}
		var sent, dropped int
		for _, n := range notes {
			switch n.Phase {
			case "sent":
				sent++
			case "dropped":
				dropped = n.DroppedTotal
			case "failed":
				t.Errorf("given up within retry.for: %+v", n)
			}
		}
		// 30 advised issues: one in flight and 8 queued survive the
		// outage, the other 21 were dropped and reported.
		if got := len(srv.got()); sent != 9 || got != 9 || dropped != 21 {
			t.Errorf("sent %d, webhook got %d, dropped %d; want 9, 9, 21", sent, got, dropped)
		}
	})
}

func TestStormOfIssuesGivesAHandfulOfMessages(t *testing.T) {
	srv := newWebhookServer(t)
	synctest.Test(t, func(t *testing.T) {
		pr, pw := io.Pipe()
		done := make(chan int)
		var out syncBuffer
		go func() { done <- run(context.Background(), testConfig(t, "--webhook", srv.URL), pr, &out, io.Discard) }()
		w := bufio.NewWriter(pw)
		start := time.Now()
		for i := range 1000 { // 1000 issues in a minute
			ts := start.Add(time.Duration(i) * 60 * time.Millisecond)
			id := fmt.Sprintf("s%03d", i)
			fmt.Fprintf(w, "%s\n%s\n", issueLine(id, "firing", ts), advisedLine(id, ts))
			w.Flush()
			time.Sleep(60 * time.Millisecond)
		}
		time.Sleep(2 * time.Minute)
		pw.Close()
		<-done
		got := srv.got()
		if len(got) > 12 || len(got) < 2 || got[len(got)-1] != "digest" {
			t.Errorf("1000 issues in a minute: the webhook got %d messages: %v", len(got), got)
		}
	})
}
