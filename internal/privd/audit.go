package privd

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
	"golang.org/x/sys/unix"
)

// The audit log is JSON lines. Each line's "prev" is the hex SHA-256 of
// the previous line's bytes (without its newline); the first line's is
// genesisHash. An intent line is written and fsynced before an action runs,
// a result line after it; refusals are written with their reason.
//
// Several writers (the daemon, `lmn-privd exec`) may share one file: every
// append takes an exclusive flock, first reads whatever others appended
// (so the chain and the rate limiter stay whole), then writes one line in
// one write(2) and fsyncs.

// Audit events.
const (
	EventStart   = "start"
	EventIntent  = "intent"
	EventResult  = "result"
	EventRefused = "refused"
)

var genesisHash = hex.EncodeToString(make([]byte, sha256.Size))

// Entry is one audit line.
type Entry struct {
	Seq    uint64            `json:"seq"`
	Prev   string            `json:"prev"`
	TS     record.Time       `json:"ts"`
	Event  string            `json:"event"`
	ID     string            `json:"id,omitempty"`
	Peer   *Peer             `json:"peer,omitempty"`
	Action string            `json:"action,omitempty"`
	Params map[string]string `json:"params,omitempty"`
	Target string            `json:"target,omitempty"`
	// Outcome of a result line: "ok" or "failed".
	Outcome    string            `json:"outcome,omitempty"`
	Code       string            `json:"code,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	Output     string            `json:"output,omitempty"`
	Restore    map[string]string `json:"restore,omitempty"`
	DurationMS *float64          `json:"duration_ms,omitempty"`
}

// Peer is who asked.
type Peer struct {
	UID int    `json:"uid"`
	GID int    `json:"gid"`
	PID int    `json:"pid"`
	Via string `json:"via"` // "socket" or "exec"
	// Chain are the caller's ancestors that must not be killed either
	// (for exec: sudo's parent, the real caller).
	Chain []int `json:"chain,omitempty"`
	// AllowRejected is a person's override of the record of rejected
	// generations: `lmn-privd --allow-rejected exec`, a flag before exec
	// that a sudoers rule with a fixed prefix cannot add and the socket
	// protocol cannot carry. Execute ignores it unless Via is "exec".
	AllowRejected bool `json:"allow_rejected,omitempty"`
}

// maxAuditLine bounds one line read back from the log.
const maxAuditLine = 1 << 20

// auditLog appends to the hash-chained log.
type auditLog struct {
	mu   sync.Mutex
	f    *os.File
	path string
	end  int64  // offset up to which the file has been read
	prev string // hash of the last line
	seq  uint64
	// onEntry sees every line already in the file or appended by another
	// writer, in order (the rate limiter is rebuilt from it).
	onEntry func(Entry)
	// onBad is told of lines that do not parse.
	onBad func(line int64, err error)
	// fsync is (*os.File).Sync; tests make it fail.
	fsync func(*os.File) error
}

// openAudit opens (creating with mode 0600) the log at path, reads it
// through onEntry, and returns it ready to append.
func openAudit(path string, onEntry func(Entry), onBad func(int64, error)) (*auditLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("audit log %s: not a regular file", path)
	}
	a := &auditLog{f: f, path: path, prev: genesisHash, onEntry: onEntry, onBad: onBad, fsync: (*os.File).Sync}
	if err := a.locked(func() error { return nil }); err != nil {
		f.Close()
		return nil, err
	}
	return a, nil
}

// Close closes the file.
func (a *auditLog) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.f.Close()
}

// locked runs fn holding the log's mutex and exclusive flock, after
// reading what other writers appended.
func (a *auditLog) locked(fn func() error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := unix.Flock(int(a.f.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("audit log %s: lock: %w", a.path, err)
	}
	defer unix.Flock(int(a.f.Fd()), unix.LOCK_UN)
	if err := a.catchUp(); err != nil {
		return err
	}
	return fn()
}

// catchUp reads lines appended since a.end.
func (a *auditLog) catchUp() error {
	fi, err := a.f.Stat()
	if err != nil {
		return fmt.Errorf("audit log %s: %w", a.path, err)
	}
	size := fi.Size()
	if size < a.end { // truncated or replaced: start over
		a.end, a.prev, a.seq = 0, genesisHash, 0
	}
	if size == a.end {
		return nil
	}
	r := bufio.NewReaderSize(io.NewSectionReader(a.f, a.end, size-a.end), 64<<10)
	lineNo := int64(a.seq)
	for {
		line, err := readLine(r)
		if len(line) > 0 {
			lineNo++
			a.absorb(line, lineNo)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("audit log %s: %w", a.path, err)
		}
	}
	a.end = size
	return nil
}

// absorb takes in one existing line.
func (a *auditLog) absorb(line []byte, n int64) {
	sum := sha256.Sum256(line)
	a.prev = hex.EncodeToString(sum[:])
	var e Entry
	if err := json.Unmarshal(line, &e); err != nil {
		if a.onBad != nil {
			a.onBad(n, err)
		}
		a.seq++
		return
	}
	a.seq = max(a.seq+1, e.Seq)
	if a.onEntry != nil {
		a.onEntry(e)
	}
}

// readLine returns the next line without its newline, io.EOF after the
// last. A line longer than maxAuditLine is returned cut.
func readLine(r *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(buf)+len(chunk) <= maxAuditLine {
			buf = append(buf, chunk...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == nil {
			return bytes.TrimSuffix(buf, []byte("\n")), nil
		}
		return buf, err
	}
}

// append writes e as the next line. Call it inside locked.
func (a *auditLog) append(e *Entry) error {
	e.Seq = a.seq + 1
	e.Prev = a.prev
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit log: encode: %w", err)
	}
	var out []byte
	if a.end > 0 && !a.endsWithNewline() {
		out = append(out, '\n') // a torn line from a crash: close it
	}
	out = append(append(out, b...), '\n')
	n, err := a.f.Write(out)
	a.end += int64(n)
	if err != nil {
		return fmt.Errorf("audit log %s: write: %w", a.path, err)
	}
	// The line is in the file even if fsync fails: the next one chains to it.
	sum := sha256.Sum256(b)
	a.prev = hex.EncodeToString(sum[:])
	a.seq = e.Seq
	if err := a.fsync(a.f); err != nil {
		return fmt.Errorf("audit log %s: fsync: %w", a.path, err)
	}
	return nil
}

func (a *auditLog) endsWithNewline() bool {
	var last [1]byte
	if _, err := a.f.ReadAt(last[:], a.end-1); err != nil {
		return true
	}
	return last[0] == '\n'
}

// write appends one entry under the lock.
func (a *auditLog) write(e *Entry) error {
	return a.locked(func() error { return a.append(e) })
}

// VerifyError names the first line that breaks the chain.
type VerifyError struct {
	Line int64
	Err  error
}

func (e *VerifyError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *VerifyError) Unwrap() error { return e.Err }

// ErrChain is wrapped by every VerifyError.
var ErrChain = errors.New("audit chain broken")

// Verify checks the chain of the log in r and returns the number of lines,
// or a *VerifyError for the first bad line.
func Verify(r io.Reader) (int64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	prev := genesisHash
	var n int64
	var seq uint64
	for {
		line, err := readLine(br)
		if err == io.EOF && len(line) == 0 {
			return n, nil
		}
		if err != nil && err != io.EOF {
			return n, fmt.Errorf("read: %w", err)
		}
		n++
		var e Entry
		if jerr := json.Unmarshal(line, &e); jerr != nil {
			return n, &VerifyError{n, fmt.Errorf("%w: not a JSON audit entry: %v", ErrChain, jerr)}
		}
		if e.Prev != prev {
			return n, &VerifyError{n, fmt.Errorf("%w: prev %.16s… is not the SHA-256 of line %d (%.16s…): line %d or %d was altered, or a line was removed", ErrChain, e.Prev, n-1, prev, n-1, n)}
		}
		if e.Seq != seq+1 {
			return n, &VerifyError{n, fmt.Errorf("%w: seq %d, want %d", ErrChain, e.Seq, seq+1)}
		}
		seq = e.Seq
		sum := sha256.Sum256(line)
		prev = hex.EncodeToString(sum[:])
		if err == io.EOF {
			return n, nil
		}
	}
}

// stamp returns t as an audit timestamp.
func stamp(t time.Time) record.Time { return record.Time{Time: t} }
