package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// MaxLine is the default maximum length of one line, terminator excluded.
const MaxLine = 1 << 20

// Line is one accepted record as read. Raw is the line exactly as it arrived,
// with its terminator ("\n" or "\r\n"; none on a last line that lacked one).
// Raw is only valid until the next call to Next.
type Line struct {
	N    int    // 1-based line number in the input
	Raw  []byte // the bytes as read
	Kind string // the record's "kind" field; "" when it has none
	ts   tsSpan // where the scanner found "ts"
}

// TS returns the record's "ts" as json.Unmarshal into its Header gives it:
// the zero time when there is none (or it is null), an error when it is
// not an RFC 3339 time. The scanner found it, so reading it costs only the
// parse: every reader of the stream takes a record's time this way.
func (l Line) TS() (time.Time, error) {
	if l.ts.state == tsAbsent {
		return time.Time{}, nil
	}
	if l.ts.state == tsPlain && int(l.ts.end) <= len(l.Raw) {
		s := l.Raw[l.ts.off:l.ts.end]
		t, err := time.Parse(time.RFC3339Nano, string(s))
		if err != nil {
			return time.Time{}, fmt.Errorf("time %q: %w", s, err)
		}
		return t.UTC(), nil
	}
	var h struct {
		TS Time `json:"ts"`
	}
	if err := json.Unmarshal(l.Body(), &h); err != nil {
		return time.Time{}, err
	}
	return h.TS.Time, nil
}

// Body returns the line without its terminator.
func (l Line) Body() []byte { return bytes.TrimRight(l.Raw, "\r\n") }

// Decode unmarshals the line into v.
func (l Line) Decode(v any) error {
	if err := json.Unmarshal(l.Body(), v); err != nil {
		return &LineError{Line: l.N, Err: err}
	}
	return nil
}

// LineError says which input line was rejected and why.
type LineError struct {
	Name string // the input's name, such as "stdin"
	Line int
	Err  error
}

func (e *LineError) Error() string {
	if e.Name == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("%s line %d: %v", e.Name, e.Line, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// Reasons a line is rejected.
var (
	ErrNotObject = errors.New("not a JSON object")
	ErrTooLong   = errors.New("line too long")
)

// Reader reads records, one per line. Lines that are not JSON objects, or
// are longer than the maximum, are reported through OnReject, counted and
// skipped; reading goes on.
type Reader struct {
	// Name names the input in errors, such as "stdin".
	Name string
	// Max is the longest accepted line, terminator excluded (MaxLine if 0).
	Max int
	// OnReject is called for each rejected line with a *LineError.
	OnReject func(error)

	br       *bufio.Reader
	scratch  []byte
	n        int
	rejected int
}

// NewReader returns a Reader over r. If beforeRead is not nil it is called
// each time the reader is about to wait on r for more input, which is when a
// writer should flush.
func NewReader(r io.Reader, beforeRead func()) *Reader {
	if beforeRead != nil {
		r = hookReader{r, beforeRead}
	}
	return &Reader{Name: "stdin", br: bufio.NewReaderSize(r, 64<<10)}
}

type hookReader struct {
	r      io.Reader
	before func()
}

func (h hookReader) Read(p []byte) (int, error) {
	h.before()
	return h.r.Read(p)
}

// Rejected returns how many lines have been rejected so far.
func (r *Reader) Rejected() int { return r.rejected }

// Lines returns how many lines have been read so far, rejected ones included.
func (r *Reader) Lines() int { return r.n }

// Next returns the next accepted record. It returns io.EOF at the end of the
// input, or the underlying read error.
func (r *Reader) Next() (Line, error) {
	for {
		raw, tooLong, err := r.readLine()
		if len(raw) == 0 && !tooLong {
			if err == nil {
				err = io.EOF
			}
			return Line{}, err
		}
		r.n++
		if tooLong {
			r.reject(fmt.Errorf("%w (more than %d bytes)", ErrTooLong, r.max()))
		} else if kind, ts, verr := validate(raw); verr != nil {
			r.reject(verr)
		} else {
			return Line{N: r.n, Raw: raw, Kind: kind, ts: ts}, nil
		}
		if err != nil {
			return Line{}, err
		}
	}
}

func (r *Reader) max() int {
	if r.Max > 0 {
		return r.Max
	}
	return MaxLine
}

func (r *Reader) reject(err error) {
	r.rejected++
	if r.OnReject != nil {
		r.OnReject(&LineError{Name: r.Name, Line: r.n, Err: err})
	}
}

// readLine returns the next line with its terminator. If the line is longer
// than the maximum, the rest of it is discarded and tooLong is set. err is
// only set once no more lines can follow.
func (r *Reader) readLine() (raw []byte, tooLong bool, err error) {
	r.scratch = r.scratch[:0]
	limit := r.max() + 2 // room for "\r\n"
	for {
		chunk, err := r.br.ReadSlice('\n')
		if !tooLong {
			if len(r.scratch)+len(chunk) > limit {
				tooLong = true
				r.scratch = r.scratch[:0]
			} else if err == nil && len(r.scratch) == 0 {
				// The common case: a whole line in the buffer, no copy.
				return trimLimit(chunk, r.max())
			} else {
				r.scratch = append(r.scratch, chunk...)
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return nil, true, nil
			}
			return trimLimit(r.scratch, r.max())
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			if tooLong {
				return nil, true, err
			}
			if len(r.scratch) > 0 {
				raw, tl, _ := trimLimit(r.scratch, r.max())
				return raw, tl, err
			}
			return nil, false, err
		}
	}
}

// trimLimit checks the body length (terminator excluded) against max.
func trimLimit(line []byte, max int) ([]byte, bool, error) {
	if len(bytes.TrimRight(line, "\r\n")) > max {
		return nil, true, nil
	}
	return line, false, nil
}

// validate checks that line is one JSON object and returns its kind and
// where its ts is.
func validate(line []byte) (string, tsSpan, error) {
	body := bytes.TrimRight(line, "\r\n")
	trimmed := bytes.TrimLeft(body, " \t")
	if len(trimmed) == 0 {
		return "", tsSpan{}, fmt.Errorf("%w: empty line", ErrNotObject)
	}
	if trimmed[0] != '{' {
		return "", tsSpan{}, fmt.Errorf("%w: starts with %q", ErrNotObject, preview(trimmed))
	}
	kind, ts, err := scanObject(body)
	if err != nil {
		return "", tsSpan{}, fmt.Errorf("%w: %v", ErrNotObject, err)
	}
	return kind, ts, nil
}

func preview(b []byte) string {
	if len(b) > 20 {
		return string(b[:20]) + "…"
	}
	return string(b)
}
