package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// alarmPolicy restarts a unit, verifies for 10 s, restarts it again when
// the breaker's 15 s backoff ends, verifies for 10 s more and advises.
const alarmPolicy = `{"breaker": {"max_attempts": 3, "window": "30m", "backoff": "15s", "max_backoff": "10m",
  "cooldown": "30m", "reset_after": "1h", "healthy_uptime": "30s"},
  "ladders": [{"name": "u", "rules": ["unit_failed"],
  "steps": [{"actions": [{"action": "restart_unit", "params": {"unit": "{{unit}}"}}], "verify": "10s"},
            {"actions": [{"action": "restart_unit", "params": {"unit": "{{unit}}"}}], "verify": "10s"}],
  "advice": "look at {{unit}}"}]}`

// healAt is a heal record and when it left lmn-heal.
type healAt struct {
	h   record.Heal
	out time.Duration // after the input's first record was written
}

// liveRun runs lmn-heal --dry-run on a live pipe (not inline) in a
// synctest bubble: the input's samples 30 s apart come at their own
// times, and the heal records are returned with the time each was
// written.
func liveRun(t *testing.T, input []byte, gaps []time.Duration) []healAt {
	policy := filepath.Join(t.TempDir(), "policy.json")
	writeTestFile(t, policy, alarmPolicy)
	var got []healAt
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t, "--dry-run", "--policy", policy)
		cfg.inline, cfg.now = false, time.Now
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		done := make(chan int, 1)
		go func() {
			done <- run(context.Background(), cfg, inR, outW, io.Discard)
			outW.Close()
		}()
		start := time.Now()
		read := make(chan struct{})
		go func() {
			defer close(read)
			sc := bufio.NewScanner(outR)
			for sc.Scan() {
				var h record.Heal
				if json.Unmarshal(sc.Bytes(), &h) == nil && h.Kind == record.KindHeal {
					got = append(got, healAt{h, time.Since(start)})
				}
			}
		}()
		lines := strings.SplitAfter(string(input), "\n")
		for i, l := range lines {
			if i < len(gaps) {
				time.Sleep(gaps[i])
			}
			io.WriteString(inW, l)
		}
		time.Sleep(time.Second)
		inW.Close()
		if code := <-done; code != 0 {
			t.Errorf("exit %d", code)
		}
		<-read
	})
	return got
}

// TestAlarmActsBetweenRecords: on a live pipe with samples 30 s apart, a
// verification window that ends 10 s after the restart is judged then,
// the backoff that holds the second restart ends at 15 s and the restart
// is planned then, not at the next sample; the records carry those
// times. Replaying the same records from a file gives the same heal
// records, byte for byte but for nothing.
func TestAlarmActsBetweenRecords(t *testing.T) {
	t0 := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) // a synctest bubble's clock
	input := streamAt(t, t0, "0s sample", "0s issue unit_failed unit=a.service firing", "30s sample", "60s sample")
	live := liveRun(t, input, []time.Duration{0, 0, 30 * time.Second, 30 * time.Second})
	var phases []string
	for _, r := range live {
		phases = append(phases, r.h.Phase+"@"+r.h.TS.Sub(t0).String()+"/out@"+r.out.String())
	}
	want := "planned@0s/out@0s verified@10s/out@10s planned@15s/out@15s verified@25s/out@25s advised@25s/out@25s"
	if got := strings.Join(phases, " "); got != want {
		t.Errorf("live heal records (ts/written):\n got %s\nwant %s", got, want)
	}

	cfg := testConfig(t, "--dry-run", "--policy", filepath.Join(t.TempDir(), "policy.json"))
	writeTestFile(t, cfg.policyFile, alarmPolicy)
	cfg.now = func() time.Time { return t0.Add(time.Minute) }
	out, _, code := runWith(t, cfg, input)
	if code != 0 {
		t.Fatalf("replay: exit %d", code)
	}
	var replayed, lived bytes.Buffer
	for _, l := range strings.SplitAfter(out, "\n") {
		if strings.Contains(l, `"kind":"heal"`) {
			replayed.WriteString(l)
		}
	}
	for _, r := range live {
		b, _ := json.Marshal(r.h)
		lived.Write(append(b, '\n'))
	}
	var normal bytes.Buffer // the replay's lines through the same encoding
	for _, l := range strings.SplitAfter(replayed.String(), "\n") {
		var h record.Heal
		if json.Unmarshal([]byte(l), &h) == nil {
			b, _ := json.Marshal(h)
			normal.Write(append(b, '\n'))
		}
	}
	if lived.String() != normal.String() {
		t.Errorf("replayed heal records differ from the live ones:\nlive:\n%s\nreplayed:\n%s", &lived, &normal)
	}
}

func writeTestFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
