package heal

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/lmn-heal/lmn/internal/record"
)

func FuzzParsePolicy(f *testing.F) {
	f.Add(DefaultPolicyJSON())
	f.Add([]byte(`{"extend": true, "concurrency": 2}`))
	f.Add([]byte(`{"ladders": [{"name": "a", "rules": ["x*"], "match": {"mount": "/b[a-"}, "advice": "a"}]}`))
	f.Add([]byte(`{"breaker": {"window": "-1s"}}`))
	f.Add([]byte(`{"ladders": [{"name": "a", "rules": ["x"], "advice": "a", "steps": [{"actions": [{"action": "n", "params": {"u": "{{ }}"}}], "verify": "1s"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy("policy.json", data, nil)
		if err != nil {
			return
		}
		if err := p.Validate(nil); err != nil {
			t.Fatalf("parsed policy does not validate: %v", err)
		}
		// What parses prints and parses again to the same policy.
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := ParsePolicy("policy.json", b, nil)
		if err != nil {
			t.Fatalf("printed policy does not parse: %v\n%s", err, b)
		}
		c, _ := json.Marshal(q)
		if !bytes.Equal(b, c) {
			t.Fatalf("round trip differs:\n%s\n%s", b, c)
		}
	})
}

func FuzzLoadState(f *testing.F) {
	h := newHarness(f, nil, false)
	h.observe(issueLine(f, t0, "unit_failed", record.StateFiring, record.SeverityWarning, unit("a.service")))
	h.observe(issueLine(f, t0, "temperature", record.StateFiring, record.SeverityWarning, map[string]string{"sensor": "z"}))
	st, err := h.e.MarshalState()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(st)
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"issues":[null]}`))
	f.Add([]byte(`{"version":1,"issues":[{"id":"x","phase":"ready","step":99,"act":7,"ladder":"unit_failed"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := New(Config{Policy: DefaultPolicy(), Host: "h", Target: testTarget})
		if err := e.LoadState(data); err != nil {
			return
		}
		// A state that loads can be driven without a panic and saved.
		e.Observe(sampleLine(t, t0.Add(100000000000000)))
		e.Observe(issueLine(t, t0.Add(200000000000000), "unit_failed", record.StateResolved, record.SeverityWarning, unit("a.service")))
		_, jobs := e.Drain()
		for _, j := range jobs {
			e.Complete(j.ID, Result{Err: "x"})
		}
		if _, err := e.MarshalState(); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzObserve(f *testing.F) {
	f.Add([]byte(`{"kind":"issue","ts":"2026-11-26T18:00:00Z","id":"a","rule":"unit_failed","subject":{"unit":"a.service"},"state":"firing","severity":"warning"}`))
	f.Add([]byte(`{"kind":"issue","ts":"2026-11-26T18:00:00Z","id":"a","rule":"disk_usage","subject":{"mount":"/"},"state":"resolved"}`))
	f.Add([]byte(`{"kind":"sample","ts":"2026-11-26T18:00:00Z","disks":{"mounts":[{"mount":"/","holds_nix_store":true}]}}`))
	f.Add([]byte(`{"kind":"issue","ts":"0001-01-01T00:00:00Z","id":"","rule":"mem_pressure","subject":null}`))
	f.Add([]byte(`{"kind":"sample","ts":"2026-11-26T18:00:00Z","mem":{"top_units":[{"unit":"a.service","scope":"user","memory_bytes":9}]}}`))
	f.Add([]byte(`{"kind":"sample","ts":"2026-11-26T18:00:00Z","mem":{"units":[{"unit":"a.service","scope":"user","memory_bytes":9,"max_bytes":10,"pressure":{"some":{"avg10_ratio":0.5}}}]},` +
		`"probes":[{"name":"redis","unit":"a.service","scope":"user","kind":"tcp","ok":true,"checked_at":"2026-11-26T18:00:01Z","streak":2}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := New(Config{Policy: DefaultPolicy(), Host: "h", Target: testTarget})
		kind := ""
		var k struct {
			Kind string `json:"kind"`
		}
		if json.Unmarshal(data, &k) == nil {
			kind = k.Kind
		}
		// The facts of a sample are decoded when an issue needs them: a
		// memory issue (the units' own cgroups) and a probe's (its result).
		facts := []record.Line{
			issueLine(t, t0, "mem_pressure", record.StateFiring, record.SeverityWarning, map[string]string{}),
			issueLine(t, t0, "probe_failed", record.StateFiring, record.SeverityWarning, map[string]string{"probe": "redis", "unit": "a.service", "scope": "user"}),
		}
		for i := range 3 {
			e.Observe(record.Line{N: 1, Raw: data, Kind: kind})
			if i < len(facts) {
				e.Observe(facts[i])
			}
			_, jobs := e.Drain()
			for _, j := range jobs {
				e.Complete(j.ID, Result{Tier: record.TierPrivd})
			}
		}
		if e.Running() != 0 {
			t.Fatalf("%d jobs still running after all completed", e.Running())
		}
	})
}
