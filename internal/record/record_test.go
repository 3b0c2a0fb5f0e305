package record

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestTimeAlwaysNineDigitsUTC(t *testing.T) {
	zone := time.FixedZone("CET", 3600)
	cases := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 11, 26, 18, 40, 47, 0, time.UTC), `"2026-11-26T18:40:47.000000000Z"`},
		{time.Date(2026, 11, 26, 19, 40, 47, 120, zone), `"2026-11-26T18:40:47.000000120Z"`},
	}
	for _, c := range cases {
		got, err := json.Marshal(Time{c.in})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("Marshal(%v) = %s, want %s", c.in, got, c.want)
		}
		var back Time
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		if !back.Equal(c.in) {
			t.Errorf("round trip of %v gave %v", c.in, back.Time)
		}
	}
	var bad Time
	if err := json.Unmarshal([]byte(`"yesterday"`), &bad); err == nil {
		t.Error("Unmarshal accepted a time that is not RFC 3339")
	}
}

// TestGolden pins the encoding of every kind: fields are added, never renamed.
func TestGolden(t *testing.T) {
	ts := time.Date(2026, 11, 26, 18, 40, 47, 123456789, time.UTC)
	since := Time{ts.Add(-90 * time.Second)}
	eta := 10800.0
	dur := 412.5
	recs := map[string]any{
		"start": Start{Header: NewHeader(KindStart, "lmn-collect", "box", ts), Version: "1.0.0",
			Settings: map[string]any{"interval": "5s", "units": "system"}},
		"sample": Sample{Header: NewHeader(KindSample, "lmn-collect", "box", ts), Seq: 7, IntervalSeconds: 5,
			Mem:  &Mem{TotalBytes: 8 << 30, AvailableBytes: 6 << 30, FreeBytes: 1 << 30, CachedBytes: 4 << 30, AvailableRatio: 0.75},
			Load: &Load{Load1: 0.5, Load5: 0.25, Load15: 0.125, Load1Per: 0.25, Runnable: 1, Processes: 200},
			PSI:  &PSI{Memory: &Pressure{Some: &PressureLine{Avg10Ratio: 0.01, TotalSeconds: 2.5}}},
			Disks: &Disks{Mounts: []Mount{{Mount: "/", Device: "/dev/vda1", FSType: "ext4", SizeBytes: 100,
				AvailBytes: 7, UsedRatio: 0.93, Inodes: 10, InodesFree: 5, InodesUsedRatio: 0.5}}},
			Units: &Units{Scope: "system", Failed: []Unit{{Unit: "nginx.service", Active: "failed"}}}},
		"issue": Issue{Header: NewHeader(KindIssue, "lmn-detect", "box", ts), ID: "3f2a9c1e0b7d4a55",
			Rule: "disk_fill_trend", Subject: map[string]string{"mount": "/"}, State: StateFiring,
			Severity: SeverityWarning, Value: 0.93, Threshold: 1, Since: since,
			Summary: "/ will be full in 3h 0m", ETASeconds: &eta},
		"heal": Heal{Header: NewHeader(KindHeal, "lmn-heal", "box", ts), Issue: "3f2a9c1e0b7d4a55",
			Action: "restart_unit", Params: map[string]string{"unit": "nginx.service"}, Step: 1,
			Phase: PhaseSucceeded, Tier: TierPrivd, Denied: map[string]string{"unprivileged": "permission denied"},
			Attempt: 1, DurationMS: &dur},
	}
	for name, rec := range recs {
		w := &bytes.Buffer{}
		if err := NewWriter(w).emitFlush(rec); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", name+".golden")
		if *update {
			if err := os.WriteFile(path, w.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(w.Bytes(), want) {
			t.Errorf("%s:\n got %s\nwant %s", name, w.Bytes(), want)
		}
		if bytes.Count(w.Bytes(), []byte("\n")) != 1 {
			t.Errorf("%s is not exactly one line", name)
		}
	}
}

func (w *Writer) emitFlush(v any) error {
	if err := w.Emit(v); err != nil {
		return err
	}
	return w.Flush()
}

func TestEmitDoesNotEscapeHTML(t *testing.T) {
	b := &bytes.Buffer{}
	if err := NewWriter(b).emitFlush(map[string]string{"summary": "load <high> & rising"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "load <high> & rising") {
		t.Errorf("got %s", b)
	}
}

func jsonValid(b []byte) bool { return json.Valid(b) }
