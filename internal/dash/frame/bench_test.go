package frame

import "testing"

// BenchmarkRender200x60 draws one full rich frame at 200×60 from the
// recorded stream (target: under 1 ms).
func BenchmarkRender200x60(b *testing.B) {
	m := streamModel(b)
	o := Options{Width: 200, Height: 60, Rich: true, CRLF: true, Now: now(m)}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = Render(buf[:0], m, o)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkRender80x24Simple draws one plain frame at 80×24.
func BenchmarkRender80x24Simple(b *testing.B) {
	m := streamModel(b)
	o := Options{Width: 80, Height: 24, Now: now(m)}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = Render(buf[:0], m, o)
	}
}
