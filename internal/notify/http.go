package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lmn-heal/lmn/internal/record"
)

// A channel delivers messages one way. send is called by one goroutine at
// a time; ctx bounds one attempt.
type channel interface {
	name() string
	send(ctx context.Context, m *Message) error
}

// permanentError is a failure retrying cannot fix (a 404, no sendmail).
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return permanentError{err} }

func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// secrets are strings never to appear in an error, a record or a log
// line: URLs with tokens in them, and tokens.
type secrets []string

// scrub replaces every secret in s.
func (s secrets) scrub(msg string) string {
	for _, v := range s {
		if len(v) >= 4 {
			msg = strings.ReplaceAll(msg, v, "…")
		}
	}
	return msg
}

// httpChannel posts to a URL: the webhook and ntfy channels.
type httpChannel struct {
	kind    string
	url     string
	safeURL string // the URL as errors name it
	client  *http.Client
	hide    secrets
	// build returns the request body and sets the headers.
	build func(m *Message, h http.Header) ([]byte, error)
}

func newHTTPChannel(kind, rawURL string, hide secrets, build func(*Message, http.Header) ([]byte, error)) (*httpChannel, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Messages are rare: a fresh connection each, and no idle one left
	// to go stale.
	tr.DisableKeepAlives = true
	return &httpChannel{
		kind: kind, url: rawURL, safeURL: redactURL(u), hide: append(hide, rawURL, u.Path, u.RawQuery),
		// Redirects are not followed: a hook that moved says so.
		client: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		build:  build,
	}, nil
}

func (c *httpChannel) name() string { return c.kind }

func (c *httpChannel) send(ctx context.Context, m *Message) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, nil)
	if err != nil {
		return permanent(fmt.Errorf("POST %s: %s", c.safeURL, c.hide.scrub(err.Error())))
	}
	req.Header.Set("User-Agent", "lmn-notify")
	body, err := c.build(m, req.Header)
	if err != nil {
		return permanent(err)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("POST %s: %s", c.safeURL, c.hide.scrub(err.Error()))
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return c.status(resp.StatusCode, head)
}

// status judges an answer: 2xx delivered; 408, 425, 429 and 5xx are worth
// a retry; any other answer is not.
func (c *httpChannel) status(code int, head []byte) error {
	if code >= 200 && code < 300 {
		return nil
	}
	text := strings.TrimSpace(oneLine(string(head)))
	if !utf8.ValidString(text) {
		text = strconv.Quote(text)
	}
	err := fmt.Errorf("POST %s: HTTP %d %s: %s", c.safeURL, code, http.StatusText(code), c.hide.scrub(text))
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests, code >= 500:
		return err
	}
	return permanent(err)
}

// webhookBody is the JSON a webhook gets: "text" for Slack- and
// Mattermost-style endpoints, and every field for the rest.
type webhookBody struct {
	Text     string            `json:"text"`
	Title    string            `json:"title"`
	Event    string            `json:"event"`
	Host     string            `json:"host"`
	TS       record.Time       `json:"ts"`
	Issue    string            `json:"issue,omitempty"`
	Rule     string            `json:"rule,omitempty"`
	Subject  map[string]string `json:"subject,omitempty"`
	Summary  string            `json:"summary,omitempty"`
	Severity string            `json:"severity,omitempty"`
	Action   string            `json:"action,omitempty"`
	Tier     string            `json:"tier,omitempty"`
	Outcome  string            `json:"outcome,omitempty"`
	Error    string            `json:"error,omitempty"`
	Advice   string            `json:"advice,omitempty"`
	Steps    []string          `json:"steps,omitempty"`
	Count    int               `json:"count,omitempty"`
	Counts   map[string]int    `json:"counts,omitempty"`
	Issues   []string          `json:"issues,omitempty"`
	Pause    string            `json:"pause_file,omitempty"`
}

func buildWebhook(m *Message, h http.Header) ([]byte, error) {
	h.Set("Content-Type", "application/json")
	title := m.Title()
	b := webhookBody{
		Text: title + "\n" + m.Text(), Title: title, Event: m.Event, Host: m.Host, TS: record.Time{Time: m.TS},
		Issue: m.Issue, Rule: m.Rule, Subject: m.Subject, Summary: m.Summary, Severity: m.Severity,
		Action: m.Action, Tier: m.Tier, Outcome: m.Outcome, Error: m.Error, Advice: m.Advice, Steps: m.Steps,
		Count: m.Count, Counts: m.Counts, Issues: m.Issues(), Pause: m.Pause,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b); err != nil {
		return nil, fmt.Errorf("webhook body: %w", err)
	}
	return buf.Bytes(), nil
}

// buildNtfy makes an ntfy publish request as ntfy's docs describe it
// (docs.ntfy.sh/publish): the message as a text/plain body, X-Title,
// X-Priority 1–5, X-Tags comma-separated, and an access token as
// "Authorization: Bearer".
func buildNtfy(token string) func(*Message, http.Header) ([]byte, error) {
	return func(m *Message, h http.Header) ([]byte, error) {
		ev, _ := lookup(m.Event)
		h.Set("Content-Type", "text/plain; charset=utf-8")
		// Non-ASCII titles are RFC 2047 encoded, which ntfy decodes.
		h.Set("X-Title", mime.QEncoding.Encode("utf-8", m.Title()))
		h.Set("X-Priority", strconv.Itoa(ev.Ntfy))
		h.Set("X-Tags", ev.NtfyTags)
		if token != "" {
			h.Set("Authorization", "Bearer "+token)
		}
		return truncate(m.Text(), ntfyMaxMessage), nil
	}
}

// ntfyMaxMessage is ntfy's limit on a message body: a longer one becomes
// an attachment, which a server may refuse.
const ntfyMaxMessage = 4096

// truncate cuts s to at most n bytes at a rune boundary, marking the cut.
func truncate(s string, n int) []byte {
	if len(s) <= n {
		return []byte(s)
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return []byte(s[:cut] + mark)
}
