package record

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"
)

const mixed = `{"kind":"start","v":1}
not json at all
{"kind":"sample","v":1,"seq":1}

[1,2,3]
{"kind":"sample","v":1,"seq":2
{"kind":"issue","v":1,"id":"a"}
   {"kind":"sample","v":1,"seq":3}
{"v":1}
{"kind":"heal","v":1}`

// wantAccepted are the accepted lines of mixed, by line number.
var wantAccepted = map[int]string{
	1:  `{"kind":"start","v":1}`,
	3:  `{"kind":"sample","v":1,"seq":1}`,
	7:  `{"kind":"issue","v":1,"id":"a"}`,
	8:  `   {"kind":"sample","v":1,"seq":3}`,
	9:  `{"v":1}`,
	10: `{"kind":"heal","v":1}`,
}

func chunkings(s string) map[string]func() io.Reader {
	crlf := strings.ReplaceAll(s, "\n", "\r\n")
	return map[string]func() io.Reader{
		"whole":       func() io.Reader { return strings.NewReader(s) },
		"one byte":    func() io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
		"half":        func() io.Reader { return iotest.HalfReader(strings.NewReader(s)) },
		"crlf":        func() io.Reader { return strings.NewReader(crlf) },
		"crlf 1 byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(crlf)) },
	}
}

func TestReaderAcceptsObjectsOnly(t *testing.T) {
	for name, src := range chunkings(mixed) {
		t.Run(name, func(t *testing.T) {
			r := NewReader(src(), nil)
			var rejected []int
			r.OnReject = func(err error) {
				var le *LineError
				if !errors.As(err, &le) {
					t.Fatalf("reject error %v is not a *LineError", err)
				}
				rejected = append(rejected, le.Line)
			}
			got := map[int]string{}
			for {
				l, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got[l.N] = string(l.Body())
			}
			if fmt.Sprint(got) != fmt.Sprint(wantAccepted) {
				t.Errorf("accepted %v\nwant %v", got, wantAccepted)
			}
			if fmt.Sprint(rejected) != "[2 4 5 6]" || r.Rejected() != 4 {
				t.Errorf("rejected lines %v (count %d), want [2 4 5 6]", rejected, r.Rejected())
			}
			if r.Lines() != 10 {
				t.Errorf("Lines() = %d, want 10", r.Lines())
			}
		})
	}
}

func TestReaderKind(t *testing.T) {
	r := NewReader(strings.NewReader("{\"v\":1,\"kind\":\"issue\"}\n{\"kind\":7}\n"), nil)
	for _, want := range []string{"issue", ""} {
		l, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if l.Kind != want {
			t.Errorf("line %d kind %q, want %q", l.N, l.Kind, want)
		}
	}
}

func TestReaderTooLong(t *testing.T) {
	long := `{"kind":"sample","pad":"` + strings.Repeat("x", 300) + `"}`
	in := "{\"kind\":\"a\"}\n" + long + "\n{\"kind\":\"b\"}\n" + long
	for name, src := range chunkings(in) {
		t.Run(name, func(t *testing.T) {
			r := NewReader(src(), nil)
			r.Max = 100
			var errs []string
			r.OnReject = func(err error) { errs = append(errs, err.Error()) }
			var kinds []string
			for {
				l, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				kinds = append(kinds, l.Kind)
			}
			if fmt.Sprint(kinds) != "[a b]" {
				t.Errorf("kinds %v, want [a b]", kinds)
			}
			want := []string{"stdin line 2: line too long (more than 100 bytes)", "stdin line 4: line too long (more than 100 bytes)"}
			if fmt.Sprint(errs) != fmt.Sprint(want) {
				t.Errorf("errors %q\nwant %q", errs, want)
			}
		})
	}
}

// TestFilterPassesThroughByteForByte: accepted records come out exactly as
// they went in, in order, with the filter's own records after their cause.
func TestFilterPassesThroughByteForByte(t *testing.T) {
	for _, ahead := range []bool{false, true} {
		for name, src := range chunkings(mixed) {
			t.Run(fmt.Sprintf("%s ahead=%v", name, ahead), func(t *testing.T) {
				testPassThrough(t, src, ahead)
			})
		}
	}
}

func testPassThrough(t *testing.T, src func() io.Reader, ahead bool) {
	out := &bytes.Buffer{}
	w := NewWriter(out)
	f := Filter{In: NewReader(src(), func() { w.Flush() }), Out: w, ReadAhead: ahead,
		Handle: func(l Line) error {
			if l.Kind == KindIssue {
				return w.Emit(map[string]any{"kind": "heal", "issue": "a"})
			}
			return nil
		}}
	if err := f.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	in, _ := io.ReadAll(src())
	var want []byte
	for i, line := range bytes.SplitAfter(in, []byte("\n")) {
		if _, ok := wantAccepted[i+1]; ok {
			want = append(want, line...)
		}
		if i+1 == 7 {
			want = append(want, "{\"issue\":\"a\",\"kind\":\"heal\"}\n"...)
		}
	}
	want = append(want, '\n') // the last line had no terminator
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("got\n%q\nwant\n%q", out.Bytes(), want)
	}
}

// lineWriter records each Write.
type lineWriter struct{ writes [][]byte }

func (l *lineWriter) Write(p []byte) (int, error) {
	l.writes = append(l.writes, append([]byte(nil), p...))
	return len(p), nil
}

func TestWriterNeverSplitsLines(t *testing.T) {
	lw := &lineWriter{}
	w := NewWriter(lw)
	line := []byte(`{"kind":"sample","pad":"` + strings.Repeat("y", 1000) + "\"}\n")
	huge := []byte(`{"kind":"sample","pad":"` + strings.Repeat("z", 100<<10) + "\"}")
	n := 0
	for i := 0; i < 200; i++ {
		if err := w.WriteLine(line); err != nil {
			t.Fatal(err)
		}
		n++
		if i == 100 {
			if err := w.WriteLine(huge); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, p := range lw.writes {
		if len(p) == 0 || p[0] != '{' || p[len(p)-1] != '\n' {
			t.Fatalf("a Write of %d bytes does not hold whole lines", len(p))
		}
		lines += bytes.Count(p, []byte("\n"))
	}
	if lines != n {
		t.Errorf("wrote %d lines, want %d", lines, n)
	}
	if len(lw.writes) >= n/2 {
		t.Errorf("%d writes for %d lines: not batched", len(lw.writes), n)
	}
}

type epipeWriter struct{}

func (epipeWriter) Write([]byte) (int, error) { return 0, syscall.EPIPE }

func TestFilterEndsQuietlyOnBrokenPipe(t *testing.T) {
	in := strings.Repeat("{\"kind\":\"sample\"}\n", 100000)
	w := NewWriter(epipeWriter{})
	for _, ahead := range []bool{false, true} {
		f := Filter{In: NewReader(strings.NewReader(in), func() { w.Flush() }), Out: w, ReadAhead: ahead}
		if err := f.Run(context.Background()); err != nil {
			t.Fatalf("ReadAhead %v: Run = %v, want nil on EPIPE", ahead, err)
		}
	}
}

// TestInputStopsOnCancel uses a real pipe whose writer stays open and quiet:
// cancelling the context must end the blocked read.
func TestInputStopsOnCancel(t *testing.T) {
	// A raw pipe, blocking like a shell's: os.Pipe's ends are already
	// registered with the runtime poller, which stdin never is.
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	pr, pw := os.NewFile(uintptr(fds[0]), "pipe"), os.NewFile(uintptr(fds[1]), "pipe")
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	in, restore := Input(ctx, pr)
	defer restore()
	if _, err := pw.WriteString("{\"kind\":\"sample\"}\n"); err != nil {
		t.Fatal(err)
	}
	r := NewReader(in, nil)
	if l, err := r.Next(); err != nil || l.Kind != KindSample {
		t.Fatalf("first record: %v %v", l, err)
	}
	done := make(chan error, 1)
	go func() { _, err := r.Next(); done <- err }()
	cancel()
	select {
	case err := <-done:
		if !Stopped(err) {
			t.Errorf("Next after cancel = %v, want a deadline error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("read on a quiet pipe did not end after cancel")
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte(mixed))
	f.Add([]byte("{\"kind\":\"a\"}\r\n{\n}\n\n\x00{}"))
	f.Add([]byte("0"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in), nil)
		r.Max = 64
		accepted := 0
		for {
			l, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			accepted++
			body := bytes.TrimSpace(l.Body())
			if len(body) == 0 || body[0] != '{' || !jsonValid(body) {
				t.Fatalf("accepted %q, not a JSON object", l.Raw)
			}
			if len(l.Body()) > 64 {
				t.Fatalf("accepted a line of %d bytes, max 64", len(l.Body()))
			}
		}
		lines := bytes.Count(in, []byte("\n"))
		if len(in) > 0 && in[len(in)-1] != '\n' {
			lines++
		}
		if accepted+r.Rejected() != lines || r.Lines() != lines {
			t.Fatalf("%d accepted + %d rejected, %d counted, of %d lines", accepted, r.Rejected(), r.Lines(), lines)
		}
	})
}

// TestFilterFlushesWhenCaughtUp: reading ahead, every record is still
// written on at once while the input stays open and quiet.
func TestFilterFlushesWhenCaughtUp(t *testing.T) {
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer inW.Close()
	w := NewWriter(outW)
	f := Filter{In: NewReader(inR, nil), Out: w, ReadAhead: true, Handle: func(l Line) error {
		return w.Emit(map[string]string{"kind": "issue", "after": l.Kind})
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx)
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 4096)
		var acc []byte
		for bytes.Count(acc, []byte("\n")) < 2 {
			n, err := outR.Read(buf)
			if err != nil {
				return
			}
			acc = append(acc, buf[:n]...)
		}
		got <- string(acc)
	}()
	if _, err := inW.WriteString("{\"kind\":\"sample\"}\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		want := "{\"kind\":\"sample\"}\n{\"after\":\"sample\",\"kind\":\"issue\"}\n"
		if s != want {
			t.Errorf("got %q, want %q", s, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a record on a quiet live pipe was not written on")
	}
}
