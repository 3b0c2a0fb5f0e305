package frame

import (
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/dash"
	"github.com/lmn-heal/lmn/internal/record"
)

// A pipe's end sees each stage's start record before its upstream's:
// lmn-heal's, lmn-detect's, lmn-collect's. lmn-collect | lmn-heal |
// lmn-detect | lmn-dash gives lmn-detect's first; the header says the
// order is wrong, in rich and in simple mode.
func TestWrongPipeOrder(t *testing.T) {
	for _, c := range []struct {
		order []string
		wrong bool
	}{
		{[]string{"lmn-heal", "lmn-detect", "lmn-collect"}, false},
		{[]string{"lmn-detect", "lmn-collect"}, false},            // no lmn-heal
		{[]string{"lmn-heal", "lmn-collect"}, false},              // no lmn-detect: lmn-heal warns of that itself
		{[]string{"lmn-detect", "lmn-heal", "lmn-collect"}, true}, // collect | heal | detect
		{[]string{"lmn-collect", "lmn-detect"}, true},             // detect | collect
	} {
		m := dash.New()
		for _, src := range c.order {
			s := `{"kind":"start","v":1,"ts":"2026-11-26T18:00:00Z","host":"h","src":"` + src + `","version":"dev"}`
			if err := m.Apply(record.Line{Raw: []byte(s), Kind: record.KindStart}); err != nil {
				t.Fatal(err)
			}
		}
		frame := stripSGR(string(Render(nil, m, Options{Width: 160, Height: 40, Now: time.Date(2026, 11, 26, 18, 0, 1, 0, time.UTC)})))
		changes, _, _ := Changes(nil, m, "", 0)
		for what, text := range map[string]string{"frame": frame, "simple mode": string(changes)} {
			if got := strings.Contains(text, "wrong pipe order"); got != c.wrong {
				t.Errorf("%v: %s says wrong pipe order %v, want %v:\n%s", c.order, what, got, c.wrong, text)
			}
		}
	}
}
