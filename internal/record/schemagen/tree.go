package main

import (
	"fmt"
	"strings"
)

// An inst is one struct at one place in a sample: the sample itself, a
// group, or the elements of a list.
type inst struct {
	st     *strct
	path   string  // "" for the sample, "psi.cpu", "disks.mounts[]"
	id     string  // "Sample", "PSICPU", "DisksMounts": names its code
	nodes  []*node // its fields as encoding/json sees them
	parent *node   // the field holding it; nil for the sample
	list   *inst   // the innermost list element it is or is inside; nil if none
	// single says there is one of it per sample, so the decoder may keep
	// its storage for the next sample (groups and lists outside lists).
	single   bool
	nometric bool
}

// A node is one field at one place.
type node struct {
	f    *field
	in   *inst
	path string // "disks.mounts[].used_ratio"
	id   string // "DisksMountsUsedRatio"
	num  int    // the field number of a leaf, opt or raw field; -1 otherwise
	sub  *inst  // the struct a group or list holds
}

// tree is the schema laid out from the sample down.
type tree struct {
	root   *inst
	insts  []*inst // depth first, the sample first
	leaves []*node // numbered fields, in number order
	lists  []*node // list fields
}

func layout(s *schema) (*tree, error) {
	t := &tree{}
	var err error
	t.root, err = t.place(s.root, "", "Sample", nil, nil, true, false)
	return t, err
}

func (t *tree) place(st *strct, path, id string, parent *node, inList *inst, single, nometric bool) (*inst, error) {
	in := &inst{st: st, path: path, id: id, parent: parent, list: inList, single: single, nometric: nometric}
	if parent != nil && parent.f.shape == list {
		in.list = in
	}
	t.insts = append(t.insts, in)
	prefix := id
	if prefix == "Sample" {
		prefix = ""
	}
	for _, f := range st.flat() {
		n := &node{f: f, in: in, path: join(path, f.json), id: prefix + f.goName, num: -1}
		in.nodes = append(in.nodes, n)
		switch f.shape {
		case leaf, opt, raw:
			n.num = len(t.leaves)
			t.leaves = append(t.leaves, n)
		case group:
			sub, err := t.place(f.elem, n.path, n.id, n, in.list, single, nometric || f.nometric)
			if err != nil {
				return nil, err
			}
			n.sub = sub
		case list:
			t.lists = append(t.lists, n)
			sub, err := t.place(f.elem, n.path+"[]", n.id, n, in.list, false, nometric || f.nometric)
			if err != nil {
				return nil, err
			}
			n.sub = sub
		}
	}
	return in, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// access returns the Go expression for node n from the variable at the
// base of its chain (s for the sample, e for a list element), and the nil
// checks that must pass first.
func access(n *node) (base string, expr string, checks []string) {
	var steps []*node
	for in := n.in; in.parent != nil && in.list != in; in = in.parent.in {
		steps = append(steps, in.parent)
	}
	base = "s"
	if n.in.list != nil {
		base = "e"
	}
	expr = base
	for i := len(steps) - 1; i >= 0; i-- {
		expr += "." + steps[i].f.goName
		checks = append(checks, expr+" == nil")
	}
	return base, expr + "." + n.f.goName, checks
}

// listOf returns the list field whose elements in is, and fails for a
// list inside a list, which the rules cannot address.
func listOf(in *inst) (*node, error) {
	if in.list == nil {
		return nil, nil
	}
	ln := in.list.parent
	if ln.in.list != nil {
		return nil, fmt.Errorf("%s: a list inside the list %s holds numbers: rules read one level of list; tag it lmn:\"nometric\"", ln.path, strings.TrimSuffix(ln.in.list.path, "[]"))
	}
	return ln, nil
}
