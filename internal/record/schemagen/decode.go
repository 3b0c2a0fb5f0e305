package main

import (
	"fmt"
	"strings"
)

// leafDecoders name the decoder method of each leaf type.
var leafDecoders = map[string]string{
	"string": "stringF", "bool": "boolF", "int": "intF", "int64": "int64F",
	"uint64": "uintF", "float64": "floatF", "Time": "timeF",
}

// genDecode writes the decoder: one method per struct place, switching
// on the key, and the arena that keeps each group and list of a sample
// for the next one to reuse.
func genDecode(t *tree) string {
	var w strings.Builder
	fmt.Fprintf(&w, "%s\npackage record\n\n", header)
	for _, in := range t.insts {
		fmt.Fprintf(&w, "func (d *sampleDecoder) dec%s(g *%s, k []byte) error {\n\tswitch string(k) {\n", in.id, in.st.name)
		for _, n := range in.nodes {
			fmt.Fprintf(&w, "\tcase %q:\n\t\treturn %s\n", n.f.json, decodeCall(n))
		}
		w.WriteString("\t}\n\treturn d.skip(k)\n}\n\n")
	}
	genArena(&w, t)
	return w.String()
}

func decodeCall(n *node) string {
	f := n.f
	x := "&g." + f.goName
	field := "Field" + n.id
	switch f.shape {
	case leaf:
		return fmt.Sprintf("d.%s(%s, %s)", leafDecoders[f.basic], field, x)
	case opt:
		return fmt.Sprintf("decodeOpt(d, %s, %s, d.%s)", field, x, leafDecoders[f.basic])
	case raw:
		return fmt.Sprintf("decodeRaw(d, %s, %s)", field, x)
	case group:
		spare := fmt.Sprintf("(*%s)(nil)", f.elem.name)
		if n.sub.single {
			spare = "d.a.group" + n.id + "()"
		}
		return fmt.Sprintf("decodeGroup(d, %s, %s, d.dec%s)", x, spare, n.sub.id)
	case list:
		spare := fmt.Sprintf("(*[]%s)(nil)", f.elem.name)
		if n.in.single {
			spare = "d.a.list" + n.id + "()"
		}
		return fmt.Sprintf("decodeList(d, %s, %s, d.dec%s)", x, spare, n.sub.id)
	}
	panic("unknown shape")
}

// genArena writes the arena: storage for each group and list that occurs
// once per sample, and its accessors, which give nil without an arena.
func genArena(w *strings.Builder, t *tree) {
	w.WriteString("// arena holds the groups and lists of the sample a SampleDecoder decoded\n")
	w.WriteString("// last, for the next one to reuse: a sample line then costs no allocation\n")
	w.WriteString("// but its new strings. A nil arena (DecodeSample) allocates afresh.\ntype arena struct {\n")
	var acc strings.Builder
	for _, in := range t.insts {
		for _, n := range in.nodes {
			switch {
			case n.f.shape == group && n.sub.single:
				fmt.Fprintf(w, "\tg%s %s\n", n.id, n.f.elem.name)
				fmt.Fprintf(&acc, "func (a *arena) group%s() *%s {\n\tif a == nil {\n\t\treturn nil\n\t}\n\treturn &a.g%[1]s\n}\n\n", n.id, n.f.elem.name)
			case n.f.shape == list && in.single:
				fmt.Fprintf(w, "\tl%s []%s\n", n.id, n.f.elem.name)
				fmt.Fprintf(&acc, "func (a *arena) list%s() *[]%s {\n\tif a == nil {\n\t\treturn nil\n\t}\n\treturn &a.l%[1]s\n}\n\n", n.id, n.f.elem.name)
			}
		}
	}
	w.WriteString("}\n\n")
	w.WriteString(acc.String())
}

// genAssert writes, for each struct of the schema, a conversion from the
// struct as it was when the code was generated: it stops compiling as
// soon as a field is added, removed or retyped, so stale generated code
// cannot build.
func genAssert(s *schema) string {
	var w strings.Builder
	fmt.Fprintf(&w, "%s\npackage record\n\n", header)
	w.WriteString("// A compile error below means a struct of the stream's schema changed\n")
	w.WriteString("// after this code was generated: run go generate ./internal/record.\n")
	w.WriteString("var (\n")
	for _, st := range s.order {
		fmt.Fprintf(&w, "\t_ = %s(struct {\n", st.name)
		for _, d := range st.decl {
			fmt.Fprintf(&w, "\t\t%s\n", d)
		}
		w.WriteString("\t}{})\n")
	}
	w.WriteString(")\n")
	return w.String()
}
