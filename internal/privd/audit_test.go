package privd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/privproto"
)

// writeLog writes n chained entries through auditLog.
func writeLog(t *testing.T, path string, n int) {
	t.Helper()
	a, err := openAudit(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for i := range n {
		if err := a.write(&Entry{TS: stamp(time.Unix(int64(i), 0)), Event: EventIntent, Action: "noop", Target: "noop"}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVerifyFindsTamperedLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeLog(t, path, 6)
	good, _ := os.ReadFile(path)
	if n, err := Verify(bytes.NewReader(good)); err != nil || n != 6 {
		t.Fatalf("Verify(good) = %d, %v", n, err)
	}
	lines := strings.SplitAfter(string(good), "\n")
	tampered := map[string]struct {
		text string
		line int64
	}{
		"edited action": {strings.Join(lines[:2], "") + strings.Replace(lines[2], `"noop"`, `"kill_process"`, 1) + strings.Join(lines[3:], ""), 4},
		"removed line":  {strings.Join(lines[:3], "") + strings.Join(lines[4:], ""), 4},
		"swapped lines": {lines[0] + lines[2] + lines[1] + strings.Join(lines[3:], ""), 2},
		"not json":      {lines[0] + "garbage\n" + strings.Join(lines[2:], ""), 2},
		"edited first":  {strings.Replace(lines[0], `"intent"`, `"result"`, 1) + strings.Join(lines[1:], ""), 2},
	}
	for name, c := range tampered {
		_, err := Verify(strings.NewReader(c.text))
		var ve *VerifyError
		if !errors.As(err, &ve) || ve.Line != c.line || !errors.Is(err, ErrChain) {
			t.Errorf("%s: Verify = %v, want line %d", name, err, c.line)
		}
	}
	t.Logf("%d tamperings found", len(tampered))
}

func TestAuditSharedBetweenWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	var seen []Entry
	a, err := openAudit(path, func(e Entry) { seen = append(seen, e) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.write(&Entry{Event: EventStart})
	writeLog(t, path, 3) // another writer, as `lmn-privd exec` would be
	a.write(&Entry{Event: EventStart})
	if len(seen) != 3 {
		t.Errorf("first writer saw %d of the other's 3 lines", len(seen))
	}
	f, _ := os.Open(path)
	defer f.Close()
	if n, err := Verify(f); err != nil || n != 5 {
		t.Errorf("Verify = %d, %v", n, err)
	}
}

func TestAuditTornLineClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeLog(t, path, 2)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"seq":3,"prev":"`) // a crash mid-write
	f.Close()
	var bad int64
	a, err := openAudit(path, nil, func(line int64, err error) { bad = line })
	if err != nil {
		t.Fatal(err)
	}
	a.write(&Entry{Event: EventStart})
	a.Close()
	b, _ := os.ReadFile(path)
	if bad != 3 || strings.Count(string(b), "\n") != 4 {
		t.Errorf("torn line %d, file %q", bad, b)
	}
	_, err = Verify(bytes.NewReader(b))
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Line != 3 {
		t.Errorf("Verify = %v, want line 3", err)
	}
}

func FuzzVerify(f *testing.F) {
	path := filepath.Join(f.TempDir(), "audit.log")
	a, _ := openAudit(path, nil, nil)
	a.write(&Entry{Event: EventStart})
	a.write(&Entry{Event: EventIntent, Action: "noop"})
	a.Close()
	good, _ := os.ReadFile(path)
	f.Add(good)
	f.Add([]byte("{}\n"))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := Verify(bytes.NewReader(b))
		if err == nil && n > 0 && !bytes.Contains(b, []byte(genesisHash)) {
			t.Fatalf("chain of %d lines without a genesis line accepted", n)
		}
	})
}

// A failed fsync refuses the action, but the line it follows has been
// written: the next line must chain to it, or verify-audit reports a
// tampering that never happened. The failing fsync is a stand-in: a real
// disk error cannot be caused here.
func TestFailedFsyncKeepsTheChain(t *testing.T) {
	h := newHarness(t, nil)
	h.srv.audit.mu.Lock()
	h.srv.audit.fsync = func(*os.File) error { return errors.New("EIO (test)") }
	h.srv.audit.mu.Unlock()
	if _, err := h.client().Do(context.Background(), dropReq); !errors.Is(err, privproto.ErrRefused) {
		t.Fatalf("with fsync failing: %v, want refused", err)
	}
	h.srv.audit.mu.Lock()
	h.srv.audit.fsync = (*os.File).Sync
	h.srv.audit.mu.Unlock()
	if _, err := h.client().Do(context.Background(), dropReq); err != nil {
		t.Fatalf("after fsync recovered: %v", err)
	}
	if n, err := Verify(mustOpen(t, h.cfg.AuditLog)); err != nil {
		t.Errorf("Verify after a failed fsync: %d lines, %v", n, err)
	}
}
