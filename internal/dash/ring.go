package dash

// Ring keeps the latest points of a trend.
type Ring struct {
	buf  []float64
	next int
	full bool
}

// NewRing returns a ring that keeps n points.
func NewRing(n int) *Ring { return &Ring{buf: make([]float64, n)} }

// Push adds a point, dropping the oldest when full.
func (r *Ring) Push(v float64) {
	r.buf[r.next] = v
	r.next++
	if r.next == len(r.buf) {
		r.next = 0
		r.full = true
	}
}

// Len returns how many points the ring holds.
func (r *Ring) Len() int {
	if r.full {
		return len(r.buf)
	}
	return r.next
}

// Last returns the newest n points, oldest first, appended to dst.
func (r *Ring) Last(dst []float64, n int) []float64 {
	if l := r.Len(); n > l {
		n = l
	}
	start := r.next - n
	if start < 0 {
		dst = append(dst, r.buf[len(r.buf)+start:]...)
		start = 0
	}
	return append(dst, r.buf[start:r.next]...)
}
