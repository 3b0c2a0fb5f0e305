package dash

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// replay feeds a stream into a new model, as lmn-dash does.
func replay(t testing.TB, in io.Reader) *Model {
	t.Helper()
	m := New()
	r := record.NewReader(in, nil)
	for {
		line, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Apply(line); err != nil {
			t.Logf("apply: %v", err)
		}
	}
	m.Rejected = r.Rejected()
	return m
}

func replayFile(t testing.TB) *Model {
	t.Helper()
	f, err := os.Open("testdata/stream.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return replay(t, f)
}

func TestReplayStream(t *testing.T) {
	m := replayFile(t)
	if m.Host != "nixos-lab" || m.Rejected != 1 || m.Invalid != 0 {
		t.Errorf("host %q rejected %d invalid %d, want nixos-lab 1 0", m.Host, m.Rejected, m.Invalid)
	}
	if got := m.Records[record.KindSample]; got != 60 {
		t.Errorf("samples: %d, want 60", got)
	}
	if m.Sample == nil || m.Sample.Seq != 60 {
		t.Fatalf("latest sample: %+v", m.Sample)
	}
	if m.CPU.Len() != 60 || m.MemAvail.Len() != 60 || m.PSI["io"].Len() != 60 || m.DiskFill["/"].Len() != 60 {
		t.Errorf("trend lengths cpu %d mem %d io %d disk %d, want 60", m.CPU.Len(), m.MemAvail.Len(), m.PSI["io"].Len(), m.DiskFill["/"].Len())
	}
	var ids []string
	for _, is := range m.FiringIssues() {
		ids = append(ids, is.ID+":"+is.Severity)
	}
	if got := strings.Join(ids, ","); got != "d-9a2f:critical,t-44b0:warning" {
		t.Errorf("firing issues %s", got)
	}
	want := map[string]HealStat{
		"restart_unit":      {Failed: 2, Planned: 1},
		"reset_failed_unit": {Succeeded: 1},
		"journal_vacuum":    {Succeeded: 1, Failed: 1},
		"nix_gc":            {Succeeded: 1, Verified: 1}, // not_recovered
		"drop_caches":       {Advised: 1},
	}
	for a, w := range want {
		if got := m.ByAction[a]; got == nil || *got != w {
			t.Errorf("action %s: %+v, want %+v", a, got, w)
		}
	}
	if got := *m.ByTier["privd"]; got != (HealStat{Succeeded: 2, Failed: 3}) {
		t.Errorf("tier privd: %+v", got)
	}
	if r := m.ByAction["journal_vacuum"].Rate(); r != 0.5 {
		t.Errorf("journal_vacuum rate %v", r)
	}
	// The nginx breaker closed when its issue resolved; the disk one is open.
	bs := m.OpenBreakers()
	if len(bs) != 1 || bs[0].Issue != "d-9a2f" || bs[0].Action != "journal_vacuum" {
		t.Fatalf("breakers: %+v", bs)
	}
	if want := time.Date(2026, 11, 26, 18, 59, 35, 123456789, time.UTC); !bs[0].RetryAt.Equal(want) {
		t.Errorf("retry at %v, want %v", bs[0].RetryAt, want)
	}
	if got := m.Verified[VerifyKey{"nix_gc", "not_recovered"}]; got != 1 {
		t.Errorf("verified nix_gc not_recovered: %d", got)
	}
	if h := m.Durations["journal_vacuum"]; h == nil || h.Count != 2 || h.Sum < 2.84 || h.Sum > 2.85 {
		t.Errorf("journal_vacuum durations: %+v", h)
	}
}

func TestHealthFromIssues(t *testing.T) {
	m := New()
	apply := func(s string) {
		t.Helper()
		if err := m.Apply(record.Line{N: 1, Raw: []byte(s), Kind: kindOf(s)}); err != nil {
			t.Fatal(err)
		}
	}
	// Before any issue: lmn-detect's built-in levels. 97 % full is
	// critical, 50 % fine; tasks waiting for CPU 60 % of the minute is a
	// warning (cpu_pressure, 50 %), however busy the CPU.
	apply(`{"kind":"sample","v":1,"ts":"2026-11-26T18:00:00Z","host":"h","src":"lmn-collect","cpu":{"busy_ratio":1},"mem":{"available_ratio":0.04},` +
		`"psi":{"cpu":{"some":{"avg60_ratio":0.6}}},"disks":{"mounts":[{"mount":"/","used_ratio":0.97},{"mount":"/home","used_ratio":0.5}]}}`)
	mounts := m.Sample.Disks.Mounts
	if got := m.MountLevel(mounts[0]); got != LevelCritical {
		t.Errorf("default / level %v", got)
	}
	if got := m.MountLevel(mounts[1]); got != LevelOK {
		t.Errorf("default /home level %v", got)
	}
	if got := m.CPULevel(); got != LevelWarning {
		t.Errorf("default cpu level %v", got)
	}
	if got := m.MemLevel(); got != LevelCritical {
		t.Errorf("default memory level %v (4 %% available, mem_pressure critical below 5 %%)", got)
	}
	// An issue about /home makes it red and everything else green.
	apply(`{"kind":"issue","v":1,"ts":"2026-11-26T18:00:01Z","id":"x","rule":"inode_usage","subject":{"mount":"/home"},"state":"firing","severity":"critical"}`)
	if got := m.MountLevel(mounts[0]); got != LevelOK {
		t.Errorf("/ level after issues seen: %v", got)
	}
	if got := m.MountLevel(mounts[1]); got != LevelCritical {
		t.Errorf("/home level: %v", got)
	}
	if got := m.CPULevel(); got != LevelOK {
		t.Errorf("cpu level after issues seen: %v", got)
	}
	apply(`{"kind":"issue","v":1,"ts":"2026-11-26T18:00:02Z","id":"x","rule":"inode_usage","subject":{"mount":"/home"},"state":"resolved","severity":"critical"}`)
	if got := m.MountLevel(mounts[1]); got != LevelOK || len(m.Issues) != 0 {
		t.Errorf("/home level after resolve: %v, %d issues", got, len(m.Issues))
	}
}

// TestHealthAgreesWithDetect is issue 15's "warnings beside issues 0":
// before lmn-detect fires anything, a down virtual interface and CPU
// pressure of 25 % are fine by its default levels; and once lmn-detect is
// upstream, its silence is its judgement, whatever the sample says.
func TestHealthAgreesWithDetect(t *testing.T) {
	sample := `{"kind":"sample","v":1,"ts":"2026-11-26T18:00:00Z","host":"h","src":"lmn-collect","cpu":{"busy_ratio":1},` +
		`"psi":{"cpu":{"some":{"avg10_ratio":0.25,"avg60_ratio":0.25}}},` +
		`"net":{"default_route":true,"interfaces":[{"name":"ifb0","up":false,"operstate":"down"},{"name":"eth0","up":true,"operstate":"up"}]}}`
	m := New()
	if err := m.Apply(record.Line{N: 1, Raw: []byte(sample), Kind: record.KindSample}); err != nil {
		t.Fatal(err)
	}
	ifb0 := m.Sample.Net.Interfaces[0]
	if got := m.InterfaceLevel(ifb0); got != LevelOK {
		t.Errorf("ifb0 down before any issue: %v, want ok (interface_down is off by default)", got)
	}
	if got := m.CPULevel(); got != LevelOK {
		t.Errorf("cpu pressure 25%% before any issue: %v, want ok (cpu_pressure warns at 50%%)", got)
	}

	// lmn-detect upstream, nothing firing: every line is fine, even
	// memory at 4 % available (its rule may hold, or be configured away).
	m = New()
	for i, s := range []string{
		`{"kind":"start","v":1,"ts":"2026-11-26T18:00:00Z","host":"h","src":"lmn-detect","settings":{"rules":"/etc/rules.json"}}`,
		`{"kind":"sample","v":1,"ts":"2026-11-26T18:00:00Z","host":"h","src":"lmn-collect","mem":{"available_ratio":0.04},` +
			`"psi":{"cpu":{"some":{"avg60_ratio":0.9}}},"disks":{"mounts":[{"mount":"/","used_ratio":0.97}]}}`,
	} {
		if err := m.Apply(record.Line{N: i + 1, Raw: []byte(s), Kind: kindOf(s)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := []Level{m.MemLevel(), m.CPULevel(), m.MountLevel(m.Sample.Disks.Mounts[0]), m.Overall()}; got[0]+got[1]+got[2]+got[3] != 0 {
		t.Errorf("memory, cpu, /, overall with lmn-detect upstream and no issue: %v, want all ok", got)
	}
}

func kindOf(s string) string {
	_, rest, _ := strings.Cut(s, `"kind":"`)
	k, _, _ := strings.Cut(rest, `"`)
	return k
}

func TestApplyRejectsWrongShapes(t *testing.T) {
	m := New()
	for _, s := range []string{
		`{"kind":"sample","ts":"yesterday"}`,
		`{"kind":"sample","cpu":{"busy_ratio":"high"}}`,
		`{"kind":"issue","state":"firing"}`,
		`{"kind":"issue","id":"a","state":"burning"}`,
		`{"kind":"heal","phase":"started"}`,
		`{"kind":"sample","ts":"2026-11-26T18:00:00Z","cpu":{"busy_ratio":7.5}}`, // impossible, as lmn-detect judges
	} {
		if err := m.Apply(record.Line{N: 7, Raw: []byte(s), Kind: kindOf(s)}); err == nil {
			t.Errorf("%s: no error", s)
		} else if !strings.Contains(err.Error(), "dash:") {
			t.Errorf("%s: error %q does not say where", s, err)
		}
	}
	if m.Invalid != 6 || m.Sample != nil || len(m.Issues) != 0 || len(m.Records) != 0 {
		t.Errorf("invalid %d sample %v issues %d records %v", m.Invalid, m.Sample, len(m.Issues), m.Records)
	}
	// Unknown kinds are counted, not rejected: the stream may grow.
	if err := m.Apply(record.Line{Raw: []byte(`{"kind":"future"}`), Kind: "future"}); err != nil || m.Records["future"] != 1 {
		t.Errorf("unknown kind: %v %v", err, m.Records)
	}
}

func TestMountsThatGoAwayAreForgotten(t *testing.T) {
	m := New()
	for _, s := range []string{
		`{"kind":"sample","disks":{"mounts":[{"mount":"/"},{"mount":"/media/usb"}]}}`,
		`{"kind":"sample","disks":{"mounts":[{"mount":"/"}]}}`,
	} {
		if err := m.Apply(record.Line{Raw: []byte(s), Kind: "sample"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := m.DiskFill["/media/usb"]; ok || m.DiskFill["/"].Len() != 2 {
		t.Errorf("disk trends: %v", m.DiskFill)
	}
}

func TestEventLogKeepsLatest(t *testing.T) {
	m := New()
	for i := range EventLen + 10 {
		s := `{"kind":"issue","id":"a` + strings.Repeat("x", i) + `","rule":"r","state":"firing","severity":"warning"}`
		if err := m.Apply(record.Line{Raw: []byte(s), Kind: "issue"}); err != nil {
			t.Fatal(err)
		}
	}
	if len(m.Events) != EventLen || len(m.Issues) != EventLen+10 {
		t.Fatalf("events %d issues %d", len(m.Events), len(m.Issues))
	}
}

func TestRing(t *testing.T) {
	r := NewRing(4)
	if got := r.Last(nil, 3); len(got) != 0 {
		t.Errorf("empty ring gave %v", got)
	}
	for i := 1; i <= 6; i++ {
		r.Push(float64(i))
	}
	if got := r.Last(nil, 10); !equal(got, []float64{3, 4, 5, 6}) {
		t.Errorf("Last(10) = %v", got)
	}
	if got := r.Last(nil, 2); !equal(got, []float64{5, 6}) {
		t.Errorf("Last(2) = %v", got)
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzApply feeds arbitrary streams to the model: it must never panic, and
// every line the reader accepts must be either applied or counted invalid.
func FuzzApply(f *testing.F) {
	data, err := os.ReadFile("testdata/stream.ndjson")
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range bytes.SplitAfter(data, []byte("\n"))[:12] {
		f.Add(line)
	}
	f.Add([]byte(`{"kind":"heal","action":"a","phase":"gave_up","retry_at":null}`))
	f.Add([]byte(`{"kind":"heal","action":"a","phase":"succeeded","duration_ms":-1}`))
	f.Add([]byte(`{"kind":"sample","disks":{"mounts":[{"mount":"/"}]},"psi":{"cpu":{}}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		m := New()
		r := record.NewReader(bytes.NewReader(in), nil)
		accepted := 0
		for {
			line, err := r.Next()
			if err != nil {
				break
			}
			accepted++
			m.Apply(line)
		}
		var applied uint64
		for _, n := range m.Records {
			applied += n
		}
		if applied+m.Invalid != uint64(accepted) {
			t.Fatalf("accepted %d, applied %d + invalid %d", accepted, applied, m.Invalid)
		}
	})
}

// TestBounded: a stream of ever new names does not grow the model.
func TestBounded(t *testing.T) {
	m := New()
	for i := range MaxKeys + 50 {
		for _, s := range []string{
			`{"kind":"k` + strconv.Itoa(i) + `","src":"s` + strconv.Itoa(i) + `"}`,
			`{"kind":"heal","action":"a` + strconv.Itoa(i) + `","tier":"t` + strconv.Itoa(i) + `","phase":"succeeded","duration_ms":5}`,
			`{"kind":"heal","action":"a` + strconv.Itoa(i) + `","phase":"verified","outcome":"o` + strconv.Itoa(i) + `"}`,
		} {
			m.Apply(record.Line{Raw: []byte(s), Kind: kindOf(s)})
		}
	}
	for name, n := range map[string]int{"records": len(m.Records), "sources": len(m.Sources), "actions": len(m.ByAction),
		"tiers": len(m.ByTier), "outcomes": len(m.Outcomes), "verified": len(m.Verified), "durations": len(m.Durations)} {
		if n > MaxKeys+1 {
			t.Errorf("%s: %d keys, bound %d", name, n, MaxKeys)
		}
	}
	if m.ByAction[Other] == nil || m.ByAction[Other].Succeeded != 50 {
		t.Errorf("names past the bound not counted under %q: %+v", Other, m.ByAction[Other])
	}
}

// TestEventSamplesAndCadence: samples that events caused update the
// state shown but not the trends, which move at the ticks; the ticks teach
// the cadence, and the freshness limits follow it when it is long.
func TestEventSamplesAndCadence(t *testing.T) {
	m := New()
	if warn, crit := m.Staleness(); warn != 15*time.Second || crit != time.Minute {
		t.Errorf("staleness before any tick: %v, %v", warn, crit)
	}
	for _, s := range []string{
		`{"kind":"sample","ts":"2026-12-01T00:00:00Z","trigger":"tick","cpu":{"busy_ratio":0.1}}`,
		`{"kind":"sample","ts":"2026-12-01T00:00:10Z","trigger":"unit","cpu":{"busy_ratio":0.9}}`,
		`{"kind":"sample","ts":"2026-12-01T00:00:10.025Z","trigger":"unit","cpu":{"busy_ratio":0.9}}`,
		`{"kind":"sample","ts":"2026-12-01T00:00:30Z","trigger":"tick","cpu":{"busy_ratio":0.2}}`,
	} {
		if err := m.Apply(record.Line{Raw: []byte(s), Kind: "sample"}); err != nil {
			t.Fatal(err)
		}
	}
	if m.CPU.Len() != 2 || m.Cadence != 30*time.Second || m.Sample.CPU.BusyRatio != 0.2 {
		t.Errorf("cpu trend %d points, cadence %v, latest busy %v; want 2 points, 30s, 0.2", m.CPU.Len(), m.Cadence, m.Sample.CPU.BusyRatio)
	}
	if warn, crit := m.Staleness(); warn != 45*time.Second || crit != 90*time.Second {
		t.Errorf("staleness at a 30 s cadence: %v, %v; want 45s, 1m30s", warn, crit)
	}
	// A stream from before events (no trigger) is all ticks.
	old := New()
	for _, s := range []string{`{"kind":"sample","ts":"2026-12-01T00:00:00Z","cpu":{}}`, `{"kind":"sample","ts":"2026-12-01T00:00:05Z","cpu":{}}`} {
		old.Apply(record.Line{Raw: []byte(s), Kind: "sample"})
	}
	if old.CPU.Len() != 2 || old.Cadence != 5*time.Second {
		t.Errorf("old stream: %d points, cadence %v", old.CPU.Len(), old.Cadence)
	}
}
