package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
)

// Writer writes records as whole lines. Lines are buffered and reach the
// underlying writer in one Write each or batched together, never split;
// call Flush before waiting for input or for the next tick.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
	enc bytes.Buffer
	err error
}

const writerBuf = 64 << 10

// NewWriter returns a Writer over w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, buf: make([]byte, 0, writerBuf)}
}

// WriteLine writes line unchanged, adding "\n" if it has no terminator.
func (w *Writer) WriteLine(line []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeLine(line)
}

func (w *Writer) writeLine(line []byte) error {
	if w.err != nil {
		return w.err
	}
	need := len(line)
	if len(line) == 0 || line[len(line)-1] != '\n' {
		need++
	}
	if len(w.buf)+need > cap(w.buf) {
		if err := w.flush(); err != nil {
			return err
		}
	}
	if need > cap(w.buf) {
		// Larger than the buffer: one Write of its own.
		out := line
		if need > len(line) {
			out = append(append(make([]byte, 0, need), line...), '\n')
		}
		_, err := w.w.Write(out)
		w.err = err
		return err
	}
	w.buf = append(w.buf, line...)
	if need > len(line) {
		w.buf = append(w.buf, '\n')
	}
	return nil
}

// Emit marshals v as one line and writes it.
func (w *Writer) Emit(v any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.enc.Reset()
	enc := json.NewEncoder(&w.enc)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode %T: %w", v, err)
	}
	return w.writeLine(w.enc.Bytes())
}

// Flush writes buffered lines to the underlying writer.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flush()
}

func (w *Writer) flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.w.Write(w.buf)
	w.buf = w.buf[:0]
	w.err = err
	return err
}

// IsBrokenPipe reports whether err means the downstream reader went away,
// which ends a binary quietly with status 0.
func IsBrokenPipe(err error) bool {
	return errors.Is(err, syscall.EPIPE)
}
