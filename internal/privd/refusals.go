package privd

import (
	"fmt"
	"sync"
	"time"
)

// A client that is refused over and over must not fill /var/log: each
// refusal line is short (a digest of the request, never its parameters;
// a clipped reason), and of one peer's refusals at most foldBurst per
// foldWindow are written one by one, to the audit log and to stderr. The
// rest are counted and written as one refused_summary line per peer and
// window, when the window has passed (or at shutdown). Peers are told
// apart by uid; beyond foldPeers of them the rest share one count.
const (
	foldBurst  = 10
	foldWindow = time.Minute
	foldPeers  = 32
	// otherUID is the shared count of peers beyond foldPeers.
	otherUID = -1
	// noUID is a refusal without a peer (a test's direct Execute).
	noUID = -2
)

type folder struct {
	mu    sync.Mutex
	peers map[int]*folded
}

// folded is one peer's refusals in the current window.
type folded struct {
	start time.Time // the window's start
	full  int       // written one by one in it
	count int       // counted, not written, since since
	codes map[string]int
	since time.Time
}

func newFolder() *folder { return &folder{peers: map[int]*folded{}} }

// admit takes one refusal of uid with code at now. It reports whether the
// refusal is to be written in full, and returns the summary of the
// peer's previous window to write before it, if that window folded any.
func (f *folder) admit(uid int, code string, now time.Time) (bool, *Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.peers[uid]
	if p == nil {
		if len(f.peers) >= foldPeers {
			f.prune(now)
		}
		if len(f.peers) >= foldPeers {
			uid = otherUID
			p = f.peers[uid]
		}
	}
	if p == nil {
		p = &folded{start: now}
		f.peers[uid] = p
	}
	var summary *Entry
	if now.Sub(p.start) >= foldWindow || now.Before(p.start) {
		summary = p.summary(uid, now)
		p.start, p.full = now, 0
	}
	if p.full < foldBurst {
		p.full++
		return true, summary
	}
	if p.count == 0 {
		p.since, p.codes = now, map[string]int{}
	}
	p.count++
	p.codes[code]++
	return false, summary
}

// flush returns the summaries of every peer whose window has passed, or
// of every peer with a count when all is set (at shutdown).
func (f *folder) flush(now time.Time, all bool) []*Entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*Entry
	for uid, p := range f.peers {
		if all || now.Sub(p.start) >= foldWindow {
			if s := p.summary(uid, now); s != nil {
				out = append(out, s)
			}
		}
	}
	f.prune(now)
	return out
}

// prune forgets peers with nothing counted whose window has passed.
func (f *folder) prune(now time.Time) {
	for uid, p := range f.peers {
		if p.count == 0 && now.Sub(p.start) >= foldWindow {
			delete(f.peers, uid)
		}
	}
}

// summary returns the refused_summary line of p's count and resets it,
// or nil when nothing was counted.
func (p *folded) summary(uid int, now time.Time) *Entry {
	if p.count == 0 {
		return nil
	}
	who := fmt.Sprintf("uid %d", uid)
	switch uid {
	case otherUID:
		who = fmt.Sprintf("peers beyond the first %d uids", foldPeers)
	case noUID:
		who = "callers without a peer"
	}
	e := &Entry{TS: stamp(now), Event: EventRefusedSummary, Peer: &Peer{UID: uid}, Count: p.count, Codes: p.codes,
		Since: stamp(p.since), Reason: fmt.Sprintf("%d more refusals of %s, not written one by one (at most %d per %v are)", p.count, who, foldBurst, foldWindow)}
	p.count, p.codes = 0, nil
	return e
}
