package metrics

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/dash"
)

// ContentType is the text exposition format's media type.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Handler serves /metrics, /healthz and /gate from l. now is the wall
// clock.
func Handler(l *dash.Live, version string, now func() time.Time) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /gate", gateHandler(l, now))
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		var b []byte
		l.View(func(m *dash.Model) { b = Append(make([]byte, 0, 16<<10), m, now(), version) })
		w.Header().Set("Content-Type", ContentType)
		w.Write(b)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		var ok bool
		var why []string
		l.View(func(m *dash.Model) { ok, why = m.Alive(now()) })
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		status := "ok"
		if !ok {
			status = "unhealthy"
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintf(w, "%s: %s\n", status, strings.Join(why, "; "))
	})
	return mux
}

// Serve serves h on ln until ctx is done, then shuts down gracefully.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("metrics: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return nil
}
