package privd

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/lmn-heal/lmn/internal/privproto"
	"github.com/lmn-heal/lmn/internal/statefile"
	"golang.org/x/sys/unix"
)

// The audit log is a keyed chain: each line's "prev" is the hex
// HMAC-SHA256, under the audit key, of the previous line's bytes (without
// its newline); the first line's is genesisHash. The audit key is not the
// key lmn-heal signs requests with: only lmn-privd (root) holds it, so
// nobody else can write a line that chains, and the head (the sequence
// number and chain value of the last line) is sealed with it in a file
// beside the log and written to the journal, so that lines removed from
// the end or a rewritten tail show.

var genesisHash = hex.EncodeToString(make([]byte, sha256.Size))

// chainValue is the chain value of one line: what the next line's prev is.
func chainValue(key, line []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(line)
	return hex.EncodeToString(m.Sum(nil))
}

// chain follows a log line by line, checking each against the one before.
type chain struct {
	key  []byte
	prev string // chain value of the last line
	seq  uint64
	line int64
	// err is the first break found; reading goes on after it, chaining
	// to the lines as they are, so later breaks are not all reported.
	err *VerifyError
	// at is the chain value after line number atSeq, once read.
	atSeq uint64
	at    string
}

func newChain(key []byte) *chain { return &chain{key: key, prev: genesisHash} }

// next checks one line and returns its entry; ok is false for a line that
// is not a JSON audit entry.
func (c *chain) next(line []byte) (e Entry, ok bool) {
	c.line++
	jerr := json.Unmarshal(line, &e)
	switch {
	case jerr != nil:
		c.fail(fmt.Errorf("%w: not a JSON audit entry: %v", ErrChain, jerr))
	case e.Prev != c.prev:
		c.fail(fmt.Errorf("%w: prev %.16s… is not the chain value of line %d (%.16s…): line %d or %d was altered or written without the audit key, or a line was removed",
			ErrChain, e.Prev, c.line-1, c.prev, c.line-1, c.line))
	case e.Seq != c.seq+1:
		c.fail(fmt.Errorf("%w: seq %d, want %d", ErrChain, e.Seq, c.seq+1))
	}
	c.prev = chainValue(c.key, line)
	c.seq = max(c.seq+1, e.Seq)
	if c.seq == c.atSeq {
		c.at = c.prev
	}
	return e, jerr == nil
}

func (c *chain) fail(err error) {
	if c.err == nil {
		c.err = &VerifyError{Line: c.line, Err: err}
	}
}

// VerifyError names the first line that breaks the chain.
type VerifyError struct {
	Line int64
	Err  error
}

func (e *VerifyError) Error() string {
	if e.Line == 0 {
		return e.Err.Error()
	}
	return fmt.Sprintf("line %d: %v", e.Line, e.Err)
}

func (e *VerifyError) Unwrap() error { return e.Err }

// ErrChain is wrapped by every VerifyError.
var ErrChain = errors.New("audit chain broken")

// Head is the sealed head of the log: the sequence number and chain value
// of its last line, with a MAC under the audit key.
type Head struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
	MAC  string `json:"mac"`
}

func headMAC(key []byte, seq uint64, hash string) string {
	return chainValue(key, []byte("lmn-privd audit head\x00"+strconv.FormatUint(seq, 10)+"\x00"+hash))
}

// headPath is where the head of the log at path is sealed.
func headPath(path string) string { return path + ".head" }

// writeHead seals seq and hash into the head file, atomically.
func writeHead(path string, key []byte, seq uint64, hash string) error {
	b, _ := json.Marshal(Head{Seq: seq, Hash: hash, MAC: headMAC(key, seq, hash)})
	return statefile.Write(headPath(path), append(b, '\n'))
}

// readHead reads the sealed head of the log at path; nil when there is
// none.
func readHead(path string, key []byte) (*Head, error) {
	b, err := os.ReadFile(headPath(path))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit head: %w", err)
	}
	var h Head
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("%w: head file %s: %v", ErrChain, headPath(path), err)
	}
	if !hmac.Equal([]byte(h.MAC), []byte(headMAC(key, h.Seq, h.Hash))) {
		return nil, fmt.Errorf("%w: head file %s is not sealed with this audit key", ErrChain, headPath(path))
	}
	return &h, nil
}

// checkHead compares the chain, read to its end, with the sealed head.
func (c *chain) checkHead(h *Head) error {
	switch {
	case h == nil && c.seq > 0:
		return fmt.Errorf("%w: no sealed head beside the log: lines removed from its end cannot be ruled out", ErrChain)
	case h == nil:
		return nil
	case h.Seq > c.seq:
		return fmt.Errorf("%w: truncated: the sealed head is line %d, the log ends at line %d", ErrChain, h.Seq, c.seq)
	case c.at != h.Hash:
		return fmt.Errorf("%w: rewritten: line %d is not the line the head sealed (%.16s…, now %.16s…)", ErrChain, h.Seq, h.Hash, c.at)
	}
	return nil
}

// Report is what Verify found besides a break.
type Report struct {
	Lines int64
	// HeadSeq is the line the sealed head names (0: none).
	HeadSeq uint64
	// Open are intents without an outcome: running, or left by a crash
	// (lmn-privd closes them with unknown_outcome at its next start).
	Open []Entry
	// Torn is the length of a last line cut short (no newline), which
	// lmn-privd removes, with a repair record, at its next start.
	Torn int
}

// Verify checks the chain of the log in r under key against head (from
// readHead) and returns what it found, with a *VerifyError for the first
// break, a truncation or a rewritten tail.
func Verify(r io.Reader, key []byte, head *Head) (Report, error) {
	c := newChain(key)
	if head != nil {
		c.atSeq = head.Seq
	}
	var rep Report
	open := openIntents{}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, complete, err := readLine(br)
		if err != nil {
			return rep, fmt.Errorf("read: %w", err)
		}
		if !complete {
			rep.Torn = len(line)
			break
		}
		if e, ok := c.next(line); ok {
			open.absorb(e)
		}
	}
	rep.Lines, rep.Open = c.line, open.list()
	if head != nil {
		rep.HeadSeq = head.Seq
	}
	if c.err != nil {
		return rep, c.err
	}
	if err := c.checkHead(head); err != nil {
		return rep, &VerifyError{Err: err}
	}
	return rep, nil
}

// VerifyFile verifies the log at path with the key at keyPath, holding a
// shared lock on it so that no line is read half-written.
func VerifyFile(path, keyPath string) (Report, error) {
	key, err := privproto.LoadKey(keyPath)
	if err != nil {
		return Report{}, fmt.Errorf("audit key: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return Report{}, err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
		return Report{}, fmt.Errorf("audit log %s: lock: %w", path, err)
	}
	head, err := readHead(path, key)
	if err != nil {
		return Report{}, &VerifyError{Err: err}
	}
	return Verify(f, key, head)
}
