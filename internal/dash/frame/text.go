package frame

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// style is how a span is drawn in rich mode; simple mode ignores it.
type style uint8

const (
	plain style = iota
	bold
	dim
	good
	warn
	crit
	bar // the header and footer bars
)

var sgr = [...]string{
	bold: "\x1b[1m",
	dim:  "\x1b[2m",
	good: "\x1b[32m",
	warn: "\x1b[33m",
	crit: "\x1b[1;31m",
	bar:  "\x1b[7m",
}

const reset = "\x1b[0m"

// span is text of one style. Its text is already sanitized.
type span struct {
	s  string
	st style
}

// line is one row of cells before it is fitted to a width.
type line []span

func (l line) width() int {
	n := 0
	for _, sp := range l {
		n += utf8.RuneCountInString(sp.s)
	}
	return n
}

// glyphs are the characters a mode draws with.
type glyphs struct {
	h, v, tl, tr, bl, br string
	spark                []rune
	more, degree         string
	mark                 [3]string // by level: ok, warning, critical
	seen, unseen         string
}

var richGlyphs = glyphs{
	h: "─", v: "│", tl: "┌", tr: "┐", bl: "└", br: "┘",
	spark: []rune("▁▂▃▄▅▆▇█"), more: "…", degree: "°",
	mark: [3]string{"●", "▲", "✗"}, seen: "✓", unseen: "·",
}

var asciiGlyphs = glyphs{
	h: "-", v: "|", tl: "+", tr: "+", bl: "+", br: "+",
	spark: []rune("_.-=+*#@"), more: "~", degree: "",
	mark: [3]string{".", "!", "X"}, seen: "+", unseen: "-",
}

// clean makes text from the stream safe to draw: control characters (an
// escape sequence in a unit name must not reach the terminal) become '?',
// and so does anything outside ASCII in simple mode.
func clean(s string, ascii bool) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) || (ascii && r >= 0x7f) {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// appendFit writes l cut to w cells (a cut marked with the more glyph) or
// padded with spaces to w cells.
func (r *renderer) appendFit(dst []byte, l line, w int) []byte {
	if w <= 0 {
		return dst
	}
	rich := r.o.Rich
	n := l.width()
	if n <= w {
		for _, sp := range l {
			dst = appendSpan(dst, sp, rich)
		}
		return append(dst, spaces(w-n)...)
	}
	left := w - 1
	for _, sp := range l {
		c := utf8.RuneCountInString(sp.s)
		if c <= left {
			dst = appendSpan(dst, sp, rich)
			left -= c
			continue
		}
		dst = appendSpan(dst, span{s: cutRunes(sp.s, left), st: sp.st}, rich)
		break
	}
	return appendSpan(dst, span{s: r.g.more, st: dim}, rich)
}

func cutRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// appendSpan writes sp, with escape sequences in rich mode.
func appendSpan(dst []byte, sp span, rich bool) []byte {
	if sp.s == "" {
		return dst
	}
	if rich && sp.st != plain {
		dst = append(dst, sgr[sp.st]...)
		dst = append(dst, sp.s...)
		return append(dst, reset...)
	}
	return append(dst, sp.s...)
}

// wrap breaks s into lines of at most w cells at spaces; a word longer
// than w is broken where it must be. Nothing is left out: advice is a
// command to copy.
func wrap(s string, w int) []string {
	w = max(w, 1)
	var out []string
	cur := []rune{}
	for _, word := range strings.Fields(s) {
		rs := []rune(word)
		if len(cur) > 0 && len(cur)+1+len(rs) > w {
			out = append(out, string(cur))
			cur = cur[:0]
		}
		if len(cur) > 0 {
			cur = append(cur, ' ')
		}
		for len(cur)+len(rs) > w {
			n := w - len(cur)
			out = append(out, string(append(cur, rs[:n]...)))
			cur, rs = cur[:0], rs[n:]
		}
		cur = append(cur, rs...)
	}
	if len(cur) > 0 {
		out = append(out, string(cur))
	}
	return out
}
