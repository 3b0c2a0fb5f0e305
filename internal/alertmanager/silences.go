package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Client speaks Alertmanager's API v2 (/api/v2/silences, /api/v2/alerts).
type Client struct {
	// URL is Alertmanager's base URL, such as http://127.0.0.1:9093.
	URL  string
	HTTP *http.Client
}

// NewClient returns a client of the Alertmanager at base whose every
// request is bounded by timeout.
func NewClient(base string, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("alertmanager URL %q: want http://host:port or https://host:port", base)
	}
	return &Client{URL: strings.TrimSuffix(base, "/"), HTTP: &http.Client{Timeout: timeout}}, nil
}

// Matcher is one matcher of a silence.
type Matcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	// IsEqual false negates the matcher; absent means true.
	IsEqual *bool `json:"isEqual,omitempty"`
}

func (m Matcher) equal() bool { return m.IsEqual == nil || *m.IsEqual }

// Matches reports whether the matcher holds for a label value.
func (m Matcher) Matches(v string) bool {
	ok := v == m.Value
	if m.IsRegex {
		re, err := regexp.Compile("^(?:" + m.Value + ")$")
		ok = err == nil && re.MatchString(v)
	}
	return ok == m.equal()
}

func (m Matcher) String() string {
	op := "="
	switch {
	case m.IsRegex && m.equal():
		op = "=~"
	case m.IsRegex:
		op = "!~"
	case !m.equal():
		op = "!="
	}
	return m.Name + op + fmt.Sprintf("%q", m.Value)
}

// Silence is one silence as the API lists it.
type Silence struct {
	ID     string `json:"id,omitempty"`
	Status *struct {
		State string `json:"state"`
	} `json:"status,omitempty"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
}

// Active reports whether Alertmanager says the silence is in force.
func (s Silence) Active() bool { return s.Status != nil && s.Status.State == "active" }

func (s Silence) String() string {
	ms := make([]string, len(s.Matchers))
	for i, m := range s.Matchers {
		ms[i] = m.String()
	}
	return fmt.Sprintf("silence %s {%s} by %s until %s: %s", s.ID, strings.Join(ms, ", "),
		s.CreatedBy, s.EndsAt.UTC().Format(time.RFC3339), s.Comment)
}

// MaintenanceLabel and MaintenanceValue mark a maintenance silence.
const (
	MaintenanceLabel = "lmn"
	MaintenanceValue = "maintenance"
)

// Maintenance reports whether s is an active maintenance silence for host:
// it has the matcher lmn="maintenance", and every other matcher is on the
// host or instance label and holds for this machine (an instance matcher
// compares the host part, without a port; a regex is tried on the host's
// names). A silence with only lmn="maintenance" holds the whole fleet.
func (s Silence) Maintenance(h Host) bool {
	if !s.Active() {
		return false
	}
	marked := false
	for _, m := range s.Matchers {
		switch m.Name {
		case MaintenanceLabel:
			if !m.Matches(MaintenanceValue) {
				return false
			}
			marked = true
		case "host", "instance":
			if !h.matcher(m) {
				return false
			}
		default:
			return false // about certain alerts, not about the machine
		}
	}
	return marked
}

func (h Host) matcher(m Matcher) bool {
	held := false
	if m.IsRegex {
		for _, n := range h.Names {
			held = held || Matcher{Value: m.Value, IsRegex: true}.Matches(n)
		}
	} else {
		held = h.is(hostPart(m.Value))
	}
	return held == m.equal()
}

// maxResponse bounds what is read of an API answer.
const maxResponse = 8 << 20

// Silences lists every silence Alertmanager knows.
func (c *Client) Silences(ctx context.Context) ([]Silence, error) {
	var out []Silence
	err := c.do(ctx, http.MethodGet, "/api/v2/silences", nil, &out)
	return out, err
}

// Maintenance returns the first active maintenance silence for h, or nil.
func (c *Client) Maintenance(ctx context.Context, h Host) (*Silence, error) {
	all, err := c.Silences(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].Maintenance(h) {
			return &all[i], nil
		}
	}
	return nil, nil
}

// Post creates a silence and returns its id.
func (c *Client) Post(ctx context.Context, s Silence) (string, error) {
	s.ID, s.Status = "", nil
	var out struct {
		ID string `json:"silenceID"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v2/silences", s, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", fmt.Errorf("alertmanager: POST /api/v2/silences: no silenceID in the answer")
	}
	return out.ID, nil
}

// Expire ends the silence id now.
func (c *Client) Expire(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v2/silence/"+url.PathEscape(id), nil, nil)
}

// AlertExactly returns matchers that select exactly the alert with labels.
func AlertExactly(labels map[string]string) []Matcher {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Matcher, len(keys))
	for i, k := range keys {
		out[i] = Matcher{Name: k, Value: labels[k]}
	}
	return out
}

// Firing reports whether Alertmanager holds the alert with exactly these
// labels as firing (silenced or not); false once it resolved.
func (c *Client) Firing(ctx context.Context, labels map[string]string) (bool, error) {
	q := url.Values{}
	for _, m := range AlertExactly(labels) {
		q.Add("filter", m.String())
	}
	var out []struct {
		Labels map[string]string `json:"labels"`
		EndsAt time.Time         `json:"endsAt"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v2/alerts?"+q.Encode(), nil, &out); err != nil {
		return false, err
	}
	for _, a := range out {
		if len(a.Labels) == len(labels) && (a.EndsAt.IsZero() || a.EndsAt.After(time.Now())) {
			return true, nil
		}
	}
	return false, nil
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	op, _, _ := strings.Cut(path, "?")
	op = "alertmanager: " + method + " " + op
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("%s: reading the answer: %w", op, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s: %s", op, resp.Status, truncate(strings.TrimSpace(string(b)), 200))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: the answer does not decode: %w", op, err)
	}
	return nil
}
