package privd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/privproto"
)

// testAuditKey makes the audit key of the log at path, as New does.
func testAuditKey(t testing.TB, path string) []byte {
	t.Helper()
	key, _, err := loadAuditKey(path + ".key")
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// writeLog writes n chained entries through auditLog and returns the key.
func writeLog(t testing.TB, path string, n int) []byte {
	t.Helper()
	key := testAuditKey(t, path)
	a, err := openAudit(path, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for i := range n {
		if err := a.write(&Entry{TS: stamp(time.Unix(int64(i), 0)), Event: EventIntent, Action: "noop", Target: "noop"}); err != nil {
			t.Fatal(err)
		}
	}
	return key
}

// unkeyed recomputes a chain as the old format did (SHA-256, no key), as
// someone without the audit key would forge one.
func unkeyed(lines []string, from int) []string {
	out := append([]string{}, lines...)
	for i := from; i < len(out); i++ {
		var e Entry
		json.Unmarshal([]byte(strings.TrimSuffix(out[i], "\n")), &e)
		if i > 0 {
			sum := sha256.Sum256([]byte(strings.TrimSuffix(out[i-1], "\n")))
			e.Prev = hex.EncodeToString(sum[:])
		}
		b, _ := json.Marshal(e)
		out[i] = string(b) + "\n"
	}
	return out
}

// The tamperings of a log with its head sealed beside it: edits
// in the middle were caught before; truncation, a removed or edited last
// line and appended forged lines were not. Each is caught now, at the
// line it names (0: the head check, after the last line).
func TestVerifyFindsTampering(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	key := writeLog(t, path, 6)
	good, _ := os.ReadFile(path)
	head, err := readHead(path, key)
	if err != nil || head == nil || head.Seq != 6 {
		t.Fatalf("head %+v, %v", head, err)
	}
	if rep, err := Verify(bytes.NewReader(good), key, head); err != nil || rep.Lines != 6 {
		t.Fatalf("Verify(good) = %+v, %v", rep, err)
	}
	lines := strings.SplitAfter(string(good), "\n")[:6]
	join := func(ls ...[]string) string {
		var b strings.Builder
		for _, l := range ls {
			b.WriteString(strings.Join(l, ""))
		}
		return b.String()
	}
	edit := func(i int, old, new string) []string {
		out := append([]string{}, lines...)
		out[i] = strings.Replace(out[i], old, new, 1)
		return out
	}
	forged := unkeyed(append(append([]string{}, lines...), lines[5], lines[5]), 6)
	otherKey := bytes.Repeat([]byte("wrong-key"), 4)
	wrongChain := append([]string{}, lines...)
	for i := 1; i < len(wrongChain); i++ {
		var e Entry
		json.Unmarshal([]byte(wrongChain[i]), &e)
		e.Prev = chainValue(otherKey, []byte(strings.TrimSuffix(wrongChain[i-1], "\n")))
		b, _ := json.Marshal(e)
		wrongChain[i] = string(b) + "\n"
	}
	tampered := map[string]struct {
		text string
		line int64
	}{
		"edited action":          {join(edit(2, `"noop"`, `"kill_process"`)), 4},
		"removed line":           {join(lines[:3], lines[4:]), 4},
		"swapped lines":          {join(lines[:1], lines[2:3], lines[1:2], lines[3:]), 2},
		"not json":               {join(lines[:1], []string{"garbage\n"}, lines[2:]), 2},
		"edited first":           {join(edit(0, `"intent"`, `"result"`)), 2},
		"truncated":              {join(lines[:4]), 0},
		"deleted last line":      {join(lines[:5]), 0},
		"edited last line":       {join(edit(5, `"noop"`, `"nope"`)), 0},
		"forged lines appended":  {join(forged), 7},
		"rechained unkeyed":      {join(unkeyed(lines, 1)), 2},
		"rechained with a guess": {join(wrongChain), 2},
		"emptied":                {"", 0},
	}
	for name, c := range tampered {
		_, err := Verify(strings.NewReader(c.text), key, head)
		var ve *VerifyError
		if !errors.As(err, &ve) || ve.Line != c.line || !errors.Is(err, ErrChain) {
			t.Errorf("%s: Verify = %v, want a break at line %d", name, err, c.line)
		}
	}
	// The head itself: removed, or replaced by one sealed without the key.
	if _, err := Verify(bytes.NewReader(good), key, nil); !errors.Is(err, ErrChain) || !strings.Contains(err.Error(), "no sealed head") {
		t.Errorf("without a head: %v", err)
	}
	os.WriteFile(headPath(path), []byte(`{"seq":4,"hash":"00","mac":"00"}`), 0o600)
	if _, err := readHead(path, key); !errors.Is(err, ErrChain) {
		t.Errorf("forged head: %v", err)
	}
	t.Logf("%d tamperings and 2 head forgeries found", len(tampered))
}

func TestAuditSharedBetweenWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	key := testAuditKey(t, path)
	var seen []Entry
	a, err := openAudit(path, key, func(e Entry) { seen = append(seen, e) })
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
	if rep, err := verifyFile(t, path); err != nil || rep.Lines != 5 || rep.HeadSeq != 5 {
		t.Errorf("Verify = %+v, %v", rep, err)
	}
}

// A line cut short (a crash mid-write, a full disk) is removed when the
// log is next opened, and the removal is recorded: the chain verifies
// again instead of reporting the torn line as tampering forever.
func TestAuditTornTailRepaired(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	key := writeLog(t, path, 2)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"seq":3,"prev":"`) // a crash mid-write
	f.Close()
	if rep, err := verifyFile(t, path); err != nil || rep.Torn != len(`{"seq":3,"prev":"`) {
		t.Errorf("Verify before the repair: %+v, %v; want a torn tail reported, no break", rep, err)
	}
	a, err := openAudit(path, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.verified != nil {
		t.Errorf("a torn tail counted as tampering: %v", a.verified)
	}
	a.write(&Entry{Event: EventStart})
	a.Close()
	es := readEntries(t, path)
	if len(es) != 4 || es[2].Event != EventRepair || !strings.Contains(es[2].Reason, "17 bytes") || es[3].Event != EventStart {
		t.Errorf("after the repair: %+v", es)
	}
	if rep, err := verifyFile(t, path); err != nil || rep.Lines != 4 || rep.Torn != 0 {
		t.Errorf("Verify after the repair: %+v, %v", rep, err)
	}
}

func FuzzVerify(f *testing.F) {
	path := filepath.Join(f.TempDir(), "audit.log")
	key := testAuditKey(f, path)
	a, _ := openAudit(path, key, nil)
	a.write(&Entry{Event: EventStart})
	a.write(&Entry{Event: EventIntent, Action: "noop", ID: "x"})
	a.Close()
	good, _ := os.ReadFile(path)
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add([]byte("{}\n"))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := Verify(bytes.NewReader(b), key, nil)
		if err == nil && rep.Lines > 0 {
			t.Fatalf("%d lines verified without a head", rep.Lines)
		}
		// No log verifies against a head sealing a line it does not hold.
		if rep, err := Verify(bytes.NewReader(b), key, &Head{Seq: 2, Hash: chainValue(key, []byte("x"))}); err == nil {
			t.Fatalf("verified against a head of another log: %+v", rep)
		}
	})
}

// A failed fsync refuses the action, but the line it follows has been
// written: the next line must chain to it, or verify-audit reports a
// tampering that never happened. The failing fsync is a stand-in: a real
// disk error cannot be caused here (TestDiskFull makes a real ENOSPC).
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
	if rep, err := h.verify(); err != nil {
		t.Errorf("Verify after a failed fsync: %+v, %v", rep, err)
	}
}

// Lines are bounded: a result's output and restore map are cut to fit.
func TestAuditLinesAreBounded(t *testing.T) {
	big := map[string]string{}
	for i := range 512 {
		big[fmt.Sprintf("policy%d", i)] = "schedutil"
	}
	e := &Entry{Event: EventResult, Output: strings.Repeat("<\x01", 4000), Reason: strings.Repeat("é", 3000), Restore: big,
		Params: map[string]string{"unit": strings.Repeat("a", 250)}}
	if b := encodeEntry(e); len(b) > maxLine || !json.Valid(b) {
		t.Errorf("line of %d bytes (cap %d), valid JSON %v", len(b), maxLine, json.Valid(b))
	}
}
