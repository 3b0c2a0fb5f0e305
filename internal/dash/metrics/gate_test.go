package metrics

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lmn-heal/lmn/internal/dash"
	"github.com/lmn-heal/lmn/internal/record"
)

func applyLine(t *testing.T, l *dash.Live, s string) {
	t.Helper()
	line, err := record.NewReader(strings.NewReader(s+"\n"), nil).Next()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Apply(line, 0); err != nil {
		t.Fatal(err)
	}
}

func gateLines(now time.Time, state string) []string {
	ts := now.UTC().Format(time.RFC3339Nano)
	return []string{
		`{"kind":"start","v":1,"ts":"` + ts + `","host":"h","src":"lmn-detect","version":"dev"}`,
		`{"kind":"sample","v":1,"ts":"` + ts + `","host":"h","src":"lmn-collect"}`,
		`{"kind":"issue","v":1,"ts":"` + ts + `","host":"h","src":"lmn-detect","id":"gen7","rule":"generation_unhealthy",` +
			`"subject":{"generation":"7"},"state":"` + state + `","severity":"critical","value":1,"threshold":0,"since":"` + ts +
			`","summary":"generation 7: web.service failed after the switch"}`,
	}
}

func getGate(h http.Handler, query string) chan *httptest.ResponseRecorder {
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/gate"+query, nil))
		done <- rec
	}()
	return done
}

// A long poll of a red gate answers at the record that turns it green, not
// later; and at the end of its wait with the gate still red, naming the
// failing check.
func TestGateLongPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		live := dash.NewLive()
		for _, s := range gateLines(time.Now(), "firing") {
			applyLine(t, live, s)
		}
		h := Handler(live, "test", time.Now)

		done := getGate(h, "?wait=30s")
		synctest.Wait() // the handler waits
		select {
		case <-done:
			t.Fatal("a red gate answered a long poll at once")
		default:
		}
		start := time.Now()
		applyLine(t, live, gateLines(time.Now(), "resolved")[2])
		rec := <-done
		var g dash.Gate
		if err := json.Unmarshal(rec.Body.Bytes(), &g); err != nil || rec.Code != 200 || !g.Green || time.Since(start) != 0 {
			t.Fatalf("after the resolving record: %d %s %v, after %v", rec.Code, rec.Body, err, time.Since(start))
		}

		applyLine(t, live, gateLines(time.Now(), "firing")[2])
		start = time.Now()
		rec = <-getGate(h, "?wait=10s")
		if rec.Code != 503 || time.Since(start) != 10*time.Second || !strings.Contains(rec.Body.String(), "web.service failed") {
			t.Errorf("a red gate at the end of the wait: %d after %v: %s", rec.Code, time.Since(start), rec.Body)
		}
		if rec := <-getGate(h, ""); rec.Code != 503 {
			t.Errorf("without wait: %d", rec.Code)
		}
		for _, q := range []string{"?wait=2m", "?wait=-1s", "?wait=soon"} {
			if rec := <-getGate(h, q); rec.Code != 400 {
				t.Errorf("%s: %d, want 400", q, rec.Code)
			}
		}
	})
}
