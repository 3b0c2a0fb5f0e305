package notify

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/config"
)

func TestConfigErrorsNameFileAndField(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ in, want string }{
		{`{"events":["gave_upp"]}`, `events[0]: unknown event "gave_upp" (did you mean "gave_up"?)`},
		{`{"events":["x"]}`, `events[0]: unknown event "x" (known: advised, gave_up, worse, not_recovered, rolled_back, collector_absent, recovered, digest, failed, held)`},
		{`{"per_issue":900}`, `per_issue: want a duration string such as "90s", "5m" or "1h30m", got 900`},
		{`{"webhok":{}}`, `webhok: unknown field (did you mean "webhook"?)`},
		{`{"webhook":{}}`, `webhook.url: want url or url_file`},
		{`{"webhook":{"url":"x","url_file":"y"}}`, `webhook.url_file: give url or url_file, not both`},
		{`{"ntfy":{"url":"ftp://host/s3cr3t"}}`, `ntfy.url: want an http:// or https:// URL with a host, got ftp://host/…`},
		{`{"mail":{"to":[]}}`, `mail.to: want at least one address`},
		{`{"mail":{"to":["ops@x","a@b\nBcc: c@d"]}}`, `mail.to[1]: "a@b\nBcc: c@d": one address, no line breaks or lists`},
		{`{"mail":{"to":["Ops <ops@x>"]}}`, `mail.to[0]: "Ops <ops@x>": want an address such as root@localhost`},
		{`{"burst":0}`, `burst: want 1 or more, got 0`},
		{`{"retry":{"first":"1m","max":"1s"}}`, `retry.max: 1s is less than retry.first 1m`},
		{`{"digest_every":"10ms"}`, `digest_every: want at least 1s, got 10ms`},
		{`{"queue":-1}`, `queue: want 1 or more, got -1`},
	} {
		path := filepath.Join(dir, "notify.json")
		os.WriteFile(path, []byte(tc.in), 0o600)
		_, err := Load(path)
		var ce *config.Error
		if !errors.As(err, &ce) || err.Error() != path+": "+tc.want {
			t.Errorf("Load(%s):\n got %v\nwant %s: %s", tc.in, err, path, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error shows the secret: %v", err)
		}
	}
}

func TestConfigDefaultsAndChannels(t *testing.T) {
	c, err := Parse([]byte(`{"per_issue":"1h","webhook":{"url":"https://hooks.example/T/B/s3cr3t"},
		"mail":{"to":["ops@example.org"]},"journald":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.PerIssue.D() != time.Hour || c.Burst != 5 || c.Mail.Sendmail[0] != DefaultSendmail || c.Journald.Socket != DefaultSocket {
		t.Errorf("config %+v", c)
	}
	if got := strings.Join(c.Channels(), ","); got != "webhook,mail,journald" {
		t.Errorf("channels %s", got)
	}
	if s := c.Settings(); s["webhook"] != "https://hooks.example/…" {
		t.Errorf("settings show the webhook as %v", s["webhook"])
	}
}

func TestSecretsComeFromFiles(t *testing.T) {
	dir := t.TempDir()
	url := filepath.Join(dir, "url")
	token := filepath.Join(dir, "token")
	os.WriteFile(url, []byte("https://ntfy.example/s3cr3t_topic\n"), 0o600)
	os.WriteFile(token, []byte("tk_s3cr3t\n"), 0o600)
	c, err := Parse([]byte(`{"ntfy":{"url_file":"` + url + `","token_file":"` + token + `"}}`))
	if err != nil {
		t.Fatal(err)
	}
	chans, err := c.channels()
	if err != nil || len(chans) != 1 {
		t.Fatalf("channels %v, %v", chans, err)
	}
	if h := chans[0].(*httpChannel); h.url != "https://ntfy.example/s3cr3t_topic" {
		t.Errorf("url %q", h.url)
	}
	if s := c.Settings(); s["ntfy"] != "from "+url {
		t.Errorf("settings show %v", s["ntfy"])
	}
	os.WriteFile(url, []byte("gopher://s3cr3t"), 0o600)
	if _, err := c.channels(); err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "ntfy.url_file: "+url) {
		t.Errorf("bad url file: %v", err)
	}
	c.Ntfy.TokenFile = filepath.Join(dir, "missing")
	os.WriteFile(url, []byte("https://ntfy.example/t"), 0o600)
	if _, err := c.channels(); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "ntfy.token_file") {
		t.Errorf("missing token file: %v", err)
	}
}

// FuzzParse holds the configuration decoder to its promise: any input is
// a configuration or an *config.Error, never a panic, and an accepted one
// is usable.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"events":["advised","recovered"],"per_issue":"15m","burst":3}`,
		`{"webhook":{"url":"http://127.0.0.1:1/x"},"ntfy":{"url":"https://n/t","token_file":"/f"}}`,
		`{"mail":{"to":["a@b"],"sendmail":["/usr/sbin/sendmail"]},"journald":{"socket":"/s"}}`,
		`{"retry":{"first":"1s","max":"1m","for":"1h","timeout":"10s"}}`, `{"events":null}`, `[]`, `{"x":1}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse(%q) = %T %v, want *config.Error", data, err, err)
			}
			return
		}
		if c.Burst < 1 || c.Queue < 1 || c.Retry.First.D() <= 0 || len(c.Events) == 0 && c.Events == nil {
			t.Fatalf("accepted unusable %+v", c)
		}
		_ = c.Settings()
	})
}
