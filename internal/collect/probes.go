package collect

import (
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// probeResults is the probes group: the latest finished result of each
// probe, in the order of the configuration, or nil without probes or
// before the first check ended. It never waits for a check.
func (c *Collector) probeResults() []record.ProbeResult {
	if c.cfg.Probes == nil {
		return nil
	}
	c.g.results = c.cfg.Probes(c.g.results[:0])
	if len(c.g.results) == 0 {
		return nil
	}
	out := c.g.probes[:0]
	for _, r := range c.g.results {
		p := record.ProbeResult{Name: r.Name, Kind: r.Kind, OK: r.OK, Error: r.Error, Streak: r.Streak,
			LatencySeconds: float64(r.Latency.Round(time.Microsecond)) / float64(time.Second),
			CheckedAt:      record.Time{Time: r.CheckedAt.UTC()}}
		if r.Unit != "" {
			p.Unit, p.Scope = r.Unit, r.Scope
		}
		out = append(out, p)
	}
	c.g.probes = out
	return out
}
