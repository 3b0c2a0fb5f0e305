package record

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// CheckSample reports the first number of s that its field cannot
// physically have: a ratio outside 0 to 1, a negative rate, duration or
// load, a temperature below absolute zero (each field's range is declared
// once, in sample.go, by the unit in its name or an lmn range tag). The
// error is a *RangeError naming the field's path. A sample from a
// SampleDecoder is checked in the fields it decoded.
func CheckSample(s *Sample) error { return checkRanges(s) }

// RangeError is a number outside the range its field can have.
type RangeError struct {
	Field  Field
	Index  []int // the element of each list on the field's path
	Value  float64
	Lo, Hi float64 // the range; infinite for no bound
}

// Path is the field's path with the list indexes filled in:
// "disks.mounts[2].used_ratio".
func (e *RangeError) Path() string {
	p := e.Field.Path()
	for _, i := range e.Index {
		p = strings.Replace(p, "[]", "["+strconv.Itoa(i)+"]", 1)
	}
	return p
}

func (e *RangeError) Error() string {
	var want string
	switch {
	case math.IsInf(e.Hi, 1):
		want = fmt.Sprintf("at least %v", e.Lo)
	case math.IsInf(e.Lo, -1):
		want = fmt.Sprintf("at most %v", e.Hi)
	default:
		want = fmt.Sprintf("%v to %v", e.Lo, e.Hi)
	}
	return fmt.Sprintf("%s: %v is impossible (want %s)", e.Path(), e.Value, want)
}

func rangeError(f Field, v, lo, hi float64, index ...int) error {
	return &RangeError{Field: f, Index: index, Value: v, Lo: lo, Hi: hi}
}
