package record

import (
	"strings"
	"testing"
)

func TestUpstream(t *testing.T) {
	line := func(s string) Line {
		r := NewReader(strings.NewReader(s+"\n"), nil)
		l, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	collectStart := line(`{"kind":"start","src":"lmn-collect"}`)
	detectStart := line(`{"kind":"start","src":"lmn-detect"}`)
	sample := line(`{"kind":"sample","src":"lmn-collect"}`)
	issue := line(`{"kind":"issue","src":"lmn-detect"}`)
	heal := line(`{"kind":"heal","src":"lmn-heal"}`)

	// lmn-collect | lmn-heal: samples and no lmn-detect, said once.
	u := Upstream{Stage: "lmn-heal"}
	if u.Check(collectStart) != "" || !strings.Contains(u.Check(sample), "no lmn-detect start record") || u.Check(sample) != "" {
		t.Error("lmn-heal without lmn-detect: want one warning at the first sample")
	}
	// The right order: nothing.
	u = Upstream{Stage: "lmn-heal"}
	for _, l := range []Line{collectStart, detectStart, sample, issue, sample} {
		if w := u.Check(l); w != "" {
			t.Errorf("right order warned: %s", w)
		}
	}
	// … | lmn-heal | lmn-detect: heal records, once, and the order said.
	d := Upstream{Stage: "lmn-detect"}
	if d.Check(sample) != "" || d.Check(collectStart) != "" {
		t.Error("lmn-detect warned on samples")
	}
	if w := d.Check(heal); !strings.Contains(w, "lmn-heal is before lmn-detect") || !strings.Contains(w, Pipe) || d.Check(heal) != "" {
		t.Errorf("heal records at lmn-detect: %q", w)
	}
	d = Upstream{Stage: "lmn-detect"}
	if w := d.Check(line(`{"kind":"start","src":"lmn-heal"}`)); !strings.Contains(w, "lmn-heal's records come in") || d.Check(heal) != "" {
		t.Errorf("lmn-heal's start record at lmn-detect: %q, then a heal record warned again", w)
	}
	if w := d.Check(issue); !strings.Contains(w, "issue records come in") || d.Check(issue) != "" {
		t.Errorf("issue records at lmn-detect: %q", w)
	}
}
