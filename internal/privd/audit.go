package privd

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/lmn-heal/lmn/internal/privproto"
	"github.com/lmn-heal/lmn/internal/record"
	"golang.org/x/sys/unix"
)

// The audit log is JSON lines, chained under the audit key (chain.go). An
// intent line is written and fsynced before an action runs, a result line
// after it; refusals are written with their reason, a bounded number per
// peer (refusals.go).
//
// Several writers (the daemon, `lmn-privd exec`) may share one file: every
// append takes an exclusive flock, first reads whatever others appended
// (so the chain and the rate limiter stay whole), then writes one line in
// one write(2), fsyncs, and seals the new head beside the log.

// Audit events.
const (
	EventStart   = "start"
	EventIntent  = "intent"
	EventResult  = "result"
	EventRefused = "refused"
	// EventRefusedSummary counts refusals of one peer not written one by
	// one.
	EventRefusedSummary = "refused_summary"
	// EventUnknownOutcome closes an intent whose action's end was never
	// written: the process running it died.
	EventUnknownOutcome = "unknown_outcome"
	// EventRepair records a torn last line removed.
	EventRepair = "repair"
	// EventPause and EventResume switch every action off and on.
	EventPause  = "pause"
	EventResume = "resume"
)

// maxAuditLine bounds one line read back from the log.
const maxAuditLine = 1 << 20

// anchorEvery is how many lines a writer appends between two heads it
// logs to stderr (the journal).
const anchorEvery = 100

// auditLog appends to the keyed, chained log.
type auditLog struct {
	mu    sync.Mutex
	f     *os.File
	path  string
	key   []byte
	end   int64 // offset up to which the file has been read
	chain *chain
	// onEntry sees every line already in the file or appended by another
	// writer, in order (the rate limiter, the pause and the open intents
	// are rebuilt from it).
	onEntry func(Entry)
	// onAnchor is told the head every anchorEvery lines and at Close.
	onAnchor func(seq uint64, hash string)
	// onHeadErr is told when the head cannot be sealed.
	onHeadErr func(error)
	// fsync is (*os.File).Sync; tests make it fail.
	fsync func(*os.File) error
	// repairs are notes of torn lines removed, written with the next line.
	repairs []string
	written int
	// verified is what checking the chain and the head found at open.
	verified error
}

// openAudit opens (creating with mode 0600) the log at path, reads and
// verifies it through onEntry, and returns it ready to append.
func openAudit(path string, key []byte, onEntry func(Entry)) (*auditLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("audit log %s: not a regular file", path)
	}
	a := &auditLog{f: f, path: path, key: key, chain: newChain(key), onEntry: onEntry, fsync: (*os.File).Sync}
	head, herr := readHead(path, key)
	if head != nil {
		a.chain.atSeq = head.Seq
	}
	if err := a.locked(func() error { return nil }); err != nil {
		f.Close()
		return nil, err
	}
	a.verified = herr
	if a.verified == nil && a.chain.err != nil {
		a.verified = a.chain.err
	}
	if a.verified == nil {
		a.verified = a.chain.checkHead(head)
	}
	return a, nil
}

// Close logs the head and closes the file.
func (a *auditLog) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.onAnchor != nil && a.written > 0 {
		a.onAnchor(a.chain.seq, a.chain.prev)
	}
	return a.f.Close()
}

// locked runs fn holding the log's mutex and exclusive flock, after
// reading what other writers appended and removing a torn last line.
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

// catchUp reads the lines appended since a.end. A last line without its
// newline is a write cut short (a full disk, a crash mid-write: writers
// hold the flock, so nobody is writing it now): it is truncated away and
// a repair note is kept for the next line.
func (a *auditLog) catchUp() error {
	fi, err := a.f.Stat()
	if err != nil {
		return fmt.Errorf("audit log %s: %w", a.path, err)
	}
	size := fi.Size()
	if size < a.end { // truncated or replaced under us: read it again
		a.end, a.chain = 0, &chain{key: a.key, prev: genesisHash, atSeq: a.chain.atSeq}
	}
	if size == a.end {
		return nil
	}
	r := bufio.NewReaderSize(io.NewSectionReader(a.f, a.end, size-a.end), 64<<10)
	for {
		line, complete, err := readLine(r)
		if err != nil {
			return fmt.Errorf("audit log %s: %w", a.path, err)
		}
		if !complete {
			if len(line) > 0 {
				return a.repairTorn(line)
			}
			break
		}
		a.end += int64(len(line)) + 1
		if e, ok := a.chain.next(line); ok && a.onEntry != nil {
			a.onEntry(e)
		}
	}
	return nil
}

// repairTorn truncates the torn last line away (it starts at a.end).
func (a *auditLog) repairTorn(torn []byte) error {
	sum := sha256.Sum256(torn)
	if err := a.f.Truncate(a.end); err != nil {
		return fmt.Errorf("audit log %s: remove the torn last line: %w", a.path, err)
	}
	a.repairs = append(a.repairs, fmt.Sprintf("removed a torn line after line %d: %d bytes, sha256 %s, starting %q",
		a.chain.seq, len(torn), hex.EncodeToString(sum[:8]), clipBytes(torn, 48)))
	return nil
}

// readLine returns the next line without its newline and whether it had
// one; at the end of the input, an empty line without one. A line longer
// than maxAuditLine is returned cut.
func readLine(r *bufio.Reader) ([]byte, bool, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(buf)+len(chunk) <= maxAuditLine {
			buf = append(buf, chunk...)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == nil:
			return bytes.TrimSuffix(buf, []byte("\n")), true, nil
		case err == io.EOF:
			return buf, false, nil
		}
		return buf, false, err
	}
}

// append writes e as the next line, after any repair note. Call it inside
// locked.
func (a *auditLog) append(e *Entry) error {
	for len(a.repairs) > 0 {
		r := &Entry{TS: e.TS, Event: EventRepair, Reason: a.repairs[0]}
		if err := a.appendOne(r); err != nil {
			return err
		}
		a.repairs = a.repairs[1:]
	}
	return a.appendOne(e)
}

func (a *auditLog) appendOne(e *Entry) error {
	e.Seq = a.chain.seq + 1
	e.Prev = a.chain.prev
	b := encodeEntry(e)
	n, err := a.f.Write(append(b, '\n'))
	if err != nil {
		// A short write (ENOSPC) left part of a line: take it back now,
		// so the next line does not follow a torn one.
		if n > 0 {
			if terr := a.f.Truncate(a.end); terr == nil {
				a.repairs = append(a.repairs, fmt.Sprintf("took back a write of line %d cut short after %d of %d bytes (%v)", e.Seq, n, len(b)+1, err))
			}
		}
		return fmt.Errorf("audit log %s: write: %w", a.path, err)
	}
	a.end += int64(n)
	// The line is in the file even if fsync fails: the next one chains to it.
	a.chain.line++
	a.chain.prev = chainValue(a.key, b)
	a.chain.seq = e.Seq
	a.written++
	if err := a.fsync(a.f); err != nil {
		return fmt.Errorf("audit log %s: fsync: %w", a.path, err)
	}
	// The head follows the line once it is on disk: a crash between the
	// two leaves a head one line behind, never ahead. A head that cannot
	// be written (a full disk) lags behind too; the line stands.
	if err := writeHead(a.path, a.key, a.chain.seq, a.chain.prev); err != nil && a.onHeadErr != nil {
		a.onHeadErr(err)
	}
	if a.onAnchor != nil && a.written%anchorEvery == 0 {
		a.onAnchor(a.chain.seq, a.chain.prev)
	}
	return nil
}

// write appends one entry under the lock.
func (a *auditLog) write(e *Entry) error {
	return a.locked(func() error { return a.append(e) })
}

// stamp returns t as an audit timestamp.
func stamp(t time.Time) record.Time { return record.Time{Time: t} }

func clipBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(bytes.ToValidUTF8(b, nil))
}

// loadAuditKey reads the audit key at path, first making one when there is
// none: a new key for a log that already has lines is recorded, and the
// lines before it no longer verify.
func loadAuditKey(path string) ([]byte, bool, error) {
	created := false
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		if err := privproto.WriteKey(path); err != nil {
			return nil, false, fmt.Errorf("audit key: %w", err)
		}
		created = true
	}
	key, err := privproto.LoadKey(path)
	if err != nil {
		return nil, false, fmt.Errorf("audit key: %w", err)
	}
	return key, created, nil
}
