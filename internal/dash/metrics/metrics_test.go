package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/dash"
	"github.com/lmn-heal/lmn/internal/record"
)

func streamModel(t testing.TB, in io.Reader) *dash.Model {
	t.Helper()
	m := dash.New()
	r := record.NewReader(in, nil)
	for {
		line, err := r.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
		m.Apply(line)
	}
	m.Rejected = r.Rejected()
	return m
}

func recorded(t testing.TB) *dash.Model {
	t.Helper()
	f, err := os.Open("../testdata/stream.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return streamModel(t, f)
}

func exposition(t testing.TB, m *dash.Model) string {
	return string(Append(nil, m, m.LastTS.Add(2*time.Second), "test"))
}

func TestExpositionStrict(t *testing.T) {
	text := exposition(t, recorded(t))
	fams, err := parseStrict(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	want := map[string]float64{
		`lmn_stream_rejected_lines_total`: 1,
		`lmn_stream_age_seconds`:          2,
		`lmn_cpus`:                        4,
		`lmn_filesystem_used_ratio{mount="/boot",device="/dev/nvme0n1p1",fstype="vfat"}`:                           0.5,
		`lmn_network_up{interface="wlp4s0",operstate="down"}`:                                                      0,
		`lmn_temperature_crit_celsius{sensor="thermal_zone0",label="x86_pkg_temp"}`:                                100,
		`lmn_issue_firing{id="d-9a2f",rule="disk_usage",severity="critical",mount="/"}`:                            1,
		`lmn_issue_eta_seconds{id="t-44b0",rule="disk_fill_trend",severity="warning",mount="/"}`:                   10800,
		`lmn_issues_firing{severity="warning"}`:                                                                    1,
		`lmn_heal_actions_total{action="restart_unit",tier="privd",outcome="failed"}`:                              2,
		`lmn_heal_actions_total{action="drop_caches",tier="advise",outcome="advised"}`:                             1,
		`lmn_heal_verifications_total{action="nix_gc",outcome="not_recovered"}`:                                    1,
		`lmn_heal_duration_seconds_bucket{action="journal_vacuum",le="1"}`:                                         1,
		`lmn_heal_duration_seconds_bucket{action="journal_vacuum",le="2.5"}`:                                       2,
		`lmn_heal_duration_seconds_count{action="journal_vacuum"}`:                                                 2,
		`lmn_pressure_ratio{resource="io",level="full",window="10s"}`:                                              0.01,
		`lmn_heal_breaker_retry_timestamp_seconds{action="journal_vacuum",issue="d-9a2f",rule="disk_usage"}`:       float64(time.Date(2026, 11, 26, 18, 59, 35, 123456789, time.UTC).UnixNano()) / 1e9,
		`lmn_stream_source_last_record_timestamp_seconds{src="lmn-heal",version="0.1.0"}`:                          float64(time.Date(2026, 11, 26, 18, 44, 35, 833456789, time.UTC).UnixNano()) / 1e9,
		`lmn_dash_build_info{version="test"}`:                                                                      1,
		`lmn_unit_failed{unit="nginx.service",scope="system"}`:                                                     -1, // absent: nginx recovered
		`lmn_issue_firing{id="u-7c1e",rule="unit_failed",severity="critical",scope="system",unit="nginx.service"}`: -1,
	}
	all := map[string]float64{}
	for _, f := range fams {
		for k, v := range f.series {
			all[k] = v
		}
	}
	for k, w := range want {
		got, ok := all[k]
		switch {
		case w == -1 && ok:
			t.Errorf("%s present", k)
		case w != -1 && !ok:
			t.Errorf("%s missing", k)
		case w != -1 && got != w:
			t.Errorf("%s = %v, want %v", k, got, w)
		}
	}
	for _, name := range []string{"lmn_heal_duration_seconds", "lmn_heal_actions_total", "lmn_memory_available_bytes"} {
		if fams[name] == nil || fams[name].help == "" {
			t.Errorf("family %s missing or without help", name)
		}
	}
}

// TestPromtool runs Prometheus's own checker over the real output.
func TestPromtool(t *testing.T) {
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus)")
	}
	collector, err := os.Open("../testdata/collect.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer collector.Close()
	models := map[string]*dash.Model{"recorded": recorded(t), "empty": dash.New(), "hostile": hostile(t),
		"collector": streamModel(t, collector), "fleet": fleet(t, strings.Count(fleetStream, "\n")), "fleet-start": fleet(t, 1)}
	for name, m := range models {
		if _, err := parseStrict(exposition(t, m)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		cmd := exec.Command(path, "check", "metrics")
		cmd.Stdin = strings.NewReader(exposition(t, m))
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("%s: promtool check metrics: %v\n%s", name, err, out)
		}
	}
}

// hostile is a model whose strings need escaping.
func hostile(t testing.TB) *dash.Model {
	return streamModel(t, strings.NewReader(
		`{"kind":"sample","ts":"2026-11-26T18:00:00Z","disks":{"mounts":[{"mount":"/mnt/a \"b\"\\c\nd","device":"\u00e9\u0000"},{"mount":"/mnt/a \"b\"\\c\nd","device":"\u00e9\u0000"}]}}`+"\n"+
			`{"kind":"issue","ts":"2026-11-26T18:00:01Z","id":"x\"","rule":"r","state":"firing","severity":"warning","subject":{"9bad":"1","__name__":"2","mount":"3","rule":"4","a-b":"5"}}`+"\n"))
}

func TestEscaping(t *testing.T) {
	text := exposition(t, hostile(t))
	if _, err := parseStrict(text); err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	for _, want := range []string{
		`mount="/mnt/a \"b\"\\c\nd"`,
		`lmn_issue_firing{id="x\"",rule="r",severity="warning",_bad="1",a_b="5",mount="3"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("exposition lacks %s:\n%s", want, text)
		}
	}
}

// TestServe serves a live model on a real loopback socket.
func TestServe(t *testing.T) {
	live := dash.NewLive()
	f, err := os.Open("../testdata/stream.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := record.NewReader(f, nil)
	for {
		line, err := r.Next()
		if err != nil {
			break
		}
		live.Apply(line, r.Rejected())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	var last time.Time
	live.View(func(m *dash.Model) { last = m.LastTS })
	now := func() time.Time { return last.Add(2 * time.Second) }
	go func() { done <- Serve(ctx, ln, Handler(live, "test", now)) }()
	base := "http://" + ln.Addr().String()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != ContentType || resp.StatusCode != 200 {
		t.Errorf("status %d content type %q", resp.StatusCode, ct)
	}
	if _, err := parseStrict(string(body)); err != nil || !bytes.Contains(body, []byte("lmn_heal_actions_total")) {
		t.Errorf("served metrics: %v\n%s", err, body)
	}
	resp, err = http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.HasPrefix(body, []byte("ok: latest record 2s ago")) {
		t.Errorf("healthz: %d %q", resp.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// FuzzExposition: whatever the stream says, the exposition parses strictly.
func FuzzExposition(f *testing.F) {
	data, err := os.ReadFile("../testdata/stream.ndjson")
	if err != nil {
		f.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	f.Add(bytes.Join(lines[:8], nil))
	f.Add(bytes.Join(lines[60:], nil))
	f.Add([]byte(`{"kind":"issue","id":"a","state":"firing","subject":{"le":"x","":"y","_":"z"}}`))
	f.Add([]byte(`{"kind":"heal","action":"a\"","phase":"succeeded","duration_ms":1e308}`))
	f.Add([]byte(fleetStream))
	f.Fuzz(func(t *testing.T, in []byte) {
		m := streamModel(t, bytes.NewReader(in))
		text := string(Append(nil, m, time.Unix(0, 0), "fuzz"))
		if _, err := parseStrict(text); err != nil {
			t.Fatalf("%v\n%s", err, text)
		}
	})
}

// TestHealthz: /healthz answers 503 when the stream is stale (older than
// three of the collector's intervals, from its start record) or a stage of
// the pipe is missing, and says why.
func TestHealthz(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)
	rec := func(src, kind string, at time.Duration, extra string) string {
		return fmt.Sprintf(`{"kind":%q,"v":1,"ts":%q,"host":"h","src":%q%s}`, kind, t0.Add(at).Format(time.RFC3339Nano), src, extra)
	}
	full := []string{
		rec("lmn-collect", "start", 0, `,"settings":{"interval_seconds":30}`),
		rec("lmn-detect", "start", 0, ""),
		rec("lmn-heal", "start", 0, ""),
		rec("lmn-collect", "sample", time.Second, `,"seq":1`),
	}
	for _, tc := range []struct {
		name   string
		lines  []string
		age    time.Duration // wall clock after the latest record
		status int
		want   string
	}{
		{"fresh", full, 80 * time.Second, 200, "ok: latest record 1m20s ago"},
		{"stale", full, 91 * time.Second, 503, "unhealthy: stale: latest record 1m31s ago, more than 1m30s"},
		{"no heal", full[:2], time.Second, 503, "lmn-heal missing"},
		{"no detect", []string{full[0], full[2]}, time.Second, 503, "lmn-detect missing"},
		{"no record", nil, 0, 503, "unhealthy: no record yet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := dash.NewLive()
			r := record.NewReader(strings.NewReader(strings.Join(tc.lines, "\n")), nil)
			for {
				line, err := r.Next()
				if err != nil {
					break
				}
				if err := live.Apply(line, 0); err != nil {
					t.Fatal(err)
				}
			}
			now := t0.Add(time.Second + tc.age)
			req := httptest.NewRequest("GET", "/healthz", nil)
			w := httptest.NewRecorder()
			Handler(live, "test", func() time.Time { return now }).ServeHTTP(w, req)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.want) {
				t.Errorf("/healthz: %d %q, want %d with %q", w.Code, w.Body.String(), tc.status, tc.want)
			}
		})
	}
}
