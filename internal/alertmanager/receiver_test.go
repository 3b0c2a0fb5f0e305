package alertmanager

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// queue is the receiver's sink in these tests: it keeps what it is given,
// and refuses while full is set.
type queue struct {
	mu   sync.Mutex
	got  []record.Issue
	full bool
}

func (q *queue) take(recs []record.Issue) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.full {
		return false
	}
	q.got = append(q.got, recs...)
	return true
}

func (q *queue) issues() []record.Issue {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]record.Issue(nil), q.got...)
}

// serveReceiver runs a receiver on a real loopback socket.
func serveReceiver(t *testing.T, secret string, to Timeouts) (*Receiver, *queue, string) {
	t.Helper()
	q := &queue{}
	rc := &Receiver{
		Host: Host{Names: []string{"web1"}}, HostName: "web1", Queue: q.take,
		Now: func() time.Time { return time.Date(2026, 12, 4, 18, 53, 29, 0, time.UTC) },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if secret != "" {
		rc.Secret = []byte(secret)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, rc.Handler(), to, rc.Log) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return rc, q, "http://" + ln.Addr().String()
}

func post(t *testing.T, url, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestReceiver(t *testing.T) {
	rc, q, base := serveReceiver(t, "", DefaultTimeouts)
	firing := string(readFile(t, "alertmanager-0.25-firing.json"))
	resolved := string(readFile(t, "alertmanager-0.25-resolved.json"))
	for i, want := range []string{"accepted 1, duplicates 0", "accepted 0, duplicates 1", "accepted 0, duplicates 1"} {
		code, body := post(t, base+Path, firing)
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("delivery %d: %d %q; want 200 %q", i+1, code, body, want)
		}
	}
	for i, want := range []string{"accepted 1", "accepted 0, duplicates 1"} {
		if code, body := post(t, base+Path, resolved); code != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("resolved delivery %d: %d %q; want %q", i+1, code, body, want)
		}
	}
	got := q.issues()
	if len(got) != 2 || got[0].State != record.StateFiring || got[1].State != record.StateResolved || got[0].ID != got[1].ID {
		t.Fatalf("queued %+v; want one firing and one resolved issue of one id", got)
	}
	other := strings.ReplaceAll(firing, "web1:9113", "web2:9113")
	if code, body := post(t, base+Path, other); code != http.StatusOK || !strings.Contains(body, "other host 1") {
		t.Errorf("alert for web2: %d %q", code, body)
	}
	c := rc.Counts()
	if c.Requests != 6 || c.Accepted != 2 || c.Duplicates != 3 || c.OtherHost != 1 || len(q.issues()) != 2 {
		t.Errorf("counts %v, queued %d", c, len(q.issues()))
	}
}

func TestReceiverRefuses(t *testing.T) {
	rc, q, base := serveReceiver(t, "", DefaultTimeouts)
	huge := `{"alerts":[` + strings.Repeat(`{"status":"firing","labels":{"alertname":"A"},"startsAt":"2026-11-26T10:00:00Z"},`, MaxBody/70) + `{}]}`
	for body, want := range map[string]string{
		"garbage":        "not a JSON object",
		`{"receiver":1}`: "alerts: missing",
		huge:             "larger than 1048576 bytes",
	} {
		if code, text := post(t, base+Path, body); code != http.StatusBadRequest || !strings.Contains(text, want) {
			t.Errorf("%.30q: %d %q; want 400 %q", body, code, text, want)
		}
	}
	resp, err := http.Get(base + Path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET %s: %s; want 405", Path, resp.Status)
	}
	if code, _ := post(t, base+"/other", "{}"); code != http.StatusNotFound {
		t.Errorf("POST /other: %d; want 404", code)
	}
	if c := rc.Counts(); c.BadRequests != 3 || c.Accepted != 0 || len(q.issues()) != 0 {
		t.Errorf("counts %v, queued %d; want 3 bad requests and nothing queued", c, len(q.issues()))
	}
}

func TestReceiverAuth(t *testing.T) {
	firing := string(readFile(t, "alertmanager-0.25-firing.json"))
	t.Run("bearer", func(t *testing.T) {
		rc, q, base := serveReceiver(t, "s3cret", DefaultTimeouts)
		for _, h := range [][]string{nil, {"Authorization", "Bearer wrong"}, {"Authorization", "Bearer s3cre"},
			{"Authorization", "s3cret"}, {"Authorization", "Basic czNjcmV0"}} {
			if code, _ := post(t, base+Path, firing, h...); code != http.StatusUnauthorized {
				t.Errorf("with %q: %d; want 401", h, code)
			}
		}
		if code, body := post(t, base+Path, firing, "Authorization", "Bearer s3cret"); code != http.StatusOK {
			t.Errorf("with the token: %d %s", code, body)
		}
		if c := rc.Counts(); c.Unauthorized != 5 || len(q.issues()) != 1 {
			t.Errorf("counts %v, queued %d", c, len(q.issues()))
		}
	})
	t.Run("basic", func(t *testing.T) {
		rc, q, base := serveReceiver(t, "am:pa:ss", DefaultTimeouts)
		req, _ := http.NewRequest(http.MethodPost, base+Path, strings.NewReader(firing))
		req.SetBasicAuth("am", "pa:ss")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(q.issues()) != 1 {
			t.Errorf("basic auth am:pa:ss: %s, queued %d", resp.Status, len(q.issues()))
		}
		req, _ = http.NewRequest(http.MethodPost, base+Path, strings.NewReader(firing))
		req.SetBasicAuth("am", "wrong")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" || rc.Counts().Unauthorized != 1 {
			t.Errorf("wrong password: %s %q", resp.Status, resp.Header.Get("WWW-Authenticate"))
		}
	})
}

// TestReceiverQueueFull: with the queue full the sender is told to retry
// (503) and nothing is remembered, so the retry is accepted.
func TestReceiverQueueFull(t *testing.T) {
	rc, q, base := serveReceiver(t, "", DefaultTimeouts)
	firing := string(readFile(t, "alertmanager-0.25-firing.json"))
	q.mu.Lock()
	q.full = true
	q.mu.Unlock()
	if code, _ := post(t, base+Path, firing); code != http.StatusServiceUnavailable {
		t.Fatalf("full queue: %d; want 503", code)
	}
	q.mu.Lock()
	q.full = false
	q.mu.Unlock()
	if code, body := post(t, base+Path, firing); code != http.StatusOK || !strings.Contains(body, "accepted 1") {
		t.Fatalf("retry: %d %q", code, body)
	}
	if c := rc.Counts(); c.Full != 1 || c.Accepted != 1 {
		t.Errorf("counts %v", c)
	}
}

// TestReceiverSlowClients: a client that sends its headers or its body too
// slowly is cut off by the server's timeouts, and the receiver goes on
// answering others.
func TestReceiverSlowClients(t *testing.T) {
	to := Timeouts{Header: 200 * time.Millisecond, Read: 400 * time.Millisecond, Write: time.Second, Idle: time.Second}
	rc, q, base := serveReceiver(t, "", to)
	addr := strings.TrimPrefix(base, "http://")
	firing := string(readFile(t, "alertmanager-0.25-firing.json"))
	for name, start := range map[string]string{
		"headers": "POST /alertmanager HTTP/1.1\r\nHost: x\r\n",
		"body":    fmt.Sprintf("POST /alertmanager HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(firing), firing[:10]),
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, start); err != nil {
			t.Fatal(err)
		}
		// The rest never comes: the server must close the connection
		// on its own. The deadline only bounds a broken server.
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		rest, err := io.ReadAll(bufio.NewReader(c))
		c.Close()
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("slow %s: the server kept the connection open", name)
		}
		if strings.Contains(string(rest), "200 OK") {
			t.Errorf("slow %s: answered %q", name, rest)
		}
	}
	if code, _ := post(t, base+Path, firing); code != http.StatusOK {
		t.Errorf("after slow clients: %d", code)
	}
	if c := rc.Counts(); c.Accepted != 1 || len(q.issues()) != 1 {
		t.Errorf("counts %v", c)
	}
}

func TestLoadSecret(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]string{"tok\n": "tok", "  am:pw  \nsecond line\n": "am:pw", "\n": "", "": ""} {
		p := filepath.Join(dir, "s")
		os.WriteFile(p, []byte(content), 0o600)
		got, err := LoadSecret(p)
		if string(got) != want || (err != nil) != (want == "") {
			t.Errorf("LoadSecret(%q) = %q, %v; want %q", content, got, err, want)
		}
	}
	if _, err := LoadSecret(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file is an error")
	}
}
