package privd

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/config"
	"github.com/lmn-heal/lmn/internal/privproto"
)

// harness is a real server on a real Unix socket in a temporary directory,
// acting on a temporary procfs tree.
type harness struct {
	t      testing.TB
	dir    string
	socket string
	key    []byte
	cfg    Config
	srv    *Server
	ran    atomic.Int64 // actions that reached action.Run
	// prepare, if set, edits each new server before it serves.
	prepare func(*Server)
	cancel  context.CancelFunc
	done    chan error
}

func testConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.Clients.UIDs = []int{os.Getuid()}
	cfg.AuditLog = filepath.Join(dir, "audit.log")
	cfg.Socket.Path = filepath.Join(dir, "privd.sock")
	cfg.Env.ProcRoot = filepath.Join(dir, "proc")
	cfg.Env.SysRoot = filepath.Join(dir, "sys")
	cfg.ReadTimeout = config.Duration(time.Second)
	cfg.ShutdownGrace = config.Duration(5 * time.Second)
	return cfg
}

func newHarness(t testing.TB, edit func(*Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, dir: dir, cfg: testConfig(dir), key: bytes.Repeat([]byte{0x5a}, privproto.KeyLen)}
	if edit != nil {
		edit(&h.cfg)
	}
	h.socket = h.cfg.Socket.Path
	file := filepath.Join(h.cfg.Env.ProcRoot, "sys/vm/drop_caches")
	os.MkdirAll(filepath.Dir(file), 0o755)
	os.WriteFile(file, nil, 0o644)
	h.start()
	return h
}

// start runs a fresh server over the harness's configuration and audit log.
func (h *harness) start() {
	h.t.Helper()
	srv, err := New(h.cfg, h.key, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		h.t.Fatal(err)
	}
	run := srv.run
	srv.run = func(ctx context.Context, env action.Env, req action.Request) (action.Result, error) {
		h.ran.Add(1)
		return run(ctx, env, req)
	}
	if h.prepare != nil {
		h.prepare(srv)
	}
	ln, err := Listen(h.socket, "")
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.srv, h.cancel, h.done = srv, cancel, make(chan error, 1)
	go func() { h.done <- srv.Serve(ctx, ln) }()
	h.t.Cleanup(h.stop)
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("Serve: %v", err)
	}
	h.srv.Close()
	h.cancel = nil
}

func (h *harness) client() *privproto.Client {
	return &privproto.Client{Socket: h.socket, Key: h.key, Timeout: 5 * time.Second}
}

func (h *harness) dropCaches() string {
	b, _ := os.ReadFile(filepath.Join(h.cfg.Env.ProcRoot, "sys/vm/drop_caches"))
	return string(b)
}

// entries reads the audit log.
func (h *harness) entries() []Entry {
	return readEntries(h.t, h.cfg.AuditLog)
}

func readEntries(t testing.TB, path string) []Entry {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []Entry
	for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("%s: %q: %v", path, line, err)
		}
		out = append(out, e)
	}
	return out
}

// verify checks the harness's audit log as verify-audit does.
func (h *harness) verify() (Report, error) {
	return verifyFile(h.t, h.cfg.AuditLog)
}

func verifyFile(t testing.TB, path string) (Report, error) {
	t.Helper()
	key, err := privproto.LoadKey(path + ".key")
	if err != nil {
		t.Fatal(err)
	}
	head, err := readHead(path, key)
	if err != nil {
		return Report{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Verify(f, key, head)
}

func count(es []Entry, event string) int {
	n := 0
	for _, e := range es {
		if e.Event == event {
			n++
		}
	}
	return n
}

// rawExchange connects, reads the challenge, sends frame(challenge) as
// raw bytes, half-closes, and returns the response payload (nil if none).
func (h *harness) rawExchange(frame func(challenge []byte) []byte) []byte {
	h.t.Helper()
	conn, err := net.Dial("unix", h.socket)
	if err != nil {
		h.t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	p, err := privproto.ReadFrame(conn)
	if err != nil {
		h.t.Fatal(err)
	}
	ch, err := privproto.ParseChallenge(p)
	if err != nil {
		h.t.Fatal(err)
	}
	conn.Write(frame(ch))
	conn.(*net.UnixConn).CloseWrite()
	resp, err := privproto.ReadFrame(conn)
	if err != nil {
		return nil
	}
	return resp
}

// validFrame builds a correctly signed request frame.
func (h *harness) validFrame(req action.Request) func([]byte) []byte {
	return func(ch []byte) []byte {
		body, _ := privproto.EncodeRequest(req)
		return privproto.AppendFrame(nil, privproto.SignedPayload(privproto.TypeRequest, privproto.RequestMAC(h.key, ch, body), body))
	}
}

// response decodes and authenticates a response payload.
func (h *harness) response(p []byte, ch []byte) privproto.Response {
	h.t.Helper()
	_, body, err := privproto.SplitSigned(privproto.TypeResponse, p)
	if err != nil {
		h.t.Fatalf("response: %v", err)
	}
	r, err := privproto.DecodeResponse(body)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

var dropReq = action.Request{Action: "drop_caches", Params: map[string]string{"level": "3"}}

// failedManager writes a real program standing in for systemctl that
// says every unit is loaded and failed (so restart_unit's premise holds)
// and succeeds at everything else.
func failedManager(t testing.TB) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "systemctl")
	body := "#!/bin/sh\n[ \"$1\" = show ] && printf 'LoadState=loaded\\nActiveState=failed\\n'\nexit 0\n"
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{path}
}
