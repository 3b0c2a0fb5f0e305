package collect

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// checkSame holds record.AppendSample, which lmn-collect writes every
// sample with, to what record.Writer.Emit (encoding/json) writes for s.
func checkSame(t testing.TB, s *record.Sample) {
	got, err := record.AppendSample(nil, s)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("AppendSample differs from encoding/json:\ngot:  %s\nwant: %s", got, want.Bytes())
	}
}

// The samples of this machine and of the fixture machine, as collected.
func TestAppendSampleRealAndFixture(t *testing.T) {
	c := New(Config{ProcRoot: "/proc", SysRoot: "/sys", NixRoot: "/nix", Units: UnitsNone, Host: "h"})
	defer c.Close()
	c.Prime()
	checkSame(t, c.Sample(t.Context()))
	f, clk, _ := newFixture(t, collecttestRoot(t))
	f.Prime()
	clk.t = clk.t.Add(time.Second)
	checkSame(t, f.Sample(t.Context()))
}
