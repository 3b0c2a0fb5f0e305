package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func gateRecord(state string) string {
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	return `{"kind":"sample","v":1,"ts":"` + ts + `","host":"h","src":"lmn-collect"}` + "\n" +
		`{"kind":"issue","v":1,"ts":"` + ts + `","host":"h","src":"lmn-detect","id":"gen7","rule":"generation_unhealthy",` +
		`"subject":{"generation":"7"},"state":"` + state + `","severity":"critical","value":1,"threshold":0,"since":"` + ts +
		`","summary":"generation 7: web.service failed after the switch"}` + "\n"
}

// startDash runs a headless lmn-dash on a loopback port with lmn-detect
// seen upstream; the stream goes to w. done says its exit status.
func startDash() (addr string, w *io.PipeWriter, done chan int) {
	r, w := io.Pipe()
	cfg := testConfig(nil)
	cfg.headless, cfg.listen, cfg.now = true, "127.0.0.1:0", time.Now
	addrc := make(chan string, 1)
	cfg.onListen = func(a string) { addrc <- a }
	done = make(chan int)
	go func() { done <- run(context.Background(), cfg, r, io.Discard, io.Discard) }()
	addr = <-addrc
	io.WriteString(w, `{"kind":"start","v":1,"ts":"2026-03-01T12:00:00Z","host":"h","src":"lmn-detect","version":"dev"}`+"\n")
	return addr, w, done
}

func runHealth(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := health(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// The gate through a real lmn-dash on a loopback port: red names the
// failing check; --wait returns green once the record that resolves it
// arrives; red at the timeout, or no lmn-dash at all, exits 1 saying why.
func TestHealthGate(t *testing.T) {
	addr, w, done := startDash()
	io.WriteString(w, gateRecord("firing"))

	var code int
	var out string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		// The records travel through the pipe to the model: ask until
		// the firing issue is there.
		if code, out, _ = runHealth("--listen", addr); strings.Contains(out, "generation_unhealthy: generation 7") {
			break
		}
	}
	if code != 1 || !strings.HasPrefix(out, "not green after 5m: generation_unhealthy: generation 7: web.service failed after the switch") {
		t.Fatalf("red gate: %d %q", code, out)
	}

	waited := make(chan [2]string)
	go func() {
		code, out, errs := runHealth("--listen", addr, "--wait", "--timeout", "60s")
		waited <- [2]string{strings.Repeat("x", code) + out, errs}
	}()
	io.WriteString(w, gateRecord("resolved"))
	if got := <-waited; !strings.HasPrefix(got[0], "green: stream: latest sample") || !strings.Contains(got[0], "generation_unhealthy: not firing") {
		t.Errorf("--wait: %q (stderr %q)", got[0], got[1])
	}

	io.WriteString(w, gateRecord("firing"))
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		if code, out, _ = runHealth("--listen", addr, "--wait", "--timeout", "300ms"); code == 1 {
			break
		}
	}
	if code != 1 || !strings.Contains(out, "not green after 300ms: generation_unhealthy:") {
		t.Errorf("red at the timeout: %d %q", code, out)
	}
	w.Close()
	<-done

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := ln.Addr().String()
	ln.Close()
	if code, out, _ := runHealth("--listen", gone, "--wait", "--timeout", "300ms"); code != 1 || !strings.Contains(out, "lmn-dash at "+gone+" unreachable") {
		t.Errorf("no lmn-dash: %d %q", code, out)
	}
}

func TestHealthFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"-h"}, 0},
		{[]string{"--bogus"}, 2},
		{[]string{"--timeout", "0s", "--wait"}, 2},
		{[]string{"--listen", "x:y:z"}, 2},
		{[]string{"extra"}, 2},
	} {
		if code, _, errs := runHealth(tc.args...); code != tc.code || (code == 2 && errs == "") {
			t.Errorf("%v: exit %d (stderr %q), want %d", tc.args, code, errs, tc.code)
		}
	}
}
