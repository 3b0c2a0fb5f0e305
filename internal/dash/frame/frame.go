// Package frame draws lmn-dash's model as one screen of text: rich (ANSI
// colour and box drawing) or simple (plain ASCII). It only builds bytes; the
// terminal is internal/dash/term's business.
package frame

import (
	"fmt"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/dash"
)

// MinWidth and MinHeight are the smallest size the full layout fits.
const (
	MinWidth  = 80
	MinHeight = 24
)

// Options say how to draw a frame.
type Options struct {
	Width  int
	Height int  // 0: as tall as the content needs
	Rich   bool // colour and box drawing; false is plain ASCII
	CRLF   bool // end rows with "\r\n" (raw terminal) instead of "\n"
	// Now is the wall clock, used only for how fresh the stream is; ages of
	// issues and breakers count from the stream's own time.
	Now    time.Time
	Paused bool
	Help   bool
	Ended  bool // the input has ended
	// NoKeys: no keys are read (plain mode), so the footer lists none.
	NoKeys bool
}

type renderer struct {
	o      Options
	labelW int // the label column of the panel being drawn
	g      *glyphs
	m      *dash.Model
}

// Render appends a frame of m to dst: Height rows of exactly Width cells
// (or the content's own height when Height is 0), rows separated by a
// newline, no newline after the last.
func Render(dst []byte, m *dash.Model, o Options) []byte {
	r := &renderer{o: o, g: &asciiGlyphs, m: m}
	if o.Rich {
		r.g = &richGlyphs
	}
	if o.Width < 1 {
		return dst
	}
	nl := "\n"
	if o.CRLF {
		nl = "\r\n"
	}
	w, h := o.Width, o.Height
	n := 0
	row := func() {
		if n > 0 {
			dst = append(dst, nl...)
		}
		n++
	}
	if w < MinWidth || (h > 0 && h < MinHeight) {
		for _, l := range r.small() {
			row()
			dst = r.appendFit(dst, l, w)
		}
	} else {
		row()
		dst = r.appendFit(dst, r.header(), w)
		body := 0
		if h > 0 {
			body = h - 2
		}
		g := r.body(body)
		for i := range g.len() {
			row()
			dst = append(dst, g.row(i)...)
		}
		if h > 0 { // a frame for a script or a log has no keys to explain
			row()
			dst = r.appendFit(dst, r.footer(), w)
		}
	}
	for n < h {
		row()
		dst = append(dst, spaces(w)...)
	}
	return dst
}

// body lays the panels (or the help) out in two columns, each height rows
// tall (or as tall as needed when height is 0).
func (r *renderer) body(height int) *grid {
	if r.o.Help {
		return r.help(height)
	}
	lw := r.o.Width / 2
	rw := r.o.Width - lw
	left := r.column(lw, height, []panel{r.system(lw - 4), r.trends(lw - 4)})
	rp := []panel{r.issues(rw - 4)}
	if a := r.advice(rw - 4); len(a.lines) > 0 {
		rp = append(rp, a)
	}
	right := r.column(rw, height, append(rp, r.healing(rw-4), r.events(rw-4)))
	n := max(left.len(), right.len())
	g := &grid{buf: make([]byte, 0, len(left.buf)+len(right.buf)+n*r.o.Width), end: make([]int, 0, n)}
	for i := range n {
		if i < left.len() {
			g.buf = append(g.buf, left.row(i)...)
		} else {
			g.buf = append(g.buf, spaces(lw)...)
		}
		if i < right.len() {
			g.buf = append(g.buf, right.row(i)...)
		} else {
			g.buf = append(g.buf, spaces(rw)...)
		}
		g.next()
	}
	return g
}

// grid is rows of encoded text, each exactly as wide as its column, in one
// buffer.
type grid struct {
	buf []byte
	end []int // where each row ends in buf
}

func (g *grid) len() int { return len(g.end) }

func (g *grid) row(i int) []byte {
	start := 0
	if i > 0 {
		start = g.end[i-1]
	}
	return g.buf[start:g.end[i]]
}

func (g *grid) next() { g.end = append(g.end, len(g.buf)) }

func spaces(n int) string {
	const s = "                                                                                                                                "
	if n <= len(s) {
		return s[:max(n, 0)]
	}
	return strings.Repeat(" ", n)
}

// panel is a titled box of lines. min is how few content lines it may be
// cut to before it is dropped.
type panel struct {
	title string
	lines []line
	min   int
}

// column stacks panels in a column width cells wide. With a height, panels
// are cut from the last one up until they fit, the last panel stretches to
// fill the column, and a panel that cannot keep its minimum is dropped.
func (r *renderer) column(width, height int, ps []panel) *grid {
	size := make([]int, len(ps))
	total := 0
	for i, p := range ps {
		size[i] = max(len(p.lines), 1)
		total += size[i] + 2
	}
	if height > 0 {
		for i := len(ps) - 1; i >= 0 && total > height; i-- {
			cut := min(total-height, size[i]-min(ps[i].min, size[i]))
			size[i] -= cut
			total -= cut
		}
		for i := len(ps) - 1; i >= 0 && total > height; i-- {
			total -= size[i] + 2
			size[i] = -1
		}
		for i := len(ps) - 1; i >= 0; i-- {
			if size[i] >= 0 {
				size[i] += height - total
				break
			}
		}
	}
	rows := max(total, height)
	g := &grid{buf: make([]byte, 0, rows*(width+64)), end: make([]int, 0, rows)}
	for i, p := range ps {
		if size[i] >= 0 {
			r.box(g, p, width, size[i])
		}
	}
	return g
}

// box draws p into g with n content rows, noting how many lines did not
// fit.
func (r *renderer) box(g *grid, p panel, width, n int) {
	gl := r.g
	top := line{{s: gl.tl + gl.h + " ", st: dim}, {s: p.title, st: bold}, {s: " ", st: dim}}
	top = append(top, span{s: repeat(gl.h, width-top.width()-1), st: dim}, span{s: gl.tr, st: dim})
	g.buf = r.appendFit(g.buf, top, width)
	g.next()
	lines := p.lines
	if len(lines) > n {
		hidden := len(lines) - n + 1
		lines = append(lines[:n-1:n-1], line{{s: fmt.Sprintf("%s %d more", gl.more, hidden), st: dim}})
	}
	side := span{s: gl.v, st: dim}
	for i := range n {
		var l line
		if i < len(lines) {
			l = lines[i]
		}
		g.buf = appendSpan(g.buf, side, r.o.Rich)
		g.buf = append(g.buf, ' ')
		g.buf = r.appendFit(g.buf, l, width-4)
		g.buf = append(g.buf, ' ')
		g.buf = appendSpan(g.buf, side, r.o.Rich)
		g.next()
	}
	g.buf = appendSpan(g.buf, span{s: gl.bl + repeat(gl.h, width-2) + gl.br, st: dim}, r.o.Rich)
	g.next()
}

func repeat(s string, n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat(s, n)
}

// small is the layout below MinWidth×MinHeight: it says so, then shows
// what matters most.
func (r *renderer) small() []line {
	note := fmt.Sprintf("too small: %dx%d is below %dx%d, showing a summary", r.o.Width, r.o.Height, MinWidth, MinHeight)
	rows := []line{r.header(), {{s: note, st: warn}}}
	rows = append(rows, r.issues(r.o.Width-2).lines...)
	rows = append(rows, r.system(r.o.Width-2).lines...)
	if r.o.Height > 0 && len(rows) > r.o.Height {
		rows = rows[:r.o.Height]
	}
	return rows
}

func (r *renderer) footer() line {
	l := line{{s: " q quit  p pause  ? help", st: bar}}
	if r.o.NoKeys {
		l = line{{s: " plain mode: Ctrl-C quits", st: bar}}
	}
	if r.o.Paused {
		l = append(l, span{s: "  PAUSED: display frozen, the stream is still read", st: bar})
	}
	size := fmt.Sprintf("%dx%d ", r.o.Width, r.o.Height)
	pad := r.o.Width - l.width() - len(size)
	if pad > 0 {
		l = append(l, span{s: spaces(pad), st: bar}, span{s: size, st: bar})
	}
	return l
}

func (r *renderer) help(height int) *grid {
	g := r.g
	text := []string{
		"Keys (read from the terminal; stdin is the stream):",
		"  q        quit and restore the terminal",
		"  p        pause or resume drawing (records are still read)",
		"  ?        show or hide this help",
		"",
		"Health, from lmn-detect's issue records for each subject:",
		"  " + g.mark[2] + " critical   " + g.mark[1] + " warning   " + g.mark[0] + " fine",
		"Without lmn-detect upstream, lmn-detect's default levels apply.",
		"",
		"fresh: time since the latest record. Ages count in stream time.",
		"Healing: ok/att = succeeded of attempted steps; recov = recovered of",
		"  verified steps; adv = advised only.",
	}
	p := panel{title: "Help"}
	for _, t := range text {
		p.lines = append(p.lines, line{{s: t}})
	}
	return r.column(r.o.Width, height, []panel{p})
}

// Changes appends what simple mode prints after its first frame instead
// of a whole frame: the header's facts when they differ from last (the
// summary returned, passed back next time), then each event after the
// first seen of all events (dash.Model.EventCount), one plain line each,
// whole. It returns the new summary and event count.
func Changes(dst []byte, m *dash.Model, last string, seen uint64) ([]byte, string, uint64) {
	r := &renderer{o: Options{}, g: &asciiGlyphs, m: m}
	var b strings.Builder
	b.WriteString("lmn-dash " + r.clean(m.Host) + " " + r.stages())
	if m.PipeMisordered() {
		b.WriteString("  " + misordered)
	}
	fmt.Fprintf(&b, "  issues %d  rejected %d", len(m.Issues), m.Rejected)
	if m.Invalid > 0 {
		fmt.Fprintf(&b, "  invalid %d", m.Invalid)
	}
	sum := b.String()
	if sum != last {
		dst = append(append(dst, sum...), '\n')
	}
	for _, e := range m.EventsSince(seen) {
		dst = append(dst, e.TS.UTC().Format("15:04:05")+" "+r.clean(e.Text)+"\n"...)
	}
	return dst, sum, m.EventCount
}
