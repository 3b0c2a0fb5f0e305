package privd

import (
	"net"
	"sync"
	"time"
)

// Slow clients must not starve the others. Connections are counted per
// peer uid (max_connections_per_uid) and in all (max_connections). A
// connection is pending from accept until its request has been read; a
// legitimate client sends its request within milliseconds of the
// challenge. When a uid is at its cap, a new connection of that uid
// displaces the oldest of its pending connections that has waited at
// least slowAfter; when the server is full, the oldest such connection of
// any uid. Only when none has waited that long is the new one refused
// (rate_limited), so 200 slow connections of one uid cost that uid its own
// slots and nobody else anything. Within a uid one process (the peer pid)
// may hold at most a quarter of the uid's slots pending: beyond that its
// new connection displaces only its own oldest slow one, or is refused, so
// a slowloris in one process leaves the rest to lmn-heal even when it runs
// as the same user.
const slowAfter = 250 * time.Millisecond

type connTable struct {
	mu          sync.Mutex
	max, perUID int
	now         func() time.Time
	total       int
	byUID       map[int]*uidConns
}

type uidConns struct {
	n       int
	pending []*slot     // in arrival order
	byPID   map[int]int // pending slots per peer pid
}

// slot is one connection's place in the table.
type slot struct {
	conn     *net.UnixConn
	uid, pid int
	since    time.Time
	pending  bool
	gone     bool // counted out already (evicted, or closed)
	evicted  bool
}

func newConnTable(max, perUID int, now func() time.Time) *connTable {
	return &connTable{max: max, perUID: perUID, now: now, byUID: map[int]*uidConns{}}
}

// perPID is how many pending connections one peer process may hold of
// its uid's perUID.
func (t *connTable) perPID() int { return max(1, t.perUID/4) }

// open counts a new connection of uid and pid in, displacing a slow one
// if need be; ok is false when there is no room.
func (t *connTable) open(conn *net.UnixConn, uid, pid int) (*slot, bool) {
	t.mu.Lock()
	now := t.now()
	u := t.byUID[uid]
	if u == nil {
		u = &uidConns{byPID: map[int]int{}}
		t.byUID[uid] = u
	}
	var victim *slot
	switch {
	case u.byPID[pid] >= t.perPID():
		victim = oldestSlowOf(now, u, pid)
		if victim == nil {
			t.mu.Unlock()
			return nil, false
		}
	case u.n >= t.perUID:
		victim = oldestSlow(now, u)
	case t.total >= t.max:
		var all []*uidConns
		for _, c := range t.byUID {
			all = append(all, c)
		}
		victim = oldestSlow(now, all...)
	}
	if (u.n >= t.perUID || t.total >= t.max) && victim == nil {
		t.mu.Unlock()
		return nil, false
	}
	if victim != nil {
		victim.evicted = true
		t.remove(victim)
	}
	s := &slot{conn: conn, uid: uid, pid: pid, since: now, pending: true}
	u.n++
	u.pending = append(u.pending, s)
	u.byPID[pid]++
	t.total++
	t.mu.Unlock()
	if victim != nil {
		victim.conn.Close() // its handler's read fails at once
	}
	return s, true
}

// oldestSlow is the oldest pending slot of cs that has waited slowAfter.
func oldestSlow(now time.Time, cs ...*uidConns) *slot {
	var best *slot
	for _, c := range cs {
		if len(c.pending) > 0 {
			if s := c.pending[0]; now.Sub(s.since) >= slowAfter && (best == nil || s.since.Before(best.since)) {
				best = s
			}
		}
	}
	return best
}

// oldestSlowOf is the oldest pending slot of pid in u that has waited
// slowAfter.
func oldestSlowOf(now time.Time, u *uidConns, pid int) *slot {
	for _, s := range u.pending {
		if s.pid == pid {
			if now.Sub(s.since) >= slowAfter {
				return s
			}
			return nil
		}
	}
	return nil
}

// started marks s's request read: it is no longer displaceable. It
// reports false when s was displaced meanwhile.
func (t *connTable) started(s *slot) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s.evicted {
		return false
	}
	t.unpend(s)
	return true
}

// close counts s out.
func (t *connTable) close(s *slot) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.remove(s)
}

// evicted reports whether s was displaced by a newer connection.
func (t *connTable) evicted(s *slot) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return s.evicted
}

func (t *connTable) remove(s *slot) {
	if s.gone {
		return
	}
	s.gone = true
	t.unpend(s)
	u := t.byUID[s.uid]
	u.n--
	t.total--
	if u.n == 0 {
		delete(t.byUID, s.uid)
	}
}

func (t *connTable) unpend(s *slot) {
	if !s.pending {
		return
	}
	s.pending = false
	u := t.byUID[s.uid]
	if u.byPID[s.pid]--; u.byPID[s.pid] <= 0 {
		delete(u.byPID, s.pid)
	}
	for i, p := range u.pending {
		if p == s {
			u.pending = append(u.pending[:i], u.pending[i+1:]...)
			break
		}
	}
}
