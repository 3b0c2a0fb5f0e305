package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/dash"
)

// TestRejectedCountedWhenLogged: the header's rejected count includes a
// rejected line as soon as its warning is logged, not only once the next
// valid record comes (the stream may stay quiet for an interval).
func TestRejectedCountedWhenLogged(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	live := dash.NewLive()
	var logs lockedBuffer
	startReader(pr, live, slog.New(slog.NewTextHandler(&logs, nil)))
	io.WriteString(pw, `{"kind":"start","v":1,"ts":"2026-11-26T18:00:00Z","host":"h","src":"lmn-collect"}`+"\ngarbage\n")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "rejected line") {
		if time.Now().After(deadline) {
			t.Fatal("no rejected line logged")
		}
		time.Sleep(5 * time.Millisecond)
	}
	var n int
	live.View(func(m *dash.Model) { n = m.Rejected })
	if n != 1 {
		t.Errorf("rejected %d in the model once the warning is logged, want 1", n)
	}
}
