package notify

import (
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/config"
)

// Config is lmn-notify's configuration: what to tell, how often, and the
// channels. It is read from --config FILE (strictly, see internal/config)
// and completed by flags.
type Config struct {
	// Host names the machine in messages; empty: each record's host.
	Host string `json:"host,omitempty"`
	// Events are the events sent (see events.go); null: the defaults.
	Events []string `json:"events"`
	// PerIssue is the least time between two messages about one issue.
	// The recovered message that closes an issue is never held back.
	PerIssue config.Duration `json:"per_issue"`
	// Burst is how many messages go out one by one in each DigestEvery
	// window; the rest of the window's events are folded into one digest
	// at its end.
	Burst       int             `json:"burst"`
	DigestEvery config.Duration `json:"digest_every"`
	// Queue bounds each channel's queue; the oldest message is dropped
	// when a full queue takes another.
	Queue int   `json:"queue"`
	Retry Retry `json:"retry"`
	// PauseFile is named in every message as the way to pause healing.
	PauseFile string `json:"pause_file"`
	// Mute lists issue ids and rule names nobody is told of.
	Mute []string `json:"mute,omitempty"`

	Webhook  *Webhook  `json:"webhook,omitempty"`
	Ntfy     *Ntfy     `json:"ntfy,omitempty"`
	Mail     *Mail     `json:"mail,omitempty"`
	Journald *Journald `json:"journald,omitempty"`
}

// Retry says how a channel retries a message that failed.
type Retry struct {
	// First is the wait after the first failure; each wait doubles, up to
	// Max.
	First config.Duration `json:"first"`
	Max   config.Duration `json:"max"`
	// For is how long a message is retried before it is given up.
	For config.Duration `json:"for"`
	// Timeout bounds one attempt.
	Timeout config.Duration `json:"timeout"`
}

// Webhook posts a JSON body with "text" (Slack, Mattermost) and the
// structured fields.
type Webhook struct {
	// URL, or URLFile holding it: a URL with a token in it is a secret.
	URL     string `json:"url,omitempty"`
	URLFile string `json:"url_file,omitempty"`
}

// Ntfy publishes to an ntfy topic URL.
type Ntfy struct {
	URL     string `json:"url,omitempty"`
	URLFile string `json:"url_file,omitempty"`
	// TokenFile holds an access token sent as "Authorization: Bearer".
	TokenFile string `json:"token_file,omitempty"`
}

// Mail hands messages to the local sendmail -t.
type Mail struct {
	To   []string `json:"to"`
	From string   `json:"from,omitempty"`
	// Sendmail is the argv prefix of sendmail; "-t -i" is added.
	Sendmail []string `json:"sendmail"`
}

// Journald writes entries over journald's native protocol.
type Journald struct {
	Socket string `json:"socket"`
}

// DefaultPauseFile is where lmn-heal looks for the pause file.
const DefaultPauseFile = "/run/luminous/pause"

// DefaultConfig is the configuration before the file and flags.
func DefaultConfig() Config {
	return Config{
		Events:      defaultEvents(),
		PerIssue:    config.Duration(15 * time.Minute),
		Burst:       5,
		DigestEvery: config.Duration(time.Minute),
		Queue:       64,
		Retry: Retry{
			First:   config.Duration(500 * time.Millisecond),
			Max:     config.Duration(time.Minute),
			For:     config.Duration(time.Hour),
			Timeout: config.Duration(10 * time.Second),
		},
		PauseFile: DefaultPauseFile,
	}
}

// DefaultSendmail is where the MTA's sendmail is, on PATH or not.
const DefaultSendmail = "/usr/sbin/sendmail"

// DefaultSocket is journald's native socket.
const DefaultSocket = "/run/systemd/journal/socket"

// Load reads path over the defaults and checks the result; errors name
// path and the field.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return DefaultConfig(), &config.Error{File: path, Err: err}
	}
	c, err := Parse(data)
	return c, config.In(path, err)
}

// Parse decodes a configuration over the defaults and checks it.
func Parse(data []byte) (Config, error) {
	c := DefaultConfig()
	if err := config.Decode(data, &c); err != nil {
		return c, err
	}
	return c, c.Check()
}

// Check reports the first mistake of c, naming its field.
func (c *Config) Check() error {
	if c.Events == nil {
		c.Events = defaultEvents()
	}
	for i, name := range c.Events {
		if _, ok := lookup(name); !ok {
			hint := config.Suggest(name, eventNames())
			if hint == "" {
				hint = "known: " + strings.Join(eventNames(), ", ")
			}
			return config.Errorf(fmt.Sprintf("events[%d]", i), "unknown event %q (%s)", name, hint)
		}
	}
	switch {
	case c.Burst < 1:
		return config.Errorf("burst", "want 1 or more, got %d", c.Burst)
	case c.DigestEvery.D() < time.Second:
		return config.Errorf("digest_every", "want at least 1s, got %s", c.DigestEvery)
	case c.Queue < 1:
		return config.Errorf("queue", "want 1 or more, got %d", c.Queue)
	case c.Retry.First.D() <= 0:
		return config.Errorf("retry.first", "want more than 0s")
	case c.Retry.Max.D() < c.Retry.First.D():
		return config.Errorf("retry.max", "%s is less than retry.first %s", c.Retry.Max, c.Retry.First)
	case c.Retry.Timeout.D() <= 0:
		return config.Errorf("retry.timeout", "want more than 0s")
	}
	return c.checkChannels()
}

func (c *Config) checkChannels() error {
	if w := c.Webhook; w != nil {
		if err := checkURL(w.URL, w.URLFile); err != nil {
			return config.Field("webhook", err)
		}
	}
	if n := c.Ntfy; n != nil {
		if err := checkURL(n.URL, n.URLFile); err != nil {
			return config.Field("ntfy", err)
		}
	}
	if m := c.Mail; m != nil {
		if len(m.To) == 0 {
			return config.Errorf("mail.to", "want at least one address")
		}
		for i, a := range m.To {
			if err := checkAddress(a); err != nil {
				return config.Errorf(fmt.Sprintf("mail.to[%d]", i), "%v", err)
			}
		}
		if m.From != "" {
			if err := checkAddress(m.From); err != nil {
				return config.Errorf("mail.from", "%v", err)
			}
		}
		if len(m.Sendmail) == 0 {
			m.Sendmail = []string{DefaultSendmail}
		}
	}
	if j := c.Journald; j != nil && j.Socket == "" {
		j.Socket = DefaultSocket
	}
	return nil
}

// checkURL checks a channel's url or url_file: exactly one, and an http
// or https URL.
func checkURL(u, file string) error {
	switch {
	case u == "" && file == "":
		return config.Errorf("url", "want url or url_file")
	case u != "" && file != "":
		return config.Errorf("url_file", "give url or url_file, not both")
	case u != "":
		if err := parseHTTP(u); err != nil {
			return config.Errorf("url", "%v", err)
		}
	}
	return nil
}

// parseHTTP checks that s is an absolute http or https URL. The error
// never repeats s, which may hold a token.
func parseHTTP(s string) error {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("want an http:// or https:// URL with a host, got %s", redactURL(u))
	}
	return nil
}

// checkAddress accepts one bare mail address, with nothing that could
// break out of a header line.
func checkAddress(a string) error {
	if strings.ContainsAny(a, "\r\n,;") {
		return fmt.Errorf("%q: one address, no line breaks or lists", a)
	}
	p, err := mail.ParseAddress(a)
	if err != nil || p.Name != "" {
		return fmt.Errorf("%q: want an address such as root@localhost", a)
	}
	return nil
}

// Channels lists the names of the configured channels.
func (c *Config) Channels() []string {
	var names []string
	for _, ch := range []struct {
		on   bool
		name string
	}{{c.Webhook != nil, "webhook"}, {c.Ntfy != nil, "ntfy"}, {c.Mail != nil, "mail"}, {c.Journald != nil, "journald"}} {
		if ch.on {
			names = append(names, ch.name)
		}
	}
	return names
}

// wants reports whether event name is sent.
func (c *Config) wants(name string) bool { return slices.Contains(c.Events, name) }

// muted reports whether an issue, by its id or rule, is muted.
func (c *Config) muted(id, rule string) bool {
	return slices.Contains(c.Mute, id) || rule != "" && slices.Contains(c.Mute, rule)
}

// Settings is what the start record says of c: no secret, no URL path.
func (c *Config) Settings() map[string]any {
	s := map[string]any{
		"events": c.Events, "per_issue": c.PerIssue, "burst": c.Burst, "digest_every": c.DigestEvery,
		"queue": c.Queue, "retry": c.Retry, "pause_file": c.PauseFile, "channels": c.Channels(),
	}
	if len(c.Mute) > 0 {
		s["mute"] = c.Mute
	}
	if c.Webhook != nil {
		s["webhook"] = describeURL(c.Webhook.URL, c.Webhook.URLFile)
	}
	if c.Ntfy != nil {
		s["ntfy"] = describeURL(c.Ntfy.URL, c.Ntfy.URLFile)
	}
	if c.Mail != nil {
		s["mail"] = map[string]any{"to": c.Mail.To, "sendmail": c.Mail.Sendmail}
	}
	if c.Journald != nil {
		s["journald"] = c.Journald.Socket
	}
	return s
}

func describeURL(u, file string) string {
	if file != "" {
		return "from " + file
	}
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable)"
	}
	return redactURL(p)
}

// redactURL keeps a URL's scheme and host: its path, query and user may
// carry a token.
func redactURL(u *url.URL) string {
	s := u.Scheme + "://" + u.Host
	if u.User != nil || u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		s += "/…"
	}
	return s
}
