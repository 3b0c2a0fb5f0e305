package frame

import (
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/dash"
	"github.com/lmn-heal/lmn/internal/record"
)

// The System panel says how many generations lmn rejected (it never
// switches to them by itself), and the latest.
func TestNixRejectedLine(t *testing.T) {
	m := dash.New()
	s := `{"kind":"sample","v":1,"ts":"2026-11-26T18:00:00Z","host":"h","src":"lmn-collect","seq":1,"interval_seconds":30,` +
		`"nix":{"system_generation":6,"generations":3,"rejected":[{"generation":7,"store_path":"/nix/store/c-nixos-system"}]}}`
	if err := m.Apply(record.Line{Raw: []byte(s), Kind: record.KindSample}); err != nil {
		t.Fatal(err)
	}
	frame := stripSGR(string(Render(nil, m, Options{Width: 100, Height: 40, Now: time.Date(2026, 11, 26, 18, 0, 1, 0, time.UTC)})))
	if words := strings.Join(strings.Fields(frame), " "); !strings.Contains(words, "! rejected 1 generation latest 7") {
		t.Errorf("no line for the rejected generation:\n%s", frame)
	}
}
