package record

import (
	"context"
	"errors"
	"io"
)

// Filter is the loop of a binary in the middle of the pipe: it passes every
// record on unchanged, in order, and lets Handle write the binary's own
// records after the record that caused them.
type Filter struct {
	In  *Reader
	Out *Writer
	// ReadAhead reads and validates lines on a goroutine of its own, a few
	// batches ahead of Handle, so a replayed file keeps both cores busy.
	// Output is then flushed whenever Handle has caught up and is about to
	// wait. Without it, Handle sees each line as soon as it is read and the
	// reader's own hook flushes: what a live pipe wants, where "waiting for
	// input" must mean the whole binary is idle.
	ReadAhead bool
	// Pass reports whether a line is written on; nil passes every line.
	Pass func(Line) bool
	// Handle is called after the line is passed on.
	Handle func(Line) error
}

// Batches bound how far the reading goroutine runs ahead.
const (
	batchLines   = 256
	batchBytes   = 256 << 10
	batchesAhead = 4
)

// batch is a run of accepted lines, copied out of the reader's buffer.
type batch struct {
	buf   []byte
	ends  []int // end offset in buf of each line
	lines []Line
	err   error // the read error that ended input, after these lines
}

// Run reads until end of input or until ctx is done, then flushes. A closed
// downstream and a stop by signal are not errors.
func (f *Filter) Run(ctx context.Context) error {
	err := f.run(ctx)
	if ferr := f.Out.Flush(); err == nil {
		err = ferr
	}
	if IsBrokenPipe(err) || Stopped(err) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (f *Filter) run(ctx context.Context) error {
	if !f.ReadAhead {
		return f.runInline(ctx)
	}
	full := make(chan *batch, batchesAhead)
	free := make(chan *batch, batchesAhead+1)
	for range batchesAhead + 1 {
		free <- &batch{}
	}
	done := make(chan struct{})
	defer close(done)
	go f.read(full, free, done)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var b *batch
		select {
		case b = <-full:
		default:
			// Caught up: flush before waiting, so a live pipe sees
			// every record at once.
			if err := f.Out.Flush(); err != nil {
				return err
			}
			b = <-full
		}
		if err := f.handle(b.lines); err != nil {
			return err
		}
		if b.err != nil {
			if errors.Is(b.err, io.EOF) {
				return nil
			}
			return b.err
		}
		free <- b
	}
}

func (f *Filter) runInline(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, err := f.In.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := f.handle([]Line{line}); err != nil {
			return err
		}
	}
}

func (f *Filter) handle(lines []Line) error {
	for _, line := range lines {
		if f.Pass == nil || f.Pass(line) {
			if err := f.Out.WriteLine(line.Raw); err != nil {
				return err
			}
		}
		if f.Handle != nil {
			if err := f.Handle(line); err != nil {
				return err
			}
		}
	}
	return nil
}

// read fills batches until the input ends. A batch goes out when it is
// full, and also as soon as the next line would have to wait for input.
func (f *Filter) read(full, free chan *batch, done chan struct{}) {
	var b *batch
	for {
		if b == nil {
			select {
			case b = <-free:
			case <-done:
				return
			}
			b.buf, b.ends, b.lines, b.err = b.buf[:0], b.ends[:0], b.lines[:0], nil
		}
		line, err := f.In.Next()
		if err == nil {
			b.buf = append(b.buf, line.Raw...)
			b.ends = append(b.ends, len(b.buf))
			b.lines = append(b.lines, Line{N: line.N, Kind: line.Kind, ts: line.ts})
		} else {
			b.err = err
		}
		if err != nil || len(b.lines) >= batchLines || len(b.buf) >= batchBytes || f.In.br.Buffered() == 0 {
			start := 0
			for i, end := range b.ends {
				b.lines[i].Raw = b.buf[start:end:end]
				start = end
			}
			select {
			case full <- b:
			case <-done:
				return
			}
			b = nil
			if err != nil {
				return
			}
		}
	}
}
