package main

import (
	"fmt"
	"strings"
)

// numeric are the leaf types a metric reads.
var numeric = map[string]bool{"bool": true, "int": true, "int64": true, "uint64": true, "float64": true}

// genFields writes the field enumeration, the lists of subjects and the
// table of metric paths.
func genFields(t *tree) (string, error) {
	var w strings.Builder
	fmt.Fprintf(&w, "%s\npackage record\n\n", header)
	w.WriteString("// The fields of a Sample: one per leaf of the struct, named after its Go\n")
	w.WriteString("// field path and commented with its path in the line.\nconst (\n")
	for i, n := range t.leaves {
		if i == 0 {
			fmt.Fprintf(&w, "\tField%s Field = iota // %s\n", n.id, n.path)
			continue
		}
		fmt.Fprintf(&w, "\tField%s // %s\n", n.id, n.path)
	}
	w.WriteString("\n\t// NumFields is how many fields a Sample has.\n\tNumFields = iota\n)\n\n")

	w.WriteString("// fieldPaths names each field by its path in the line.\nvar fieldPaths = [NumFields]string{\n")
	for _, n := range t.leaves {
		fmt.Fprintf(&w, "\t%q,\n", n.path)
	}
	w.WriteString("}\n\n")

	w.WriteString("// topFields are the sample's own fields, outside any group: every\n// decoder decodes them.\nvar topFields = [...]Field{")
	for i, n := range t.root.nodes {
		if n.num >= 0 {
			if i > 0 {
				w.WriteString(", ")
			}
			fmt.Fprintf(&w, "Field%s", n.id)
		}
	}
	w.WriteString("}\n\n")

	lists, err := genLists(&w, t)
	if err != nil {
		return "", err
	}
	if err := genMetrics(&w, t, lists); err != nil {
		return "", err
	}
	return w.String(), nil
}

// genLists writes a List for each list of subjects and an accessor for
// every list; it returns the List variable of each list field that has one.
func genLists(w *strings.Builder, t *tree) (map[*node]string, error) {
	vars := map[*node]string{}
	for _, ln := range t.lists {
		if ln.in.list != nil {
			continue // only reached through its element
		}
		_, expr, checks := access(ln)
		fmt.Fprintf(w, "func list%s(s *Sample) []%s {\n", ln.id, ln.f.elem.name)
		if len(checks) > 0 {
			fmt.Fprintf(w, "\tif %s {\n\t\treturn nil\n\t}\n", strings.Join(checks, " || "))
		}
		fmt.Fprintf(w, "\treturn %s\n}\n\n", expr)
		if ln.f.subject == "" {
			continue
		}
		nameKey := ln.f.name
		if nameKey == "" {
			nameKey = ln.f.subject
		}
		nameNode := stringField(ln.sub, nameKey)
		if nameNode == nil {
			return nil, fmt.Errorf("%s: %s: lmn subject names its elements by %q, which is not a string field of %s", ln.f.pos, ln.path, nameKey, ln.f.elem.name)
		}
		v := "list" + ln.id + "Subjects"
		vars[ln] = v
		fmt.Fprintf(w, "var %s = List{\n\tPath: %q, Key: %q, NameField: Field%s,\n", v, ln.path+"[]", ln.f.subject, nameNode.id)
		if ln.f.scope != "" {
			scopeNode := stringField(ln.sub, ln.f.scope)
			if scopeNode == nil {
				return nil, fmt.Errorf("%s: %s: lmn scope %q is not a string field of %s", ln.f.pos, ln.path, ln.f.scope, ln.f.elem.name)
			}
			fmt.Fprintf(w, "\tScopeKey: %q, ScopeField: Field%s,\n", ln.f.scope, scopeNode.id)
			fmt.Fprintf(w, "\tscope: func(s *Sample, i int) string { return list%s(s)[i].%s },\n", ln.id, scopeNode.f.goName)
		}
		fmt.Fprintf(w, "\tlen:  func(s *Sample) int { return len(list%s(s)) },\n", ln.id)
		fmt.Fprintf(w, "\tname: func(s *Sample, i int) string { return list%s(s)[i].%s },\n}\n\n", ln.id, nameNode.f.goName)
	}
	return vars, nil
}

// stringField returns the string leaf of in keyed json, or nil.
func stringField(in *inst, json string) *node {
	for _, n := range in.nodes {
		if n.f.json == json && n.f.shape == leaf && n.f.basic == "string" {
			return n
		}
	}
	return nil
}

// genMetrics writes the table of metrics: every number and boolean of the
// sample but those tagged nometric, and the lengths of lists tagged count.
func genMetrics(w *strings.Builder, t *tree, lists map[*node]string) error {
	w.WriteString("// metrics are the sample's metrics, in the order of the struct.\nvar metrics = [...]Metric{\n")
	for _, in := range t.insts {
		for _, n := range in.nodes {
			if n.f.shape == list && n.f.count != "" {
				if err := genCount(w, n); err != nil {
					return err
				}
			}
			if !(n.f.shape == leaf || n.f.shape == opt) || !numeric[n.f.basic] || n.f.nometric || in.nometric {
				continue
			}
			ln, err := listOf(in)
			if err != nil {
				return err
			}
			if ln != nil && lists[ln] == "" {
				return fmt.Errorf("%s: %s is a number in the list %s, which has no lmn:\"subject=KEY\" tag naming its elements: add one, or tag the field lmn:\"nometric\"", n.f.pos, n.path, ln.path)
			}
			genMetric(w, n, ln, lists[ln])
		}
	}
	w.WriteString("}\n")
	return nil
}

func genMetric(w *strings.Builder, n *node, ln *node, listVar string) {
	_, expr, checks := access(n)
	fmt.Fprintf(w, "\t{Path: %q, Field: Field%s", n.path, n.id)
	if n.f.basic == "bool" {
		w.WriteString(", Bool: true")
	}
	if ln != nil {
		fmt.Fprintf(w, ", List: &%s", listVar)
	}
	w.WriteString(", value: func(s *Sample, i int) (float64, bool) {\n")
	if ln != nil {
		fmt.Fprintf(w, "\t\tl := list%s(s)\n\t\tif i < 0 || i >= len(l) {\n\t\t\treturn 0, false\n\t\t}\n\t\te := &l[i]\n", ln.id)
	}
	if len(checks) > 0 {
		fmt.Fprintf(w, "\t\tif %s {\n\t\t\treturn 0, false\n\t\t}\n", strings.Join(checks, " || "))
	}
	if n.f.shape == opt {
		fmt.Fprintf(w, "\t\tif %s == nil {\n\t\t\treturn 0, false\n\t\t}\n", expr)
		expr = "*" + expr
	}
	fmt.Fprintf(w, "\t\treturn %s, true\n\t}},\n", toFloat(n.f.basic, expr))
}

func genCount(w *strings.Builder, n *node) error {
	if n.in.list != nil {
		return fmt.Errorf("%s: %s: lmn count on a list inside a list, which rules cannot read", n.f.pos, n.path)
	}
	_, expr, checks := access(n)
	fmt.Fprintf(w, "\t{Path: %q, Field: noField, value: func(s *Sample, _ int) (float64, bool) {\n", join(n.in.path, n.f.count))
	if len(checks) > 0 {
		fmt.Fprintf(w, "\t\tif %s {\n\t\t\treturn 0, false\n\t\t}\n", strings.Join(checks, " || "))
	}
	fmt.Fprintf(w, "\t\treturn float64(len(%s)), true\n\t}},\n", expr)
	return nil
}

func toFloat(basic, expr string) string {
	switch basic {
	case "float64":
		return expr
	case "bool":
		return "b2f(" + expr + ")"
	}
	return "float64(" + expr + ")"
}
