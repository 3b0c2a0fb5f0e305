package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
)

// The shapes a field of the schema can have.
type shape int

const (
	leaf  shape = iota // a string, bool, number or Time
	opt                // a pointer to a leaf type: absent, null or a value
	group              // a pointer to a struct
	list               // a slice of structs
	raw                // anything else, encoded and decoded by encoding/json
)

// leafTypes are the Go types written and read by hand-written code.
var leafTypes = []string{"string", "bool", "int", "int64", "uint64", "float64", "Time"}

// A field is one field of a struct of the schema.
type field struct {
	goName    string
	json      string // the key; "" for an embedded struct
	omitempty bool
	shape     shape
	basic     string // leaf and opt: one of leafTypes
	elem      *strct // group and list: the struct
	typ       string // the Go type as written, for raw fields and the assertions
	nometric  bool   // lmn:"nometric"
	subject   string // lmn:"subject=K": list elements are subjects keyed K
	name      string // lmn:"name=N": the element field naming them (default K)
	scope     string // lmn:"scope=S": the element field holding their scope, subject key S
	count     string // lmn:"count=NAME": the list's length is metric NAME
	rng       *bound // lmn:"range=LO:HI": the values a float64 can have
	embedded  *strct // an embedded struct, whose fields are promoted
	pos       token.Position
}

// A strct is a struct type of the schema.
type strct struct {
	name   string
	fields []*field // as encoding/json takes them, embedded ones included
	decl   []string // every field as declared ("Count int"), for the assertion
}

// flat returns the struct's fields as encoding/json sees them: the fields
// of an embedded struct promoted in its place.
func (s *strct) flat() []*field {
	var out []*field
	for _, f := range s.fields {
		if f.embedded != nil {
			for _, g := range f.embedded.flat() {
				c := *g
				c.nometric = c.nometric || f.nometric
				out = append(out, &c)
			}
			continue
		}
		out = append(out, f)
	}
	return out
}

// schema is the parsed package: its structs by name, Sample the root.
type schema struct {
	structs map[string]*strct
	order   []*strct // in the order first reached from Sample
	root    *strct
}

// parse reads the hand-written Go files of dir and builds the schema
// reached from the struct named root.
func parse(dir, root string) (*schema, error) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	decls := map[string]*ast.StructType{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		if ast.IsGenerated(f) {
			continue
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.TYPE {
				continue
			}
			for _, sp := range g.Specs {
				ts := sp.(*ast.TypeSpec)
				if st, ok := ts.Type.(*ast.StructType); ok {
					decls[ts.Name.Name] = st
				}
			}
		}
	}
	s := &schema{structs: map[string]*strct{}}
	s.root, err = s.build(fset, decls, root, nil)
	return s, err
}

// build turns the struct declaration name into a strct, with the types it
// reaches; seen guards against a struct that holds itself.
func (s *schema) build(fset *token.FileSet, decls map[string]*ast.StructType, name string, seen []string) (*strct, error) {
	if st, ok := s.structs[name]; ok {
		return st, nil
	}
	if slices.Contains(seen, name) {
		return nil, fmt.Errorf("struct %s holds itself (%s): the schema must be a tree", name, strings.Join(append(seen, name), " → "))
	}
	decl, ok := decls[name]
	if !ok {
		return nil, fmt.Errorf("struct %s: not declared in this package", name)
	}
	out := &strct{name: name}
	for _, af := range decl.Fields.List {
		for _, n := range af.Names {
			out.decl = append(out.decl, n.Name+" "+types(af.Type))
		}
		if len(af.Names) == 0 {
			out.decl = append(out.decl, types(af.Type))
		}
		f, err := s.field(fset, decls, name, af, append(seen, name))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", fset.Position(af.Pos()), name, err)
		}
		if f != nil {
			out.fields = append(out.fields, f)
		}
	}
	s.structs[name] = out
	s.order = append(s.order, out)
	return out, nil
}

// field reads one field declaration; it returns nil for a field that
// encoding/json leaves out.
func (s *schema) field(fset *token.FileSet, decls map[string]*ast.StructType, owner string, af *ast.Field, seen []string) (*field, error) {
	if len(af.Names) > 1 {
		return nil, fmt.Errorf("declare the fields %s one per line", af.Names[0].Name)
	}
	f := &field{typ: types(af.Type), pos: fset.Position(af.Pos())}
	tag := reflect.StructTag("")
	if af.Tag != nil {
		tag = reflect.StructTag(strings.Trim(af.Tag.Value, "`"))
	}
	if err := f.lmnTag(tag.Get("lmn")); err != nil {
		return nil, err
	}
	if len(af.Names) == 0 { // embedded
		id, ok := af.Type.(*ast.Ident)
		if !ok || tag.Get("json") != "" {
			return nil, fmt.Errorf("embedded %s: only an untagged struct of this package may be embedded", f.typ)
		}
		emb, err := s.build(fset, decls, id.Name, seen)
		if err != nil {
			return nil, err
		}
		f.goName, f.embedded = id.Name, emb
		return f, nil
	}
	f.goName = af.Names[0].Name
	if !ast.IsExported(f.goName) {
		return nil, nil
	}
	js := tag.Get("json")
	if js == "-" {
		return nil, nil
	}
	name, opts, _ := strings.Cut(js, ",")
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "":
		case "omitempty":
			f.omitempty = true
		default:
			return nil, fmt.Errorf("field %s: json option %q: schemagen knows only omitempty", f.goName, o)
		}
	}
	if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		return nil, fmt.Errorf("field %s: json key %q: write a key of lower-case letters, digits and _ (the decoder's fast path matches keys exactly)", f.goName, name)
	}
	f.json = name
	return f, s.shapeOf(fset, decls, f, af.Type, seen)
}

func (f *field) lmnTag(tag string) error {
	if tag == "" {
		return nil
	}
	for _, o := range strings.Split(tag, ",") {
		k, v, _ := strings.Cut(o, "=")
		switch {
		case k == "nometric" && v == "":
			f.nometric = true
		case k == "subject" && v != "":
			f.subject = v
		case k == "name" && v != "":
			f.name = v
		case k == "scope" && v != "":
			f.scope = v
		case k == "count" && v != "":
			f.count = v
		case k == "range":
			b, err := parseRange(v)
			if err != nil {
				return fmt.Errorf("lmn tag %q: %w", o, err)
			}
			f.rng = &b
		default:
			return fmt.Errorf("lmn tag %q: want nometric, subject=KEY, name=FIELD, scope=FIELD, count=NAME or range=LO:HI", o)
		}
	}
	return nil
}

// shapeOf sets the shape of f from its type.
func (s *schema) shapeOf(fset *token.FileSet, decls map[string]*ast.StructType, f *field, t ast.Expr, seen []string) error {
	switch t := t.(type) {
	case *ast.Ident:
		if slices.Contains(leafTypes, t.Name) {
			f.shape, f.basic = leaf, t.Name
			return nil
		}
	case *ast.StarExpr:
		if id, ok := t.X.(*ast.Ident); ok {
			if slices.Contains(leafTypes, id.Name) && id.Name != "Time" {
				f.shape, f.basic = opt, id.Name
				return nil
			}
			if _, ok := decls[id.Name]; ok {
				st, err := s.build(fset, decls, id.Name, seen)
				f.shape, f.elem = group, st
				return err
			}
		}
	case *ast.ArrayType:
		if id, ok := t.Elt.(*ast.Ident); ok && t.Len == nil {
			if _, ok := decls[id.Name]; ok {
				st, err := s.build(fset, decls, id.Name, seen)
				f.shape, f.elem = list, st
				return err
			}
		}
	}
	f.shape = raw
	if strings.Contains(f.typ, "unsupported") {
		return fmt.Errorf("field %s: type %s: schemagen reads only types of this package, basic types, pointers, slices, arrays and maps of them", f.goName, f.typ)
	}
	switch t.(type) {
	case *ast.MapType, *ast.ArrayType, *ast.StarExpr:
	default:
		if f.omitempty {
			return fmt.Errorf("field %s: omitempty on %s: schemagen writes omitempty only for its own types, maps, slices and pointers", f.goName, f.typ)
		}
	}
	return nil
}

// types writes a type expression as Go source.
func types(t ast.Expr) string {
	switch t := t.(type) {
	case *ast.Ident:
		return t.Name
	case *ast.StarExpr:
		return "*" + types(t.X)
	case *ast.ArrayType:
		if t.Len == nil {
			return "[]" + types(t.Elt)
		}
		if l, ok := t.Len.(*ast.BasicLit); ok {
			return "[" + l.Value + "]" + types(t.Elt)
		}
	case *ast.MapType:
		return "map[" + types(t.Key) + "]" + types(t.Value)
	case *ast.InterfaceType:
		if t.Methods == nil || len(t.Methods.List) == 0 {
			return "any"
		}
	}
	return fmt.Sprintf("/* unsupported type %T */", t)
}
