package notify

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/config"
	"github.com/lmn-heal/lmn/internal/record"
)

// reports collects the notify records a worker writes.
type reports struct {
	mu   sync.Mutex
	recs []record.Notify
	got  chan record.Notify
}

func newReports() *reports { return &reports{got: make(chan record.Notify, 1000)} }

func (r *reports) add(n record.Notify) {
	r.mu.Lock()
	r.recs = append(r.recs, n)
	r.mu.Unlock()
	r.got <- n
}

// wait returns the next record of phase, failing after a while.
func (r *reports) wait(t *testing.T, phase string) record.Notify {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case n := <-r.got:
			if n.Phase == phase {
				return n
			}
		case <-timeout:
			t.Fatalf("no %s record within 20s; have %+v", phase, r.recs)
		}
	}
}

// fastRetry retries quickly, so real-time tests stay short.
func fastRetry() *Config {
	c := DefaultConfig()
	c.Retry = Retry{First: config.Duration(20 * time.Millisecond), Max: config.Duration(100 * time.Millisecond),
		For: config.Duration(time.Second), Timeout: config.Duration(300 * time.Millisecond)}
	return &c
}

func startWorker(t *testing.T, ch channel, cfg *Config) (*worker, *reports) {
	t.Helper()
	r := newReports()
	w := newWorker(ch, cfg, r.add, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.run(ctx, nil); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w, r
}

func advisedMessage(t *testing.T) *Message {
	t.Helper()
	d := newDecider(testConfig(), time.Now)
	msgs := feed(t, d, issueRec("a", "unit_failed", record.StateFiring, "a.service (system) has failed"),
		healRec("a", record.PhaseAdvised, ""))
	if len(msgs) != 1 {
		t.Fatalf("told %s, want one message", told(msgs))
	}
	return msgs[0]
}

const secretPath = "/hooks/T000/B000/s3cr3t-t0ken"

func TestWebhookPostsTextAndFields(t *testing.T) {
	bodies := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != secretPath || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request "+r.Method+" "+r.URL.Path, 400)
			return
		}
		b, _ := io.ReadAll(r.Body)
		bodies <- b
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	ch, err := newHTTPChannel("webhook", srv.URL+secretPath, nil, buildWebhook)
	if err != nil {
		t.Fatal(err)
	}
	w, r := startWorker(t, ch, fastRetry())
	w.put(advisedMessage(t))
	sent := r.wait(t, record.NotifySent)
	if sent.Attempts != 1 || sent.Event != "advised" || len(sent.Issues) != 1 || sent.Issues[0] != "a" || sent.LatencyMS == nil {
		t.Errorf("sent record %+v", sent)
	}
	var body map[string]any
	if err := json.Unmarshal(<-bodies, &body); err != nil {
		t.Fatal(err)
	}
	text, _ := body["text"].(string)
	if !strings.HasPrefix(text, "[web1] needs a person: a.service (system) has failed\n") ||
		!strings.Contains(text, "What to do: run as root: systemctl restart -- a.service") {
		t.Errorf("text %q", text)
	}
	for k, want := range map[string]any{"event": "advised", "host": "web1", "issue": "a", "rule": "unit_failed",
		"tier": "advise", "advice": "run as root: systemctl restart -- a.service", "pause_file": "/run/luminous/pause"} {
		if body[k] != want {
			t.Errorf("body[%q] = %v, want %v", k, body[k], want)
		}
	}
	if s, _ := body["subject"].(map[string]any); s["unit"] != "a.service" {
		t.Errorf("subject %v", body["subject"])
	}
}

// ntfyServer stands in for ntfy, which Debian does not package: a
// standard-library server that accepts a publish only as docs.ntfy.sh/publish
// describes it (POST or PUT to /<topic> of [-_A-Za-z0-9]{1,64}; the
// message as the body, at most 4096 bytes; X-Title, X-Priority 1–5 or a
// priority name, X-Tags a comma list; the token as "Authorization: Bearer")
// and answers as ntfy does, with the message as JSON.
func ntfyServer(t *testing.T, token string, got chan<- *http.Request) *httptest.Server {
	topic := regexp.MustCompile(`^/[-_A-Za-z0-9]{1,64}$`)
	prio := map[string]bool{"1": true, "2": true, "3": true, "4": true, "5": true,
		"min": true, "low": true, "default": true, "high": true, "max": true, "urgent": true}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		fail := func(code int, why string) {
			t.Errorf("ntfy: %s", why)
			http.Error(w, `{"code":40001,"http":400,"error":"`+why+`"}`, code)
		}
		switch {
		case r.Method != http.MethodPost && r.Method != http.MethodPut:
			fail(405, "method "+r.Method)
		case !topic.MatchString(r.URL.Path):
			fail(404, "topic "+r.URL.Path)
		case token != "" && r.Header.Get("Authorization") != "Bearer "+token:
			fail(401, "authorization "+r.Header.Get("Authorization"))
		case r.Header.Get("X-Title") == "":
			fail(400, "no X-Title")
		case !prio[r.Header.Get("X-Priority")]:
			fail(400, "X-Priority "+r.Header.Get("X-Priority"))
		case !regexp.MustCompile(`^[a-z0-9_]+(,[a-z0-9_]+)*$`).MatchString(r.Header.Get("X-Tags")):
			fail(400, "X-Tags "+r.Header.Get("X-Tags"))
		case len(body) == 0 || len(body) > 4096:
			fail(400, "message of "+strconv.Itoa(len(body))+" bytes")
		default:
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			got <- r
			json.NewEncoder(w).Encode(map[string]any{"id": "hwQ2YpKdmg", "time": time.Now().Unix(), "event": "message",
				"topic": strings.TrimPrefix(r.URL.Path, "/"), "message": string(body), "title": r.Header.Get("X-Title")})
		}
	}))
}

func TestNtfyPublishesAsNtfyDocumentsIt(t *testing.T) {
	got := make(chan *http.Request, 1)
	srv := ntfyServer(t, "tk_s3cr3tt0ken", got)
	defer srv.Close()
	ch, err := newHTTPChannel("ntfy", srv.URL+"/lmn_alerts", secrets{"tk_s3cr3tt0ken"}, buildNtfy("tk_s3cr3tt0ken"))
	if err != nil {
		t.Fatal(err)
	}
	w, r := startWorker(t, ch, fastRetry())
	m := advisedMessage(t)
	m.Summary = "café.service (system) has failed" // a title ntfy must get RFC 2047 encoded
	m.Advice = strings.Repeat("long advice ", 1000)
	w.put(m)
	r.wait(t, record.NotifySent)
	req := <-got
	title, err := new(mime.WordDecoder).DecodeHeader(req.Header.Get("X-Title"))
	if err != nil || title != "[web1] needs a person: café.service (system) has failed" {
		t.Errorf("X-Title %q decodes to %q, %v", req.Header.Get("X-Title"), title, err)
	}
	if req.Header.Get("X-Priority") != "4" || req.Header.Get("X-Tags") != "wrench,advised" {
		t.Errorf("priority %q tags %q", req.Header.Get("X-Priority"), req.Header.Get("X-Tags"))
	}
	body, _ := io.ReadAll(req.Body)
	if !strings.HasPrefix(string(body), "Host: web1. Issue a") || !strings.HasSuffix(string(body), "…") || len(body) > 4096 {
		t.Errorf("body %q…", body[:80])
	}
}

// bothHTTPChannels makes the webhook and the ntfy channel for a URL: the
// failure tests hold for each.
func bothHTTPChannels(t *testing.T, url string) map[string]channel {
	t.Helper()
	web, err := newHTTPChannel("webhook", url+secretPath, nil, buildWebhook)
	if err != nil {
		t.Fatal(err)
	}
	nt, err := newHTTPChannel("ntfy", url+"/s3cr3t_topic", secrets{"tk_s3cr3t"}, buildNtfy("tk_s3cr3t"))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]channel{"webhook": web, "ntfy": nt}
}

func TestRetryAfter500ThenDelivered(t *testing.T) {
	var calls atomic.Int32
	got := make(chan *http.Request, 10)
	ntfy := ntfyServer(t, "tk_s3cr3t", got)
	defer ntfy.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%2 == 1 {
			http.Error(w, "upstream hiccup", 500)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/s3cr3t_topic") {
			ntfy.Config.Handler.ServeHTTP(w, r) // answered as ntfy would
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	for kind, ch := range bothHTTPChannels(t, srv.URL) {
		w, r := startWorker(t, ch, fastRetry())
		w.put(advisedMessage(t))
		if sent := r.wait(t, record.NotifySent); sent.Attempts != 2 {
			t.Errorf("%s: sent after %d attempts, want 2 (500, then 200)", kind, sent.Attempts)
		}
	}
}

func TestServerThatNeverAnswersIsGivenUpWithoutHoldingAnyone(t *testing.T) {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-stop }))
	defer srv.Close()
	defer close(stop)
	ch := bothHTTPChannels(t, srv.URL)["webhook"]
	cfg := fastRetry()
	cfg.Queue = 4
	w, r := startWorker(t, ch, cfg)
	start := time.Now()
	for range 100 {
		w.put(advisedMessage(t))
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("100 puts to a hung channel took %v", d)
	}
	// The first drop is reported at once, later ones at most every 10s.
	if dropped := r.wait(t, record.NotifyDropped); dropped.Dropped != 1 || dropped.DroppedTotal != 1 {
		t.Errorf("first dropped record %+v", dropped)
	}
	w.mu.Lock()
	total := w.droppedTotal
	w.mu.Unlock()
	if total != 95 && total != 96 { // one in flight, four queued
		t.Errorf("%d of 100 dropped from a queue of 4", total)
	}
	failed := r.wait(t, record.NotifyFailed)
	if failed.Attempts < 2 || !strings.Contains(failed.Error, "deadline exceeded") {
		t.Errorf("failed record %+v", failed)
	}
	checkNoSecret(t, failed)
}

func TestServerThatIsDownIsRetriedThenGivenUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	for kind, ch := range bothHTTPChannels(t, "http://"+addr) {
		w, r := startWorker(t, ch, fastRetry())
		w.put(advisedMessage(t))
		failed := r.wait(t, record.NotifyFailed)
		if failed.Attempts < 3 || !strings.Contains(failed.Error, "connection refused") {
			t.Errorf("%s: failed record %+v, want several attempts refused", kind, failed)
		}
		checkNoSecret(t, failed)
	}
}

func TestClientErrorIsNotRetried(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such hook "+r.URL.Path, 404)
	}))
	defer srv.Close()
	for kind, ch := range bothHTTPChannels(t, srv.URL) {
		w, r := startWorker(t, ch, fastRetry())
		w.put(advisedMessage(t))
		failed := r.wait(t, record.NotifyFailed)
		if failed.Attempts != 1 || !strings.Contains(failed.Error, "HTTP 404") {
			t.Errorf("%s: failed record %+v, want one attempt and the 404", kind, failed)
		}
		checkNoSecret(t, failed)
	}
}

// checkNoSecret fails if a record carries the secret part of the URL.
func checkNoSecret(t *testing.T, n record.Notify) {
	t.Helper()
	b, _ := json.Marshal(n)
	if strings.Contains(string(b), "s3cr3t") {
		t.Errorf("record carries the secret: %s", b)
	}
}
