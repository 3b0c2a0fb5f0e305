package sdtest

import (
	"os"
	"testing"
)

// BenchmarkStartClose measures what one sandbox costs a test: start the
// manager, wait for "running", stop it and check nothing is left.
func BenchmarkStartClose(b *testing.B) {
	if err := Available(); err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		dir, err := os.MkdirTemp("", "lmn-sdtest-")
		if err != nil {
			b.Fatal(err)
		}
		m, err := StartManager(dir)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Close(); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(dir)
	}
}

// BenchmarkSystemctlShow measures one State query through nsenter and
// systemctl, the unit of every poll the end-to-end tests make.
func BenchmarkSystemctlShow(b *testing.B) {
	m := Start(b)
	for b.Loop() {
		if _, err := m.UnitState(b.Context(), "default.target"); err != nil {
			b.Fatal(err)
		}
	}
}
