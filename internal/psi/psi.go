// Package psi arms the kernel's pressure stall triggers and says when one
// fires. A trigger is a line such as "some 200000 2000000" written to a
// pressure file (/proc/pressure/memory, or a cgroup's memory.pressure):
// the kernel then signals POLLPRI on that descriptor when tasks stalled
// for the first number of microseconds within a window of the second, at
// most once per window while the pressure lasts
// (Documentation/accounting/psi.rst, "Monitoring for pressure thresholds").
//
// The kernel's rule (kernel/sched/psi.c, psi_trigger_create, checked on
// this kernel in TestWindowRule): a window lies between 500 ms and 10 s
// and the stall is at most the window; a process without CAP_SYS_RESOURCE
// in the credentials that opened the file may use only windows that are a
// multiple of 2 s (2, 4, … 10 s), which the kernel's averaging worker
// checks every 2 s; with it, any window, checked by a real-time kernel
// thread every tenth of the shortest window while tasks stall. Window
// picks the shortest one the process may use.
//
// Writing a trigger needs write access to the file: /proc/pressure/* are
// writable by everyone on kernels with unprivileged triggers (this one:
// -rw-rw-rw-), by root alone on older ones; a cgroup's pressure files
// belong to the cgroup's owner.
//
// One goroutine waits in epoll_wait(2) for every armed trigger: POLLPRI is
// not among the events Go's poller waits for.
package psi

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The kernel's bounds on a trigger's window.
const (
	MinWindow = 500 * time.Millisecond
	MaxWindow = 10 * time.Second
	// UnprivilegedStep is what a window must be a multiple of without
	// CAP_SYS_RESOURCE.
	UnprivilegedStep = 2 * time.Second
)

// Trigger is one pressure trigger.
type Trigger struct {
	Path   string // a pressure file
	Full   bool   // all non-idle tasks stalled ("full"), not merely some
	Stall  time.Duration
	Window time.Duration
}

// Line is what arms t: "some 200000 2000000".
func (t Trigger) Line() string {
	kind := "some"
	if t.Full {
		kind = "full"
	}
	return fmt.Sprintf("%s %d %d", kind, t.Stall.Microseconds(), t.Window.Microseconds())
}

func (t Trigger) String() string { return t.Path + ": " + t.Line() }

// Privileged reports whether this process may arm triggers with windows
// that are not a multiple of 2 s: whether CAP_SYS_RESOURCE is in its
// effective set.
func Privileged() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[unix.CAP_SYS_RESOURCE/32].Effective&(1<<(unix.CAP_SYS_RESOURCE%32)) != 0
}

// Window returns the shortest window this process may use: want when
// privileged, else want rounded up to a multiple of 2 s; always within the
// kernel's bounds.
func Window(want time.Duration, privileged bool) time.Duration {
	if !privileged {
		want = (want + UnprivilegedStep - 1) / UnprivilegedStep * UnprivilegedStep
	}
	return min(max(want, MinWindow), MaxWindow)
}

// Ratio returns a trigger on path firing when tasks stall for ratio of
// the shortest window this process may use at or above window.
func Ratio(path string, full bool, ratio float64, window time.Duration, privileged bool) Trigger {
	w := Window(window, privileged)
	return Trigger{Path: path, Full: full, Stall: time.Duration(ratio * float64(w)), Window: w}
}

// Watcher holds armed triggers and calls fire, on its own goroutine, each
// time one of them fires.
type Watcher struct {
	fire func(Trigger)
	ep   int // epoll descriptor
	wake int // eventfd that stops the wait

	mu     sync.Mutex
	armed  map[Trigger]*armed
	byID   map[int32]*armed
	nextID int32
	closed bool
	done   chan struct{}
}

type armed struct {
	t  Trigger
	id int32
	fd int
}

// New returns a Watcher with no triggers. fire must return quickly.
func New(fire func(Trigger)) (*Watcher, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("psi: epoll_create1: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(ep)
		return nil, fmt.Errorf("psi: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: -1}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(ep)
		unix.Close(wake)
		return nil, fmt.Errorf("psi: epoll_ctl: %w", err)
	}
	w := &Watcher{fire: fire, ep: ep, wake: wake, armed: map[Trigger]*armed{}, byID: map[int32]*armed{},
		done: make(chan struct{})}
	go w.wait()
	return w, nil
}

// ErrWindow marks a window the kernel refused for want of CAP_SYS_RESOURCE.
var ErrWindow = errors.New("a window that is not a multiple of 2s needs CAP_SYS_RESOURCE")

// Arm arms t, unless it is armed already.
func (w *Watcher) Arm(t Trigger) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("psi: arm %s: watcher closed", t)
	}
	if w.armed[t] != nil {
		return nil
	}
	// A raw descriptor, not an *os.File: Go's poller would register the
	// file too, and its poll would consume the kernel's one-shot POLLPRI.
	fd, err := unix.Open(t.Path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("psi: arm %s: %w", t, &os.PathError{Op: "open", Path: t.Path, Err: err})
	}
	if err := kernelFile(fd); err != nil {
		unix.Close(fd)
		return fmt.Errorf("psi: arm %s: %w", t, err)
	}
	// The kernel wants the whole line in one write, nul-terminated.
	if _, err := unix.Write(fd, append([]byte(t.Line()), 0)); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EINVAL) && t.Window%UnprivilegedStep != 0 && !Privileged() {
			err = fmt.Errorf("%w: %w", ErrWindow, err)
		}
		return fmt.Errorf("psi: arm %s: %w", t, err)
	}
	w.nextID++
	a := &armed{t: t, id: w.nextID, fd: fd}
	ev := unix.EpollEvent{Events: unix.EPOLLPRI, Fd: a.id}
	if err := unix.EpollCtl(w.ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		return fmt.Errorf("psi: arm %s: epoll_ctl: %w", t, err)
	}
	w.armed[t], w.byID[a.id] = a, a
	return nil
}

// ErrNotPressure marks a file that is not the kernel's: Arm writes only to
// procfs and cgroup2 files, never to a fixture tree.
var ErrNotPressure = errors.New("not a pressure file of procfs or cgroup2")

func kernelFile(fd int) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return fmt.Errorf("fstatfs: %w", err)
	}
	if st.Type != unix.PROC_SUPER_MAGIC && st.Type != unix.CGROUP2_SUPER_MAGIC {
		return fmt.Errorf("%w (filesystem type %#x)", ErrNotPressure, st.Type)
	}
	return nil
}

// Set arms the triggers of ts not armed yet and disarms those not in ts.
// It returns the errors of the triggers it could not arm, joined; the
// others are armed whatever happened to them.
func (w *Watcher) Set(ts []Trigger) error {
	keep := make(map[Trigger]bool, len(ts))
	for _, t := range ts {
		keep[t] = true
	}
	w.mu.Lock()
	for t, a := range w.armed {
		if !keep[t] {
			w.disarm(a)
		}
	}
	w.mu.Unlock()
	var errs []error
	for _, t := range ts {
		if err := w.Arm(t); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Armed lists the armed triggers, in no order.
func (w *Watcher) Armed() []Trigger {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Trigger, 0, len(w.armed))
	for t := range w.armed {
		out = append(out, t)
	}
	return out
}

// disarm closes a; w.mu is held. Closing the descriptor removes the
// trigger and, once epoll holds no other reference, the epoll entry.
func (w *Watcher) disarm(a *armed) {
	unix.EpollCtl(w.ep, unix.EPOLL_CTL_DEL, a.fd, nil)
	unix.Close(a.fd)
	delete(w.armed, a.t)
	delete(w.byID, a.id)
}

// Close disarms every trigger and stops the watcher's goroutine.
func (w *Watcher) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	for _, a := range w.armed {
		w.disarm(a)
	}
	w.mu.Unlock()
	var one [8]byte
	one[0] = 1
	unix.Write(w.wake, one[:])
	<-w.done
	unix.Close(w.wake)
	return unix.Close(w.ep)
}

// wait waits for triggers until Close. A trigger whose file went away (a
// cgroup removed: the kernel then reports POLLERR at every poll) is
// disarmed, so it cannot spin the loop; Set arms it again if the path
// comes back.
func (w *Watcher) wait() {
	defer close(w.done)
	events := make([]unix.EpollEvent, 16)
	for {
		n, err := unix.EpollWait(w.ep, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return // only a bad descriptor, which Close has not made yet
		}
		for _, ev := range events[:n] {
			if ev.Fd == -1 {
				return
			}
			w.mu.Lock()
			a := w.byID[ev.Fd]
			if a != nil && ev.Events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
				w.disarm(a)
				a = nil
			}
			w.mu.Unlock()
			if a != nil && ev.Events&unix.EPOLLPRI != 0 {
				w.fire(a.t)
			}
		}
	}
}
