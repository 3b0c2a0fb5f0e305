package frame

import (
	"fmt"
	"strings"

	"github.com/lmn-heal/lmn/internal/dash"
	"github.com/lmn-heal/lmn/internal/record"
)

var levelStyle = [3]style{good, warn, crit}

func (r *renderer) clean(s string) string { return clean(s, !r.o.Rich) }

// item is one health-coloured row: a mark, a label, the value and details.
func (r *renderer) item(lvl dash.Level, label, value, detail string) line {
	st := levelStyle[lvl]
	l := line{{s: r.g.mark[lvl], st: st}, {s: " "}, {s: r.label(label)}, {s: value, st: st}}
	if detail != "" {
		l = append(l, span{s: "  " + detail, st: dim})
	}
	return l
}

// label fits a name from the stream into the label column, labelW cells
// and a space, so the values start in one column; a long name keeps its
// end, which tells mounts and sensors apart.
func (r *renderer) label(s string) string {
	rs := []rune(r.clean(s))
	if len(rs) > r.labelW {
		return r.g.more + string(rs[len(rs)-r.labelW+1:]) + " "
	}
	return string(rs) + spaces(r.labelW-len(rs)) + " "
}

// labelWidth is the label column for a panel width cells wide.
func labelWidth(width int) int {
	if width >= 56 {
		return 14
	}
	return 9
}

// header is the top bar. Parts that do not fit are left out, least
// important first.
func (r *renderer) header() line {
	m := r.m
	host := m.Host
	if host == "" {
		host = "(no host yet)"
	}
	parts := []part{{" lmn-dash", bar, 6}, {" " + r.clean(host), bar, 0}}
	if m.LastTS.IsZero() {
		parts = append(parts, part{"  waiting for the stream", bar, 1})
	} else {
		d := r.o.Now.Sub(m.LastTS)
		st := bar
		late, dead := m.Staleness()
		if d > dead {
			st = crit
		} else if d > late {
			st = warn
		}
		parts = append(parts, part{"  " + m.LastTS.UTC().Format("2006-01-02"), bar, 5},
			part{" " + m.LastTS.UTC().Format("15:04:05Z"), bar, 1}, part{" fresh " + age(d), st, 0})
	}
	parts = append(parts, part{" " + r.stages(), bar, 4})
	if m.PipeMisordered() {
		parts = append(parts, part{"  wrong pipe order", warn, 1})
	}
	parts = append(parts, part{fmt.Sprintf("  issues %d", len(m.Issues)), bar, 0},
		part{fmt.Sprintf("  rejected %d", m.Rejected), bar, 3})
	if m.Invalid > 0 {
		parts = append(parts, part{fmt.Sprintf("  invalid %d", m.Invalid), bar, 3})
	}
	if r.o.Ended {
		parts = append(parts, part{"  input ended", bar, 2})
	}
	return fitParts(parts, r.o.Width)
}

// misordered is what simple mode says of a pipe built in the wrong order;
// the header says "wrong pipe order", short enough for 80 columns.
const misordered = "wrong pipe order: want lmn-collect | lmn-detect | lmn-heal | lmn-dash"

// stages marks each stage of the pipe seen (a record of its own came) or
// not.
func (r *renderer) stages() string {
	var b strings.Builder
	for _, src := range dash.PipeStages {
		mark := r.g.unseen
		if r.m.Sources[src] != nil {
			mark = r.g.seen
		}
		fmt.Fprintf(&b, " %s%s", strings.TrimPrefix(src, "lmn-"), mark)
	}
	return b.String()
}

// part is a piece of a bar; prio says which go first when it is too wide.
type part struct {
	text string
	st   style
	prio int // lower stays longer
}

// fitParts leaves out parts, highest prio first, until the rest fit in
// width, and pads the bar to width.
func fitParts(parts []part, width int) line {
	for drop := 6; drop > 0; drop-- {
		n := 0
		for _, p := range parts {
			n += len([]rune(p.text))
		}
		if n <= width {
			break
		}
		kept := parts[:0]
		for _, p := range parts {
			if p.prio < drop {
				kept = append(kept, p)
			}
		}
		parts = kept
	}
	l := make(line, 0, len(parts)+1)
	for _, p := range parts {
		l = append(l, span{s: p.text, st: p.st})
	}
	if pad := width - l.width(); pad > 0 {
		l = append(l, span{s: spaces(pad), st: bar})
	}
	return l
}

func (r *renderer) system(width int) panel {
	p := panel{title: "System", min: 4}
	r.labelW = labelWidth(width)
	s := r.m.Sample
	if s == nil {
		p.lines = []line{{{s: "no sample yet", st: dim}}}
		return p
	}
	wide := width >= 56
	if c := s.CPU; c != nil {
		d := fmt.Sprintf("%d cpus", c.Count)
		if wide {
			d = fmt.Sprintf("usr %s sys %s iow %s  %s", pct(c.UserRatio), pct(c.SystemRatio), pct(c.IOWaitRatio), d)
		}
		p.lines = append(p.lines, r.item(r.m.CPULevel(), "CPU", pct(c.BusyRatio), d))
	}
	if l := s.Load; l != nil {
		d := fmt.Sprintf("%s/cpu", num(l.Load1Per, 2))
		if wide {
			d += fmt.Sprintf("  %d runnable of %d", l.Runnable, l.Processes)
		}
		p.lines = append(p.lines, r.item(r.m.LoadLevel(), "Load", num(l.Load1, 2)+" "+num(l.Load5, 2)+" "+num(l.Load15, 2), d))
	}
	if mm := s.Mem; mm != nil {
		d := "of " + bytesIEC(float64(mm.TotalBytes))
		if wide {
			d += "  cached " + bytesIEC(float64(mm.CachedBytes))
		}
		p.lines = append(p.lines, r.item(r.m.MemLevel(), "Mem avail", bytesIEC(float64(mm.AvailableBytes))+" "+pct(mm.AvailableRatio), d))
	}
	if sw := s.Swap; sw != nil && sw.TotalBytes == 0 {
		p.lines = append(p.lines, r.item(r.m.SwapLevel(), "Swap", "none", "no swap configured"))
	} else if sw != nil {
		d := "of " + bytesIEC(float64(sw.TotalBytes))
		if wide {
			d += fmt.Sprintf("  in %s out %s pg/s", num(sw.InPerS, 0), num(sw.OutPerS, 0))
		}
		p.lines = append(p.lines, r.item(r.m.SwapLevel(), "Swap used", pct(sw.UsedRatio), d))
	}
	if s.PSI != nil {
		p.lines = append(p.lines, r.psi(s.PSI))
	}
	p.lines = append(p.lines, r.disks(s.Disks, wide)...)
	p.lines = append(p.lines, r.net(s.Net)...)
	p.lines = append(p.lines, r.temps(s.Temps)...)
	if u := s.Units; u != nil {
		for _, f := range u.Failed {
			p.lines = append(p.lines, r.item(r.m.UnitLevel(f.Unit), "failed", r.clean(f.Unit), u.Scope))
		}
	}
	if n := s.Nix; n != nil {
		p.lines = append(p.lines, r.item(dash.LevelOK, "Nix", fmt.Sprintf("generation %d", n.SystemGeneration), fmt.Sprintf("%d kept", n.Generations)))
		if k := len(n.Rejected); k > 0 {
			p.lines = append(p.lines, r.item(dash.LevelWarning, "rejected", fmt.Sprintf("%d generation%s", k, map[bool]string{true: "s"}[k > 1]), fmt.Sprintf("latest %d", n.Rejected[k-1].Generation)))
		}
	}
	return p
}

func (r *renderer) psi(p *record.PSI) line {
	l := line{{s: r.g.mark[0], st: good}, {s: " "}, {s: r.label("Pressure")}}
	worst := dash.LevelOK
	for _, res := range []struct {
		name string
		p    *record.Pressure
	}{{"cpu", p.CPU}, {"memory", p.Memory}, {"io", p.IO}} {
		if res.p == nil || res.p.Some == nil {
			continue
		}
		lvl := r.m.PSILevel(res.name)
		worst = max(worst, lvl)
		l = append(l, span{s: res.name[:min(3, len(res.name))] + " "}, span{s: pct(res.p.Some.Avg10Ratio), st: levelStyle[lvl]}, span{s: " "})
	}
	l[0] = span{s: r.g.mark[worst], st: levelStyle[worst]}
	return l
}

func (r *renderer) disks(d *record.Disks, wide bool) []line {
	if d == nil {
		return nil
	}
	var out []line
	for _, mt := range d.Mounts {
		detail := "of " + bytesIEC(float64(mt.SizeBytes))
		if wide {
			detail += "  inodes " + pct(mt.InodesUsedRatio) + "  " + r.clean(mt.FSType)
		}
		if mt.ReadOnly {
			detail += " ro"
		}
		out = append(out, r.item(r.m.MountLevel(mt), mt.Mount, pct(mt.UsedRatio), detail))
	}
	for _, dev := range d.Devices {
		out = append(out, r.item(r.m.SubjectLevel("device", dev.Device), dev.Device,
			"r "+bytesIEC(dev.ReadBytesPerS)+"/s w "+bytesIEC(dev.WriteBytesPerS)+"/s", "busy "+pct(dev.BusyRatio)))
	}
	return out
}

func (r *renderer) net(n *record.Net) []line {
	if n == nil {
		return nil
	}
	var out []line
	for _, in := range n.Interfaces {
		state := r.clean(in.OperState)
		detail := ""
		if in.Up {
			detail = "rx " + bytesIEC(in.RxBytesPerS) + "/s tx " + bytesIEC(in.TxBytesPerS) + "/s"
			if e := in.RxErrorsPerS + in.TxErrorsPerS; e > 0 {
				detail += " err " + num(e, 1) + "/s"
			}
		}
		out = append(out, r.item(r.m.InterfaceLevel(in), in.Name, state, detail))
	}
	route := "present"
	if !n.DefaultRoute {
		route = "missing"
	}
	return append(out, r.item(r.m.RouteLevel(), "route", route, "default"))
}

func (r *renderer) temps(t *record.Temps) []line {
	if t == nil {
		return nil
	}
	var out []line
	for _, s := range t.Sensors {
		detail := r.clean(s.Label)
		if s.CritCelsius != nil {
			detail += " crit " + num(*s.CritCelsius, 0)
		}
		out = append(out, r.item(r.m.SensorLevel(s), s.Sensor, num(s.Celsius, 1)+r.g.degree+"C", strings.TrimSpace(detail)))
	}
	return out
}

func (r *renderer) trends(width int) panel {
	p := panel{title: "Trends", min: 2}
	r.labelW = labelWidth(width)
	m := r.m
	type trend struct {
		label string
		ring  *dash.Ring
		lvl   dash.Level
		scale float64 // 0: scale to the largest point, at least 0.1
	}
	ts := []trend{{"CPU busy", m.CPU, m.CPULevel(), 1}, {"Mem avail", m.MemAvail, m.MemLevel(), 1}}
	for _, res := range []string{"cpu", "memory", "io"} {
		if ring := m.PSI[res]; ring != nil {
			ts = append(ts, trend{"PSI " + res[:min(3, len(res))], ring, m.PSILevel(res), 0})
		}
	}
	if s := m.Sample; s != nil && s.Disks != nil {
		for _, mt := range s.Disks.Mounts {
			if ring := m.DiskFill[mt.Mount]; ring != nil {
				ts = append(ts, trend{mt.Mount, ring, m.MountLevel(mt), 1})
			}
		}
	}
	n := width - r.labelW - 1 - 6
	for _, t := range ts {
		if t.ring.Len() == 0 {
			continue
		}
		pts := t.ring.Last(nil, n)
		l := line{{s: r.label(t.label)}, {s: r.sparkline(pts, t.scale), st: levelStyle[t.lvl]}, {s: " " + pct(last(t.ring))}}
		p.lines = append(p.lines, l)
	}
	if len(p.lines) == 0 {
		p.lines = []line{{{s: "no sample yet", st: dim}}}
	}
	return p
}

func last(r *dash.Ring) float64 {
	if pts := r.Last(nil, 1); len(pts) == 1 {
		return pts[0]
	}
	return 0
}

func (r *renderer) sparkline(pts []float64, scale float64) string {
	if scale == 0 {
		scale = 0.1
		for _, v := range pts {
			scale = max(scale, v)
		}
	}
	ramp := r.g.spark
	var b strings.Builder
	for _, v := range pts {
		i := int(v/scale*float64(len(ramp)-1) + 0.5)
		i = max(0, min(i, len(ramp)-1))
		b.WriteRune(ramp[i])
	}
	return b.String()
}
