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
	// Pass reports whether a line is written on; nil passes every line.
	Pass func(Line) bool
	// Handle is called after the line is passed on.
	Handle func(Line) error
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
}
