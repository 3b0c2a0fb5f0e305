package privd

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/record"
)

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
	// Digest identifies a refused request without echoing it: the first
	// 16 hex digits of the SHA-256 of its JSON.
	Digest string `json:"digest,omitempty"`
	// Outcome of a result line: "ok", "failed" or "not_run".
	Outcome string `json:"outcome,omitempty"`
	Code    string `json:"code,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Count and Codes of a refused_summary: how many refusals of the peer
	// since Since were not written one by one, by code.
	Count      int               `json:"count,omitempty"`
	Codes      map[string]int    `json:"codes,omitempty"`
	Since      record.Time       `json:"since,omitzero"`
	Output     string            `json:"output,omitempty"`
	Restore    map[string]string `json:"restore,omitempty"`
	DurationMS *float64          `json:"duration_ms,omitempty"`
}

// Peer is who asked.
type Peer struct {
	UID int    `json:"uid"`
	GID int    `json:"gid"`
	PID int    `json:"pid"`
	Via string `json:"via"` // "socket", "exec" or "local"
	// Chain are the caller's ancestors that must not be killed either
	// (for exec: sudo's parent, the real caller).
	Chain []int `json:"chain,omitempty"`
	// AllowRejected is a person's override of the record of rejected
	// generations: `lmn-privd --allow-rejected exec`, a flag before exec
	// that a sudoers rule with a fixed prefix cannot add and the socket
	// protocol cannot carry. Execute ignores it unless Via is "exec".
	AllowRejected bool `json:"allow_rejected,omitempty"`
}

// maxLine is the longest line written to the audit log. A refusal line is
// far shorter (no parameters, a clipped reason); only a result's output
// or restore map can reach it, and they are cut to fit.
const maxLine = 8 << 10

// maxReason bounds a refusal's reason, which may quote the request.
const maxReason = 256

// encodeEntry returns e's JSON, at most maxLine bytes: the output and
// reason are halved until it fits, then the restore map and the
// parameters are replaced by a note.
func encodeEntry(e *Entry) []byte {
	b, _ := json.Marshal(e)
	for len(b) > maxLine && (len(e.Output) > 64 || len(e.Reason) > 64) {
		e.Output = halve(e.Output)
		e.Reason = halve(e.Reason)
		b, _ = json.Marshal(e)
	}
	if len(b) > maxLine && len(e.Restore) > 0 {
		e.Restore = map[string]string{"omitted": strconv.Itoa(len(e.Restore)) + " entries, too long for an audit line"}
		b, _ = json.Marshal(e)
	}
	if len(b) > maxLine && len(e.Params) > 0 {
		e.Params, e.Digest = nil, paramsDigest(e.Action, e.Params)
		b, _ = json.Marshal(e)
	}
	return b
}

// halve cuts s to half its length (valid UTF-8, marked), if longer than 64.
func halve(s string) string {
	if len(s) <= 64 {
		return s
	}
	return clipString(s, len(s)/2)
}

// clipString cuts s to at most n bytes of valid UTF-8, marked when cut.
func clipString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…(cut)"
}

// requestDigest is the digest of a refused request.
func requestDigest(req action.Request) string {
	return paramsDigest(req.Action, req.Params)
}

func paramsDigest(action string, params map[string]string) string {
	b, _ := json.Marshal(struct {
		A string            `json:"action"`
		P map[string]string `json:"params,omitempty"`
	}{action, params})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
