package probe

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lmn-heal/lmn/internal/config"
)

// webServer is a real HTTP server on loopback with the handlers the tests
// need. Its slow handler waits until the client gives up or the test ends.
func webServer(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "status: ok\n") })
	mux.HandleFunc("/down", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/health", http.StatusFound) })
	mux.HandleFunc("/empty", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { hang(r.Context()) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, _ *http.Request) {
		// The word comes after the part read.
		io.WriteString(w, strings.Repeat("x", MaxBody)+"ok")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func httpProbe(url string, status []int, contains string) Probe {
	return Probe{HTTP: &HTTP{URL: url, Status: status, Contains: contains}}
}

func TestHTTP(t *testing.T) {
	base := webServer(t)
	for _, tc := range []struct {
		path     string
		status   []int
		contains string
		ok       bool
		err      string
	}{
		{"/health", []int{200}, "ok", true, ""},
		{"/health", nil, "", true, ""},
		{"/health", nil, "healthy", false, `body did not contain "healthy"`},
		{"/down", []int{200}, "", false, "status 503"},
		{"/down", nil, "", false, "status 503"},
		{"/down", []int{200, 503}, "maint", true, ""},
		// Redirects are not followed: a moved health page is a finding.
		{"/moved", []int{200}, "", false, "status 302"},
		{"/moved", []int{302}, "", true, ""},
		{"/empty", nil, "", true, ""},
		{"/missing", nil, "", false, "status 404"},
		{"/big", nil, "ok", false, `body did not contain "ok"`},
	} {
		r := checkProbe(t, httpProbe(base+tc.path, tc.status, tc.contains))
		if r.OK != tc.ok || r.Error != tc.err {
			t.Errorf("GET %s status %v contains %q: ok=%v error=%q, want ok=%v error=%q",
				tc.path, tc.status, tc.contains, r.OK, r.Error, tc.ok, tc.err)
		}
	}
}

// A handler that never answers: the check ends at its timeout.
func TestHTTPSlowHandler(t *testing.T) {
	p := httpProbe(webServer(t)+"/slow", nil, "")
	p.Timeout = config.Duration(testTimeout)
	wantResult(t, checkProbe(t, p), false, "timeout after 300ms")
}

func TestHTTPRefused(t *testing.T) {
	wantResult(t, checkProbe(t, httpProbe("http://"+closedPort(t, "tcp")+"/", nil, "")), false, "connection refused")
}

// A server that is not HTTP at all, answering the request, or speaking
// first (as ssh does; Go's transport then fails in one of several ways,
// all of them failures).
func TestHTTPGarbage(t *testing.T) {
	addr := tcpServer(t, func(c net.Conn) {
		readLine(c)
		io.WriteString(c, "SSH-2.0-OpenSSH_9.2\r\n")
		c.Close()
	})
	r := checkProbe(t, httpProbe("http://"+addr+"/", nil, ""))
	if r.OK || !strings.Contains(r.Error, "malformed HTTP") {
		t.Errorf("result %+v, want a malformed HTTP response", r)
	}
	first := tcpServer(t, func(c net.Conn) {
		io.WriteString(c, "SSH-2.0-OpenSSH_9.2\r\n")
		c.Close()
	})
	if r := checkProbe(t, httpProbe("http://"+first+"/", nil, "")); r.OK || r.Error == "" {
		t.Errorf("server speaking first: %+v, want a failure", r)
	}
}
