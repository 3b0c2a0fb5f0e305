package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// A bound is the range of values a number field can physically have:
// Lo to Hi, each side open when infinite.
type bound struct{ lo, hi float64 }

// unitBounds are the ranges the unit in a field's name implies.
var unitBounds = []struct {
	suffix string
	b      bound
}{
	{"_ratio", bound{0, 1}},
	{"_seconds", bound{0, math.Inf(1)}},
	{"_per_s", bound{0, math.Inf(1)}},
	{"_celsius", bound{-273.15, math.Inf(1)}}, // absolute zero
}

// parseRange reads the value of lmn:"range=LO:HI"; an empty side is
// unbounded.
func parseRange(v string) (bound, error) {
	lo, hi, ok := strings.Cut(v, ":")
	b := bound{math.Inf(-1), math.Inf(1)}
	var err error
	if !ok {
		return b, fmt.Errorf("range=%s: want LO:HI, either side empty for no bound", v)
	}
	if lo != "" {
		if b.lo, err = strconv.ParseFloat(lo, 64); err != nil {
			return b, fmt.Errorf("range=%s: %w", v, err)
		}
	}
	if hi != "" {
		if b.hi, err = strconv.ParseFloat(hi, 64); err != nil {
			return b, fmt.Errorf("range=%s: %w", v, err)
		}
	}
	if !(b.lo <= b.hi) {
		return b, fmt.Errorf("range=%s: empty", v)
	}
	return b, nil
}

// boundOf returns the range of a float64 field: its lmn range tag, else
// what the unit in its name implies. A float64 without either is an
// error: every number of the stream says what values it can take.
func boundOf(f *field) (bound, error) {
	if f.rng != nil {
		return *f.rng, nil
	}
	for _, u := range unitBounds {
		if strings.HasSuffix(f.json, u.suffix) || f.json == u.suffix[1:] {
			return u.b, nil
		}
	}
	return bound{}, fmt.Errorf("%s: field %s: a float64 needs a range: name it by its unit (_ratio, _seconds, _per_s, _celsius) or tag it lmn:\"range=LO:HI\"", f.pos, f.goName)
}

// genCheck writes checkRanges: a walk over every float64 of a sample that
// returns a *RangeError for the first value outside its field's range.
func genCheck(t *tree) (string, error) {
	var body strings.Builder
	if err := checkInst(&body, t.root, "s", nil, 1); err != nil {
		return "", err
	}
	var w strings.Builder
	fmt.Fprintf(&w, "%s\npackage record\n\n", header)
	if strings.Contains(body.String(), "rangeInf") {
		w.WriteString("import \"math\"\n\nvar rangeInf = math.Inf(1)\n\n")
	}
	w.WriteString("// checkRanges returns a *RangeError for the first number of s outside the\n")
	w.WriteString("// range its field can physically have (the unit in its name, or its lmn\n")
	w.WriteString("// range tag), and nil when every number is in range.\n")
	w.WriteString("func checkRanges(s *Sample) error {\n")
	w.WriteString(body.String())
	w.WriteString("\treturn nil\n}\n")
	return w.String(), nil
}

// checkInst writes the checks of the fields of in, held by the variable v;
// idx are the index variables of the lists around it.
func checkInst(w *strings.Builder, in *inst, v string, idx []string, depth int) error {
	for _, n := range in.nodes {
		f := n.f
		switch {
		case (f.shape == leaf || f.shape == opt) && f.basic == "float64":
			b, err := boundOf(f)
			if err != nil {
				return err
			}
			x := v + "." + f.goName
			if f.shape == opt {
				fmt.Fprintf(w, "\tif p := %s; p != nil {\n", x)
				x = "*p"
			}
			fmt.Fprintf(w, "\tif x := %s; %s {\n\t\treturn rangeError(Field%s, x, %s, %s%s)\n\t}\n",
				x, outside(b), n.id, lit(b.lo), lit(b.hi), indexArgs(idx))
			if f.shape == opt {
				w.WriteString("\t}\n")
			}
		case f.shape == group:
			var sub strings.Builder
			g := fmt.Sprintf("g%d", depth)
			if err := checkInst(&sub, n.sub, g, idx, depth+1); err != nil {
				return err
			}
			if sub.Len() > 0 {
				fmt.Fprintf(w, "\tif %[1]s := %[2]s.%[3]s; %[1]s != nil {\n%[4]s\t}\n", g, v, f.goName, sub.String())
			}
		case f.shape == list:
			var sub strings.Builder
			e, i := fmt.Sprintf("e%d", depth), fmt.Sprintf("i%d", depth)
			if err := checkInst(&sub, n.sub, e, append(idx[:len(idx):len(idx)], i), depth+1); err != nil {
				return err
			}
			if sub.Len() > 0 {
				fmt.Fprintf(w, "\tfor %[1]s := range %[2]s.%[3]s {\n\t\t%[4]s := &%[2]s.%[3]s[%[1]s]\n%[5]s\t}\n", i, v, f.goName, e, sub.String())
			}
		}
	}
	return nil
}

// outside is the condition that x is outside b; NaN is outside any range.
func outside(b bound) string {
	switch {
	case math.IsInf(b.lo, -1) && math.IsInf(b.hi, 1):
		return "x != x"
	case math.IsInf(b.hi, 1):
		return fmt.Sprintf("!(x >= %s)", lit(b.lo))
	case math.IsInf(b.lo, -1):
		return fmt.Sprintf("!(x <= %s)", lit(b.hi))
	}
	return fmt.Sprintf("!(x >= %s && x <= %s)", lit(b.lo), lit(b.hi))
}

func lit(x float64) string {
	switch {
	case math.IsInf(x, 1):
		return "rangeInf"
	case math.IsInf(x, -1):
		return "-rangeInf"
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

func indexArgs(idx []string) string {
	if len(idx) == 0 {
		return ""
	}
	return ", " + strings.Join(idx, ", ")
}
