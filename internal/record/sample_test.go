package record

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// jsonLine is what Writer.Emit writes for v.
func jsonLine(t testing.TB, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var (
	floats  = []float64{0, 1, 0.5, 0.1 + 0.2, 1e-7, 3.241010975035465e-7, 1e-6, 999999.5, 1e20, 1e21, 1.5e300, -2.25, -1e-9, math.SmallestNonzeroFloat64, math.MaxFloat64}
	strs    = []string{"", "eth0", "/media/my disk", `quote " and \ back`, "tab\tnew\nline", "<html>&", "ünïcödé", "\u2028", "bad \xff utf8", "\x00"}
	timeTyp = reflect.TypeFor[Time]()
)

// fill sets every field reachable from v. With full, no pointer is nil, no
// slice is empty and no value is zero, so a field of Sample that
// AppendSample does not know shows up as a difference.
func fill(v reflect.Value, r *rand.Rand, full bool) {
	switch {
	case v.Type() == timeTyp:
		v.Set(reflect.ValueOf(Time{Time: time.Unix(r.Int64N(4e9), r.Int64N(1e9))}))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), r, full)
		}
	case reflect.Pointer:
		if !full && r.IntN(4) == 0 {
			v.SetZero()
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), r, full)
	case reflect.Slice:
		n := r.IntN(4)
		if full {
			n = 1 + r.IntN(3)
		} else if n == 0 && r.IntN(2) == 0 {
			v.SetZero() // nil, as opposed to empty
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			fill(v.Index(i), r, full)
		}
	case reflect.Map:
		n := 1 + r.IntN(3)
		if !full && r.IntN(3) == 0 {
			v.SetZero()
			return
		}
		v.Set(reflect.MakeMap(v.Type()))
		for range n {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(k, r, full)
			fill(e, r, full)
			v.SetMapIndex(k, e)
		}
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), r, full)
		}
	case reflect.String:
		s := strs[r.IntN(len(strs))]
		if full && s == "" {
			s = "x"
		}
		v.SetString(s)
	case reflect.Bool:
		v.SetBool(full || r.IntN(2) == 0)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(r.IntN(1<<20)) - 1<<10 + boolInt(full && true))
	case reflect.Uint64, reflect.Uint32, reflect.Uint:
		v.SetUint(r.Uint64() >> r.IntN(64))
	case reflect.Float64:
		f := floats[r.IntN(len(floats))]
		if full && f == 0 {
			f = 0.25
		}
		v.SetFloat(f)
	default:
		panic("fill: add a case for " + v.Type().String())
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1 << 30
	}
	return 0
}

func checkSame(t testing.TB, s *Sample) {
	got, err := AppendSample(nil, s)
	if err != nil {
		t.Fatal(err)
	}
	if want := jsonLine(t, s); !bytes.Equal(got, want) {
		t.Fatalf("AppendSample differs from encoding/json:\ngot:  %s\nwant: %s", got, want)
	}
}

func TestAppendSampleMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		var s Sample
		fill(reflect.ValueOf(&s).Elem(), r, i%10 == 0)
		checkSame(t, &s)
	}
	var empty Sample
	checkSame(t, &empty)
	checkSame(t, &Sample{PSI: &PSI{}, Disks: &Disks{}, Temps: &Temps{}, Nix: &Nix{}, Units: &Units{}})
}

func TestAppendSampleRejectsNaN(t *testing.T) {
	s := Sample{CPU: &CPU{BusyRatio: math.NaN()}}
	if _, err := AppendSample(nil, &s); err == nil || !strings.Contains(err.Error(), "cpu.busy_ratio") {
		t.Errorf("err = %v, want one naming cpu.busy_ratio", err)
	}
}

func FuzzAppendSample(f *testing.F) {
	f.Add(uint64(1), "eth0", 0.5, false)
	f.Add(uint64(7), "a\"b\\c\x01\u2028\xff", 1e-7, true)
	f.Fuzz(func(t *testing.T, seed uint64, name string, x float64, full bool) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		var s Sample
		fill(reflect.ValueOf(&s).Elem(), r, full)
		s.Host = name
		s.IntervalSeconds = x
		if s.Net != nil && len(s.Net.Interfaces) > 0 {
			s.Net.Interfaces[0].Name = name
			s.Net.Interfaces[0].RxBytesPerS = x
		}
		checkSame(t, &s)
	})
}
