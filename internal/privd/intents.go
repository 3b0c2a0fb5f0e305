package privd

import (
	"cmp"
	"slices"
	"time"
)

// openIntents are intents whose action has no result line yet, by id:
// running now, or left by a process that died running them.
type openIntents map[string]Entry

func (o openIntents) absorb(e Entry) {
	switch e.Event {
	case EventIntent:
		if e.ID != "" {
			o[e.ID] = e
		}
	case EventResult, EventUnknownOutcome:
		delete(o, e.ID)
	}
}

// list returns the open intents in log order.
func (o openIntents) list() []Entry {
	out := make([]Entry, 0, len(o))
	for _, e := range o {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// closeDangling writes an unknown_outcome line for every open intent
// whose target nobody holds: the process that wrote it died before the
// action's end was written (a running action holds its target's lock from
// before its intent until after its result). Called at start, inside the
// audit lock.
func (s *Server) closeDangling(now time.Time) error {
	for _, in := range s.open.list() {
		lock, err := s.locks.tryLock(in.Target)
		if err != nil {
			continue // running in another process, or the lock cannot be taken: left open
		}
		e := &Entry{TS: stamp(now), Event: EventUnknownOutcome, ID: in.ID, Peer: in.Peer, Action: in.Action,
			Target: in.Target, Reason: "the process running this action died before its end was written (found at start): it may or may not have taken effect"}
		err = s.audit.append(e)
		s.locks.unlock(lock)
		if err != nil {
			return err
		}
		delete(s.open, in.ID)
		s.log.Warn("closed an action that never ended", "id", in.ID, "action", in.Action, "target", in.Target, "intent_seq", in.Seq)
	}
	return nil
}
