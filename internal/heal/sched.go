package heal

import (
	"container/heap"
	"time"
)

// Where each tracked issue waits, so that a record costs the same however
// many issues are tracked: a ladder is looked at only when something it
// waits for happens.
//
//   - ready to start an action: the ready queue, first come first served;
//     its head waits for a free slot (concurrency, budget) and holds back
//     those behind it, so a full budget costs one look per record;
//   - waiting for a time (a verification window, a breaker's backoff or
//     cool-down): the timer heap;
//   - waiting for a subject or target another action holds: parked under
//     that key until the action lands;
//   - running, checking, or done: nowhere; the next record or the
//     job's result moves it.
//
// Each tracked issue has one place at a time: every move bumps its gen,
// and entries of an older gen are skipped.

// slot is one entry in a queue, the heap or a parking list.
type slot struct {
	t   *tracked
	gen uint64
}

func (s slot) live() bool { return s.t.gen == s.gen && !s.t.gone }

// readyQueue is a FIFO with a front for the continuation of a step
// already under way.
type readyQueue struct {
	front []slot // a stack: the latest pushed is next
	back  []slot
	head  int
}

func (q *readyQueue) peek() (slot, bool) {
	for len(q.front) > 0 {
		s := q.front[len(q.front)-1]
		if s.live() {
			return s, true
		}
		q.front = q.front[:len(q.front)-1]
	}
	for q.head < len(q.back) {
		if s := q.back[q.head]; s.live() {
			return s, true
		}
		q.head++
	}
	q.back, q.head = q.back[:0], 0
	return slot{}, false
}

// pop removes the entry peek returned.
func (q *readyQueue) pop() {
	if len(q.front) > 0 {
		q.front = q.front[:len(q.front)-1]
		return
	}
	q.head++
	if q.head > 64 && q.head*2 > len(q.back) {
		q.back = append(q.back[:0], q.back[q.head:]...)
		q.head = 0
	}
}

// timer is one entry of the timer heap.
type timer struct {
	at  time.Time
	seq uint64 // ties go in the order the timers were set
	slot
}

type timerHeap []timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// move takes t out of wherever it waits.
func (e *Engine) move(t *tracked) slot {
	t.gen++
	return slot{t: t, gen: t.gen}
}

// queue puts t at the back of the ready queue.
func (e *Engine) queue(t *tracked) { e.ready.back = append(e.ready.back, e.move(t)) }

// queueFront puts t first: the next action of a step under way.
func (e *Engine) queueFront(t *tracked) { e.ready.front = append(e.ready.front, e.move(t)) }

// wake has t looked at again at when.
func (e *Engine) wake(t *tracked, when time.Time) {
	e.timerSeq++
	heap.Push(&e.timers, timer{at: when, seq: e.timerSeq, slot: e.move(t)})
}

// park has t wait until key is released.
func (e *Engine) park(t *tracked, key string) { e.waiting[key] = append(e.waiting[key], e.move(t)) }

// release queues what waited for key.
func (e *Engine) release(key string) {
	for _, s := range e.waiting[key] {
		if s.live() {
			e.queue(s.t)
		}
	}
	delete(e.waiting, key)
}

// due advances every ladder whose time has come.
func (e *Engine) due() {
	for len(e.timers) > 0 && !e.timers[0].at.After(e.now) {
		tm := heap.Pop(&e.timers).(timer)
		if !tm.live() {
			continue
		}
		e.wakeUp(tm.t)
	}
}

// runQueue starts what the bounds allow, in order.
func (e *Engine) runQueue() {
	for {
		s, ok := e.ready.peek()
		if !ok {
			return
		}
		if !e.tryStart(s.t) {
			return // the head waits for a free slot; so does everything behind it
		}
		if s.live() { // t went nowhere else: it is done waiting here
			e.ready.pop()
			e.move(s.t)
		}
	}
}
