package main

import (
	"bytes"
	"context"
	"encoding/json"
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

	"github.com/lmn-heal/lmn/internal/alertmanager"
	"github.com/lmn-heal/lmn/internal/record"
)

// liveRun runs lmn-detect on a pipe with the receiver on an ephemeral
// loopback port; it returns stdin, stdout, the receiver's URL and a
// function that closes stdin and returns run's exit code.
func liveRun(t *testing.T, cfg config) (io.WriteCloser, *lockedBuffer, string, func() int) {
	t.Helper()
	cfg.live = true
	cfg.amListen = "127.0.0.1:0"
	addr := make(chan string, 1)
	cfg.onListen = func(a string) { addr <- a }
	in, w := io.Pipe()
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	code := make(chan int, 1)
	go func() { code <- run(context.Background(), cfg, in, out, errOut) }()
	var url string
	select {
	case a := <-addr:
		url = "http://" + a + alertmanager.Path
	case c := <-code:
		t.Fatalf("run exited %d before listening: %s", c, errOut)
	}
	return w, out, url, func() int {
		w.Close()
		c := <-code
		if t.Failed() {
			t.Logf("stderr:\n%s", errOut)
		}
		return c
	}
}

func alertBody(name, status string) string {
	return fmt.Sprintf(`{"version":"4","status":%q,"alerts":[{"status":%q,"labels":{"alertname":%q,"unit":"nginx.service"},`+
		`"annotations":{"summary":"%s is down"},"startsAt":"2026-11-26T00:00:00Z"}]}`, status, status, name, name)
}

func postAlert(t *testing.T, url, body string, header ...string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestReceiverJoinsStream: alerts posted while samples stream through
// become issue records in lmn-detect's output, in the order received, each
// a whole line, never between a sample and the issues it caused, and every
// input record is passed on in order.
func TestReceiverJoinsStream(t *testing.T) {
	stdin, out, url, finish := liveRun(t, testConfig())
	const alerts = 300
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range alerts {
			if code := postAlert(t, url, alertBody(fmt.Sprintf("A%03d", i), "firing")); code != http.StatusOK {
				t.Errorf("alert %d: %d", i, code)
			}
		}
	}()
	input := troubleStream()
	for _, line := range bytes.SplitAfter(input, []byte("\n")) {
		if _, err := stdin.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if code := finish(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	var passed []string
	var received []string
	inGroup := false // after a sample, before anything that is not its issue
	for i, l := range lines {
		var r struct {
			Kind, Src, Rule string
			TS              string `json:"ts"`
			Subject         map[string]string
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %d is not a whole record: %.80q", i+1, l)
		}
		switch {
		case r.Kind == record.KindIssue && r.Rule == alertmanager.Rule:
			received = append(received, r.Subject["alertname"])
			inGroup = false
		case r.Kind == record.KindIssue:
			if !inGroup {
				t.Errorf("line %d: issue %s of %s does not follow its sample directly", i+1, r.Rule, r.TS)
			}
		case r.Kind == record.KindSample:
			passed = append(passed, l)
			inGroup = true
		default:
			inGroup = false
		}
	}
	if len(received) != alerts {
		t.Fatalf("%d alert issues written; want %d", len(received), alerts)
	}
	for i, name := range received {
		if want := fmt.Sprintf("A%03d", i); name != want {
			t.Fatalf("alert issue %d is %s; want %s (order received)", i, name, want)
		}
	}
	var want []string
	for _, l := range strings.Split(strings.TrimSuffix(string(input), "\n"), "\n") {
		if strings.Contains(l, `"kind":"sample"`) {
			want = append(want, l)
		}
	}
	if len(passed) != len(want) {
		t.Fatalf("%d samples passed on; want %d", len(passed), len(want))
	}
	for i := range want {
		if passed[i] != want[i] {
			t.Fatalf("sample %d changed or out of order", i+1)
		}
	}
}

// TestReceiverDedupeAndResolve: the same alert twice is one issue; its
// resolve resolves it; a wrong token changes nothing; the start record
// names the bound address and that auth is on.
func TestReceiverDedupeAndResolve(t *testing.T) {
	cfg := testConfig()
	cfg.amToken = filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(cfg.amToken, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, out, url, finish := liveRun(t, cfg)
	auth := []string{"Authorization", "Bearer s3cret"}
	for _, c := range []struct {
		body   string
		header []string
		want   int
	}{
		{alertBody("NginxDown", "firing"), nil, http.StatusUnauthorized},
		{alertBody("NginxDown", "firing"), []string{"Authorization", "Bearer s3cre"}, http.StatusUnauthorized},
		{alertBody("NginxDown", "firing"), auth, http.StatusOK},
		{alertBody("NginxDown", "firing"), auth, http.StatusOK},
		{"{", auth, http.StatusBadRequest},
		{alertBody("NginxDown", "resolved"), auth, http.StatusOK},
		{alertBody("NginxDown", "resolved"), auth, http.StatusOK},
	} {
		if got := postAlert(t, url, c.body, c.header...); got != c.want {
			t.Errorf("%.40s with %q: %d; want %d", c.body, c.header, got, c.want)
		}
	}
	if code := finish(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := kindLines(t, out.String(), record.KindStart, record.KindIssue)
	if len(lines) != 3 {
		t.Fatalf("output:\n%s\nwant the start record, one firing and one resolved issue", out)
	}
	if !strings.Contains(lines[0], `"alertmanager_listen":"127.0.0.1:`) || !strings.Contains(lines[0], `"alertmanager_auth":true`) {
		t.Errorf("start record %s", lines[0])
	}
	var firing, resolved record.Issue
	json.Unmarshal([]byte(lines[1]), &firing)
	json.Unmarshal([]byte(lines[2]), &resolved)
	if firing.State != record.StateFiring || resolved.State != record.StateResolved || firing.ID != resolved.ID ||
		firing.Host != "testhost" || firing.Labels["unit"] != "nginx.service" || firing.Subject["unit"] != "nginx.service" {
		t.Errorf("issues\n%s\n%s", lines[1], lines[2])
	}
}

func TestReceiverFlags(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, c := range []struct {
		listen, token string
		code          int
		says          string
	}{
		{"", empty, 2, "needs --alertmanager-listen"},
		{"x:y:z", "", 2, "--alertmanager-listen"},
		{"127.0.0.1:0", filepath.Join(dir, "missing"), 2, "--alertmanager-token-file"},
		{"127.0.0.1:0", empty, 2, "empty"},
		{busy.Addr().String(), "", 1, "address already in use"},
	} {
		cfg := testConfig()
		cfg.amListen, cfg.amToken = c.listen, c.token
		_, errOut, code := runWith(t, cfg, nil)
		if code != c.code || !strings.Contains(errOut, c.says) {
			t.Errorf("--alertmanager-listen %q --alertmanager-token-file %q: exit %d, %q; want %d saying %q",
				c.listen, c.token, code, errOut, c.code, c.says)
		}
	}
}

// TestInboxFull: past inboxMax waiting records the receiver answers 503.
func TestInboxFull(t *testing.T) {
	d := &detector{w: record.NewWriter(io.Discard), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	d.mu.Lock() // the main loop is busy: nothing is written meanwhile
	ib := newInbox(d)
	one := []record.Issue{{Rule: alertmanager.Rule}}
	for i := range inboxMax {
		if !ib.put(one) {
			t.Fatalf("put %d refused below the bound", i)
		}
	}
	if ib.put(one) {
		t.Fatal("put past the bound accepted")
	}
	d.mu.Unlock()
	ib.write() // what the inbox's goroutine does once the lock is free
	if !ib.put(one) {
		t.Fatal("put refused after the inbox drained")
	}
	ib.close()
	if ib.put(one) {
		t.Fatal("put accepted after close")
	}
}
