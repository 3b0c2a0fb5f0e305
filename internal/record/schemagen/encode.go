package main

import (
	"fmt"
	"strings"
)

// genEncode writes one encoder method per struct place: each writes its
// object, keys and separators as constant text joined into as few
// appends as the omitempty fields allow, byte for byte what encoding/json
// writes.
func genEncode(t *tree) string {
	var body strings.Builder
	for _, in := range t.insts {
		c := encodeInst(in, false)
		if c.usedMore {
			c = encodeInst(in, true)
		}
		body.WriteString(c.String())
	}
	return fmt.Sprintf("%s\npackage record\n\n%s", header, body.String())
}

// code builds Go statements, holding constant text back until a
// statement needs the buffer, so that neighbouring text is one append.
type code struct {
	strings.Builder
	pending  string
	depth    int
	withMore bool // declare and keep the runtime "something written" flag
	usedMore bool // a separator needed that flag
}

func (c *code) text(s string) { c.pending += s }

func (c *code) flush() {
	if c.pending == "" {
		return
	}
	p := c.pending
	c.pending = ""
	if len(p) == 1 && p != `'` && p != `\` {
		c.line("e.b = append(e.b, '%s')", p)
		return
	}
	c.line("e.b = append(e.b, `%s`...)", p)
}

func (c *code) line(format string, args ...any) {
	c.flush()
	if strings.HasPrefix(format, "}") {
		c.depth--
	}
	c.WriteString(strings.Repeat("\t", c.depth))
	fmt.Fprintf(c, format, args...)
	c.WriteString("\n")
	if strings.HasSuffix(format, "{") {
		c.depth++
	}
}

// The separator state of an object being written.
type sep int

const (
	none  sep = iota // nothing written yet
	some             // something written: a comma comes next
	maybe            // it depends on omitted fields: the flag "more" says
)

func encodeInst(in *inst, withMore bool) *code {
	c := &code{withMore: withMore}
	c.line("func (e *encoder) enc%s(g *%s) {", in.id, in.st.name)
	c.text("{")
	if withMore {
		c.line("more := false")
	}
	state := none
	for i, n := range in.nodes {
		last := i == len(in.nodes)-1
		cond := presence(n)
		if cond == "" {
			comma(c, state)
			value(c, n)
			state = some
			continue
		}
		c.line("if %s {", cond)
		comma(c, state)
		value(c, n)
		if state != some && withMore && !last {
			c.line("more = true")
		}
		c.line("}")
		if state == none {
			state = maybe
		}
	}
	c.text("}")
	c.flush()
	c.line("}")
	c.WriteString("\n")
	return c
}

func comma(c *code, state sep) {
	switch state {
	case some:
		c.text(",")
	case maybe:
		c.usedMore = true
		c.line("if more {")
		c.text(",")
		c.flush()
		c.line("}")
	}
}

// presence is the condition under which omitempty writes n, or "" when
// it is always written.
func presence(n *node) string {
	f := n.f
	if !f.omitempty {
		return ""
	}
	x := "g." + f.goName
	switch f.shape {
	case leaf:
		switch f.basic {
		case "string":
			return x + ` != ""`
		case "bool":
			return x
		case "Time":
			return "" // encoding/json never omits a struct
		}
		return x + " != 0"
	case list:
		return "len(" + x + ") > 0"
	case raw:
		if strings.HasPrefix(f.typ, "*") {
			return x + " != nil"
		}
		return "len(" + x + ") > 0"
	}
	return x + " != nil" // opt, group
}

// value writes n's key and value.
func value(c *code, n *node) {
	f := n.f
	x := "g." + f.goName
	key := `"` + f.json + `":`
	switch f.shape {
	case leaf:
		if f.basic == "bool" && f.omitempty {
			c.text(key + "true")
			return
		}
		c.text(key)
		leafValue(c, n, f.basic, x)
	case opt:
		nullable(c, key, x, !f.omitempty, func() { leafValue(c, n, f.basic, "*"+x) })
	case group:
		nullable(c, key, x, !f.omitempty, func() { c.line("e.enc%s(%s)", n.sub.id, x) })
	case list:
		nullable(c, key, x, !f.omitempty, func() {
			c.text("[")
			c.line("for i := range %s {", x)
			c.line("if i > 0 {")
			c.text(",")
			c.flush()
			c.line("}")
			c.line("e.enc%s(&%s[i])", n.sub.id, x)
			c.line("}")
			c.text("]")
		})
	case raw:
		c.text(key)
		c.flush()
		c.line("e.json(%s, %q)", x, n.path)
	}
}

// nullable writes key and then the value, or null when x is nil and
// encoding/json would write it.
func nullable(c *code, key, x string, null bool, write func()) {
	if !null {
		c.text(key)
		write()
		return
	}
	c.line("if %s == nil {", x)
	c.text(key + "null")
	c.flush()
	c.line("} else {")
	c.text(key)
	write()
	c.flush()
	c.line("}")
}

// leafValue writes a leaf's value, handing the text before it (its key)
// to the method that writes the value, so that both go in one call.
func leafValue(c *code, n *node, basic, x string) {
	key := "`" + c.pending + "`"
	c.pending = ""
	switch basic {
	case "string":
		c.line("e.str(%s, %s)", key, x)
	case "bool":
		c.line("e.bool(%s, %s)", key, x)
	case "int", "int64":
		c.line("e.int(%s, int64(%s))", key, x)
	case "uint64":
		c.line("e.uint(%s, %s)", key, x)
	case "float64":
		c.line("e.float(%s, %s, %q)", key, x, n.path)
	case "Time":
		c.line("e.time(%s, %s)", key, x)
	}
}
