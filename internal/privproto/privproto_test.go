package privproto

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lmn-heal/lmn/internal/action"
)

func TestDecodeRequestStrict(t *testing.T) {
	good := `{"action":"restart_unit","params":{"unit":"a.service"}}`
	req, err := DecodeRequest([]byte(good))
	if err != nil || req.Action != "restart_unit" || req.Params["unit"] != "a.service" {
		t.Fatalf("DecodeRequest(good) = %v, %v", req, err)
	}
	bad := map[string]string{
		"duplicate action":     `{"action":"noop","action":"kill_process"}`,
		"escaped duplicate":    `{"action":"noop","\u0061ction":"kill_process"}`,
		"duplicate param":      `{"action":"x","params":{"unit":"a.service","unit":"b.service"}}`,
		"unknown field":        `{"action":"noop","sudo":true}`,
		"number param":         `{"action":"x","params":{"pid":1}}`,
		"null params":          `{"action":"x","params":null}`,
		"array":                `["noop"]`,
		"trailing data":        `{"action":"noop"}{}`,
		"trailing garbage":     `{"action":"noop"} x`,
		"no action":            `{"params":{}}`,
		"long action":          `{"action":"` + strings.Repeat("a", MaxActionLen+1) + `"}`,
		"long value":           `{"action":"x","params":{"k":"` + strings.Repeat("v", action.MaxValueLen+1) + `"}}`,
		"too many params":      `{"action":"x","params":{` + manyParams(MaxParams+1) + `}}`,
		"invalid utf8":         "{\"action\":\"no\xffop\"}",
		"unterminated":         `{"action":"noop"`,
		"empty":                ``,
		"action not a string":  `{"action":{}}`,
		"nested params object": `{"action":"x","params":{"a":{"b":"c"}}}`,
	}
	for name, in := range bad {
		if _, err := DecodeRequest([]byte(in)); !errors.Is(err, ErrDecode) {
			t.Errorf("%s: DecodeRequest(%q) = %v, want ErrDecode", name, in, err)
		}
	}
	t.Logf("%d malformed requests rejected", len(bad))
}

func manyParams(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, `"k`+string(rune('a'+i%26))+string(rune('a'+i/26))+`":"v"`)
	}
	return strings.Join(parts, ",")
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	req := action.Request{Action: "kill_process", Params: map[string]string{"pid": "12", "start_time": "99", "grace": "1s"}}
	b, err := EncodeRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeRequest(b)
	if err != nil || got.Action != req.Action || len(got.Params) != 3 || got.Params["grace"] != "1s" {
		t.Errorf("round trip: %v %v", got, err)
	}
}

func TestReadFrameLimits(t *testing.T) {
	for name, in := range map[string][]byte{
		"zero length": {0, 0, 0, 0},
		"oversized":   binary.BigEndian.AppendUint32(nil, MaxFrame+1),
		"truncated":   append(binary.BigEndian.AppendUint32(nil, 10), "abc"...),
		"short head":  {0, 0},
	} {
		if _, err := ReadFrame(bytes.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	var buf bytes.Buffer
	if err := WriteFrame(&buf, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if p, err := ReadFrame(&buf); err != nil || string(p) != "hello" {
		t.Errorf("ReadFrame = %q, %v", p, err)
	}
	if err := WriteFrame(&buf, make([]byte, MaxFrame+1)); err == nil {
		t.Error("wrote an oversized frame")
	}
}

func TestVerifyRequest(t *testing.T) {
	key := bytes.Repeat([]byte{7}, KeyLen)
	ch := bytes.Repeat([]byte{1}, ChallengeLen)
	body := []byte(`{"action":"noop"}`)
	p := SignedPayload(TypeRequest, RequestMAC(key, ch, body), body)
	if got, err := VerifyRequest(key, ch, p); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("VerifyRequest = %q, %v", got, err)
	}
	other := bytes.Repeat([]byte{2}, ChallengeLen)
	if _, err := VerifyRequest(key, other, p); !errors.Is(err, ErrMAC) {
		t.Errorf("other challenge: %v", err)
	}
	if _, err := VerifyRequest(bytes.Repeat([]byte{8}, KeyLen), ch, p); !errors.Is(err, ErrMAC) {
		t.Errorf("other key: %v", err)
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	if err := WriteKey(good); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(good); fi.Mode().Perm() != 0o600 || fi.Size() != KeyLen {
		t.Errorf("keygen wrote %v, %d bytes", fi.Mode(), fi.Size())
	}
	if k, err := LoadKey(good); err != nil || len(k) != KeyLen {
		t.Fatalf("LoadKey(good) = %d bytes, %v", len(k), err)
	}
	if err := WriteKey(good); err == nil {
		t.Error("keygen overwrote an existing file")
	}
	link := filepath.Join(dir, "link")
	os.Symlink(good, link)
	if err := WriteKey(link); err == nil {
		t.Error("keygen wrote through a symlink")
	}
	random, _ := os.ReadFile(good)
	file := func(name string, content []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, content, mode)
		os.Chmod(p, mode)
		return p
	}
	bad := map[string]string{
		"symlink":        link,
		"missing":        filepath.Join(dir, "none"),
		"directory":      dir,
		"short":          file("short", []byte("tooshort"), 0o600),
		"world-readable": file("world", random, 0o644),
		"group-readable": file("group", random, 0o640),
		"group-writable": file("groupw", random, 0o620),
		"all zero":       file("zero", make([]byte, KeyLen), 0o600),
		"all one byte":   file("ones", bytes.Repeat([]byte{0xa5}, KeyLen), 0o600),
		"a pattern":      file("pattern", bytes.Repeat([]byte("lmn!"), KeyLen/4), 0o600),
		"base64 text":    file("base64", []byte(base64.StdEncoding.EncodeToString(random)+"\n"), 0o600),
		"longer":         file("longer", append(random, random...), 0o600),
		"hex text":       file("hex", []byte(hex.EncodeToString(random[:16])), 0o600),
	}
	for name, p := range bad {
		if _, err := LoadKey(p); !errors.Is(err, ErrBadKey) {
			t.Errorf("%s: LoadKey = %v, want ErrBadKey", name, err)
		}
	}
	t.Logf("%d bad key files refused", len(bad))
}

// A key owned by another user is refused even with mode 0600: whoever owns
// it can change it. Root makes such a file; others skip.
func TestLoadKeyRefusesAnotherOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	path := filepath.Join(t.TempDir(), "key")
	if err := WriteKey(path); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(path); err != nil {
		t.Fatalf("root's own key: %v", err)
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(path); !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Errorf("a key owned by uid 65534, read by root: %v, want ErrBadKey naming the owner", err)
	}
}

func FuzzCheckKey(f *testing.F) {
	f.Add(make([]byte, KeyLen))
	f.Add([]byte("0123456789abcdef0123456789abcdef"))
	f.Add([]byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"))
	f.Add([]byte("short"))
	f.Fuzz(func(t *testing.T, key []byte) {
		err := CheckKey(key)
		if err != nil && !errors.Is(err, ErrBadKey) {
			t.Fatalf("unclassified error %v", err)
		}
		if err == nil && (len(key) != KeyLen || bytes.Count(key, key[:1]) == KeyLen) {
			t.Fatalf("accepted %x", key)
		}
	})
}

func TestResponseErrors(t *testing.T) {
	for code, want := range map[string]error{
		CodeRateLimited: ErrRateLimited, CodeBadAuth: ErrBadKey, CodePermission: ErrPermission,
		CodeInvalid: action.ErrInvalid, CodeRefused: ErrRefused, CodeFailed: ErrActionFailed,
	} {
		err := responseError(Response{Code: code, Error: "x", RetryAfterMS: 1500})
		if !errors.Is(err, want) {
			t.Errorf("%s: %v is not %v", code, err, want)
		}
	}
	var rl *RateLimitedError
	if err := responseError(Response{Code: CodeRateLimited, RetryAfterMS: 1500}); !errors.As(err, &rl) || rl.RetryAfter.Milliseconds() != 1500 {
		t.Errorf("retry after lost: %v", err)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"action":"noop"}`))
	f.Add([]byte(`{"action":"restart_unit","params":{"unit":"a.service"}}`))
	f.Add([]byte(`{"action":"a","action":"b"}`))
	f.Add([]byte(`{"params":{"a":"b","a":"c"},"action":"x"}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeRequest(b)
		if err != nil {
			return
		}
		if len(req.Action) > MaxActionLen || len(req.Params) > MaxParams {
			t.Fatalf("accepted oversized %v", req)
		}
		for k, v := range req.Params {
			if len(k) > MaxKeyLen || len(v) > action.MaxValueLen {
				t.Fatalf("accepted oversized param %q", k)
			}
		}
		// Whatever is accepted re-encodes and decodes to the same request.
		again, err := EncodeRequest(req)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeRequest(again)
		if err != nil || back.Action != req.Action || len(back.Params) != len(req.Params) {
			t.Fatalf("re-decode of %q: %v %v", again, back, err)
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	f.Add(AppendFrame(nil, []byte("Q0123")))
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ReadFrame(bytes.NewReader(b))
		if err != nil {
			return
		}
		if len(p) == 0 || len(p) > MaxFrame || len(p) != int(binary.BigEndian.Uint32(b)) {
			t.Fatalf("frame of %d bytes from %d input bytes", len(p), len(b))
		}
		key := bytes.Repeat([]byte{3}, KeyLen)
		VerifyRequest(key, make([]byte, ChallengeLen), p) // must not panic
		ParseChallenge(p)
	})
}

// FuzzDecodeResponse: whatever a server sends, the client's decoder never
// panics, errors wrap ErrDecode, and what it accepts says ok or names an
// error code and survives a round trip.
func FuzzDecodeResponse(f *testing.F) {
	for _, s := range []string{
		`{"ok":true,"result":{"output":"ok"},"id":"a1"}`,
		`{"ok":false,"code":"rate_limited","error":"slow down","retry_after_ms":4000}`,
		`{"ok":false}`, `{"ok":true,"extra":1}`, `{"ok":true}{}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeResponse(b)
		if err != nil {
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("error %v does not wrap ErrDecode", err)
			}
			return
		}
		if !r.OK && r.Code == "" {
			t.Fatalf("accepted %q: neither ok nor a code", b)
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeResponse(again); err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", again, err)
		}
	})
}
