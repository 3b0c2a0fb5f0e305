package frame

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"

	"github.com/lmn-heal/lmn/internal/dash"
	"github.com/lmn-heal/lmn/internal/record"
)

var update = flag.Bool("update", false, "rewrite the golden frames in testdata")

// streamModel replays the recorded stream shared by the dash tests.
func streamModel(t testing.TB) *dash.Model {
	return replayModel(t, "../testdata/stream.ndjson")
}

func replayModel(t testing.TB, path string) *dash.Model {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := dash.New()
	r := record.NewReader(f, nil)
	for {
		line, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Apply(line); err != nil {
			t.Fatal(err)
		}
	}
	m.Rejected = r.Rejected()
	return m
}

// now is 3 s after the last record, so the header says "fresh 3s".
func now(m *dash.Model) time.Time { return m.LastTS.Add(3 * time.Second) }

func TestGolden(t *testing.T) {
	m := streamModel(t)
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"rich-120x40", Options{Width: 120, Height: 40, Rich: true}},
		{"rich-80x24", Options{Width: 80, Height: 24, Rich: true}},
		{"rich-200x60", Options{Width: 200, Height: 60, Rich: true}},
		{"simple-120x40", Options{Width: 120, Height: 40}},
		{"simple-80x24", Options{Width: 80, Height: 24}},
		{"simple-100-natural", Options{Width: 100}},
		{"small-60x20", Options{Width: 60, Height: 20, Rich: true}},
		{"help-80x24", Options{Width: 80, Height: 24, Rich: true, Help: true, Paused: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Now = now(m)
			got := Render(nil, m, tc.o)
			golden(t, filepath.Join("testdata", tc.name+".golden"), got)
			checkShape(t, got, tc.o)
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("frame differs from %s (go test -update rewrites it); got:\n%s", path, got)
	}
}

// checkShape checks what every frame must be: exactly Height rows of
// exactly Width cells, and plain ASCII without escapes in simple mode.
func checkShape(t *testing.T, frame []byte, o Options) {
	t.Helper()
	rows := strings.Split(string(frame), "\n")
	if o.Height > 0 && len(rows) != o.Height {
		t.Errorf("%d rows, want %d", len(rows), o.Height)
	}
	for i, row := range rows {
		if !o.Rich {
			for _, c := range []byte(row) {
				if c < 0x20 || c >= 0x7f {
					t.Fatalf("row %d: byte %#x in a simple frame: %q", i, c, row)
				}
			}
		}
		if n := utf8.RuneCountInString(stripSGR(row)); n != o.Width {
			t.Errorf("row %d is %d cells, want %d: %q", i, n, o.Width, row)
		}
	}
}

// stripSGR removes the colour sequences Render writes.
func stripSGR(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "\x1b[")
		if i < 0 {
			return b.String() + s
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], 'm')
		if j < 0 {
			return b.String()
		}
		s = s[i+j+1:]
	}
}

func TestPanelsPresent(t *testing.T) {
	m := streamModel(t)
	for _, rich := range []bool{true, false} {
		frame := stripSGR(string(Render(nil, m, Options{Width: 120, Height: 40, Rich: rich, Now: now(m)})))
		for _, want := range []string{"nixos-lab", "fresh 3s", "System", "Trends", "Firing issues", "Healing", "Events",
			"CRIT disk_usage mount=/", "journal_vacuum", "breaker journal_vacuum retry in 14m35s", "retry in 14m", "enp3s0", "thermal_zone0", "rejected 1"} {
			if !strings.Contains(frame, want) {
				t.Errorf("rich=%v: frame lacks %q", rich, want)
			}
		}
	}
}

// TestResize draws the same model at many sizes, as SIGWINCH makes
// lmn-dash do: every frame fills exactly the new size, and sizes below
// 80×24 say so.
func TestResize(t *testing.T) {
	m := streamModel(t)
	for _, sz := range [][2]int{{80, 24}, {81, 25}, {100, 30}, {120, 40}, {133, 41}, {200, 60}, {79, 24}, {80, 23}, {20, 5}, {1, 1}} {
		for _, rich := range []bool{true, false} {
			o := Options{Width: sz[0], Height: sz[1], Rich: rich, Now: now(m)}
			frame := Render(nil, m, o)
			checkShape(t, frame, o)
			small := sz[0] < MinWidth || sz[1] < MinHeight
			says := strings.Contains(string(frame), "too small")
			if small && sz[1] > 1 && !says {
				t.Errorf("%dx%d: does not say it is too small", sz[0], sz[1])
			}
			if !small && says {
				t.Errorf("%dx%d: says too small", sz[0], sz[1])
			}
		}
	}
}

func TestEmptyModel(t *testing.T) {
	m := dash.New()
	frame := string(Render(nil, m, Options{Width: 80, Height: 24, Now: time.Unix(0, 0)}))
	for _, want := range []string{"waiting for the stream", "no sample yet", "no issue records yet", "no heal records yet"} {
		if !strings.Contains(frame, want) {
			t.Errorf("empty frame lacks %q:\n%s", want, frame)
		}
	}
}

// TestHostileText: text from the stream cannot move the cursor or change
// colours, and simple frames stay ASCII.
func TestHostileText(t *testing.T) {
	m := dash.New()
	s := `{"kind":"issue","v":1,"ts":"2026-11-26T18:00:00Z","host":"h\u001b[2J","id":"x","rule":"unit_failed","subject":{"unit":"ev\u001b]0;pwned\u0007il.service"},"state":"firing","severity":"critical","summary":"résumé \u009b31m"}`
	if err := m.Apply(record.Line{Raw: []byte(s), Kind: "issue"}); err != nil {
		t.Fatal(err)
	}
	for _, rich := range []bool{true, false} {
		o := Options{Width: 100, Height: 30, Rich: rich, Now: m.LastTS}
		frame := stripSGR(string(Render(nil, m, o)))
		if strings.ContainsAny(frame, "\x1b\x07\u009b") {
			t.Errorf("rich=%v: control characters reached the frame: %q", rich, frame)
		}
		checkShape(t, Render(nil, m, o), o)
	}
}

func TestCRLF(t *testing.T) {
	m := streamModel(t)
	frame := string(Render(nil, m, Options{Width: 80, Height: 24, Rich: true, CRLF: true, Now: now(m)}))
	if n := strings.Count(frame, "\r\n"); n != 23 {
		t.Errorf("%d CRLF row ends, want 23", n)
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "/", "nginx.service", "\x1b[31m", "é", "\xff\xfe", "\u009b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, ascii := range []bool{true, false} {
			c := clean(s, ascii)
			for _, r := range c {
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
					t.Fatalf("clean(%q, %v) = %q keeps %U", s, ascii, c, r)
				}
				if ascii && r >= 0x7f {
					t.Fatalf("clean(%q, ascii) = %q keeps %U", s, c, r)
				}
			}
		}
	})
}

// TestCollectorStream draws what the real lmn-collect (through lmn-detect)
// wrote on a build machine: 20 samples 200 ms apart, no issues yet, but
// lmn-detect's start record says it is in the pipe.
func TestCollectorStream(t *testing.T) {
	m := replayModel(t, "../testdata/collect.ndjson")
	for _, sz := range [][2]int{{80, 24}, {120, 40}, {200, 60}} {
		for _, rich := range []bool{true, false} {
			o := Options{Width: sz[0], Height: sz[1], Rich: rich, Now: m.LastTS}
			frame := Render(nil, m, o)
			checkShape(t, frame, o)
			text := stripSGR(string(frame))
			for _, want := range []string{"vm", "CPU", "eth0", "no firing issues", "collect"} {
				if !strings.Contains(text, want) {
					t.Errorf("%dx%d rich=%v: frame lacks %q", sz[0], sz[1], rich, want)
				}
			}
		}
	}
}

// TestChunkings: the same stream read whole, one byte at a time and with
// CRLF line ends draws the same frame.
func TestChunkings(t *testing.T) {
	data, err := os.ReadFile("../testdata/stream.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	draw := func(in io.Reader) []byte {
		m := dash.New()
		r := record.NewReader(in, nil)
		for {
			line, err := r.Next()
			if err != nil {
				break
			}
			m.Apply(line)
		}
		m.Rejected = r.Rejected()
		return Render(nil, m, Options{Width: 120, Height: 40, Rich: true, Now: now(m)})
	}
	whole := draw(bytes.NewReader(data))
	for name, in := range map[string]io.Reader{
		"one byte": iotest.OneByteReader(bytes.NewReader(data)),
		"crlf":     bytes.NewReader(bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))),
		"half":     iotest.HalfReader(bytes.NewReader(data)),
	} {
		if got := draw(in); !bytes.Equal(got, whole) {
			t.Errorf("%s: frame differs from the whole read", name)
		}
	}
}

// TestSystemValuesAligned: at 80 columns every value of the System panel
// starts in one column, whether its label is short (CPU), nine cells long
// (Mem avail) or cut (…al_zone0).
func TestSystemValuesAligned(t *testing.T) {
	m := streamModel(t)
	frame := string(Render(nil, m, Options{Width: 80, Height: 24, Now: now(m)}))
	rows := 0
	for _, row := range strings.Split(frame, "\n") {
		if len(row) < 40 || !strings.HasPrefix(row, "| ") || !strings.Contains(".!X", row[2:3]) || row[3] != ' ' {
			continue
		}
		cell := row[4:40] // label column (9 cells and a space), then the value
		if cell[9] != ' ' || cell[10] == ' ' {
			t.Errorf("value not in the column after the 9-cell label: %q", row[:40])
		}
		rows++
	}
	if rows < 10 {
		t.Fatalf("only %d System rows found:\n%s", rows, frame)
	}
}

// TestNoSwap: a machine without swap says so, not "Swap used 0% of 0B".
func TestNoSwap(t *testing.T) {
	m := replayModel(t, "../testdata/collect.ndjson")
	if m.Sample.Swap == nil || m.Sample.Swap.TotalBytes != 0 {
		t.Fatalf("the recorded machine has swap: %+v", m.Sample.Swap)
	}
	frame := string(Render(nil, m, Options{Width: 80, Height: 24, Now: m.LastTS}))
	if strings.Contains(frame, "of 0B") || !strings.Contains(frame, "Swap      none  no swap configured") {
		t.Errorf("swap line of a machine without swap:\n%s", frame)
	}
}

// rightPanel returns the text of the named panel in the right column of a
// simple frame, its rows joined by spaces.
func rightPanel(frame string, width int, title string) string {
	var rows []string
	in := false
	for _, row := range strings.Split(frame, "\n") {
		if len(row) < width {
			continue
		}
		cell := row[width/2:]
		switch {
		case strings.HasPrefix(cell, "+- "+title+" "):
			in = true
		case strings.HasPrefix(cell, "+-"):
			in = false
		case in:
			rows = append(rows, strings.TrimSpace(strings.Trim(cell, "|")))
		}
	}
	return strings.Join(rows, " ")
}

// TestAdviceWhole is issue 15's "run: systemc…": the advice lmn-heal
// gives is shown whole, wrapped, at 80 columns as at 200, while its issue
// fires; and steps of lmn-heal --dry-run are drawn as planned, not run.
func TestAdviceWhole(t *testing.T) {
	const advice = "lmn-e2e-hangs.service runs but does not answer its probe redis: read its log (journalctl --user -u lmn-e2e-hangs.service), check what the probe asks (lmn-collect --print-probes), fix the cause, then systemctl --user restart lmn-e2e-hangs.service; to retry by hand: systemctl --user restart -- lmn-e2e-hangs.service"
	m := dash.New()
	for i, s := range []string{
		`{"kind":"issue","v":1,"ts":"2026-12-04T21:01:00Z","host":"vm","src":"lmn-detect","id":"05","rule":"probe_failed","subject":{"probe":"redis","scope":"user","unit":"lmn-e2e-hangs.service"},"state":"firing","severity":"warning","since":"2026-12-04T21:01:00Z","summary":"probe redis fails"}`,
		`{"kind":"heal","v":1,"ts":"2026-12-04T21:01:29Z","host":"vm","src":"lmn-heal","issue":"05","rule":"probe_failed","subject":{"probe":"redis","scope":"user","unit":"lmn-e2e-hangs.service"},"action":"restart_unit","params":{"unit":"lmn-e2e-hangs.service"},"step":1,"phase":"gave_up","attempt":3,"error":"circuit breaker open","advice":"` + advice + `","retry_at":"2026-12-04T21:31:29Z"}`,
		`{"kind":"issue","v":1,"ts":"2026-12-04T21:02:00Z","host":"vm","src":"lmn-detect","id":"u","rule":"unit_failed","subject":{"scope":"system","unit":"nginx.service"},"state":"firing","severity":"warning","since":"2026-12-04T21:02:00Z"}`,
		`{"kind":"heal","v":1,"ts":"2026-12-04T21:02:00Z","host":"vm","src":"lmn-heal","issue":"u","rule":"unit_failed","subject":{"scope":"system","unit":"nginx.service"},"action":"restart_unit","params":{"unit":"nginx.service"},"step":1,"phase":"planned","attempt":1}`,
	} {
		if err := m.Apply(record.Line{N: i + 1, Raw: []byte(s), Kind: kindOf(s)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range []int{80, 120, 200} {
		frame := string(Render(nil, m, Options{Width: w, Height: 40, Now: m.LastTS}))
		if got := rightPanel(frame, w, "Advice"); !strings.Contains(got, advice) {
			t.Errorf("%d columns: the Advice panel says %q, want all of %q", w, got, advice)
		}
		if got := rightPanel(frame, w, "Healing"); !strings.Contains(got, "planned, not run restart_unit 1") {
			t.Errorf("%d columns: Healing says %q, want the planned step", w, got)
		}
	}
	frame := string(Render(nil, m, Options{Width: 200, Height: 40, Now: m.LastTS}))
	if got := rightPanel(frame, 200, "Events"); !strings.Contains(got, "PLAN step 1 restart_unit unit=nginx.service (dry run: not run)") {
		t.Errorf("Events say %q, want the planned step", got)
	}
	// The issue resolves: its advice goes.
	s := `{"kind":"issue","v":1,"ts":"2026-12-04T21:03:00Z","host":"vm","src":"lmn-detect","id":"05","rule":"probe_failed","subject":{},"state":"resolved","severity":"warning"}`
	if err := m.Apply(record.Line{N: 9, Raw: []byte(s), Kind: "issue"}); err != nil {
		t.Fatal(err)
	}
	if frame := string(Render(nil, m, Options{Width: 120, Height: 40, Now: m.LastTS})); strings.Contains(frame, "Advice") {
		t.Errorf("advice of a resolved issue still shown:\n%s", frame)
	}
}

func kindOf(s string) string {
	_, rest, _ := strings.Cut(s, `"kind":"`)
	k, _, _ := strings.Cut(rest, `"`)
	return k
}

func TestWrap(t *testing.T) {
	for _, tc := range []struct {
		s    string
		w    int
		want []string
	}{
		{"run as root: systemctl restart -- u1.service", 20, []string{"run as root:", "systemctl restart --", "u1.service"}},
		{"abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"a abcdefghij", 4, []string{"a", "abcd", "efgh", "ij"}},
		{"", 10, nil},
	} {
		got := wrap(tc.s, tc.w)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("wrap(%q, %d) = %q, want %q", tc.s, tc.w, got, tc.want)
		}
		for _, l := range got {
			if len([]rune(l)) > tc.w {
				t.Errorf("wrap(%q, %d): %q too wide", tc.s, tc.w, l)
			}
		}
	}
}
