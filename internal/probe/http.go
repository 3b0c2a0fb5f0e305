package probe

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
)

// MaxBody is how much of an HTTP body is read at most.
const MaxBody = 64 << 10

// httpCheck is an HTTP probe with its own client: no proxy from the
// environment, no kept-alive connections (each check connects, as a client
// would), no redirects followed.
type httpCheck struct {
	cfg    *HTTP
	client *http.Client
}

func newHTTPCheck(h *HTTP) *httpCheck {
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            (&net.Dialer{}).DialContext,
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: MaxBody,
		ForceAttemptHTTP2:      true,
	}
	return &httpCheck{cfg: h, client: &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

func (h *httpCheck) check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.cfg.URL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "lmn-collect probe")
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if !statusOK(resp.StatusCode, h.cfg.Status) {
		return failure("status " + strconv.Itoa(resp.StatusCode))
	}
	if h.cfg.Contains == "" {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if bytes.Contains(body, []byte(h.cfg.Contains)) {
		return nil
	}
	if err != nil {
		return err
	}
	return failure("body did not contain " + strconv.Quote(h.cfg.Contains))
}

// statusOK reports whether code is one of want, or a 2xx when want is
// empty.
func statusOK(code int, want []int) bool {
	if len(want) == 0 {
		return code >= 200 && code < 300
	}
	return slices.Contains(want, code)
}
