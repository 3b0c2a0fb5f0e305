package rtnetlink

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netns is a network namespace the test creates: one goroutine, locked to
// its thread, unshares it and runs everything that must happen inside.
// The thread is never unlocked, so it ends with the goroutine and the
// namespace goes with its last user.
type netns struct {
	do chan func()
}

func newNetns(t *testing.T) *netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip(8) (iproute2) to make links")
	}
	n := &netns{do: make(chan func())}
	ready := make(chan error)
	go func() {
		runtime.LockOSThread()
		ready <- unix.Unshare(unix.CLONE_NEWNET)
		for f := range n.do {
			f()
		}
	}()
	if err := <-ready; err != nil {
		t.Skipf("cannot create a network namespace: %v", err)
	}
	t.Cleanup(func() { close(n.do) })
	return n
}

// run runs f inside the namespace.
func (n *netns) run(f func()) {
	done := make(chan struct{})
	n.do <- func() { f(); close(done) }
	<-done
}

// ip runs ip(8) inside the namespace.
func (n *netns) ip(t *testing.T, args ...string) {
	t.Helper()
	var out []byte
	var err error
	n.run(func() { out, err = exec.Command("ip", args...).CombinedOutput() })
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// TestVethEvents: a veth pair in a namespace of the test's own. The
// listener reports each link coming up with its carrier, the carrier lost
// while IFF_UP stays set when the peer goes down, nothing for an MTU
// change, and a default route added and removed.
func TestVethEvents(t *testing.T) {
	n := newNetns(t)
	var l *Listener
	var err error
	n.run(func() { l, err = Listen() })
	if err != nil {
		t.Fatal(err)
	}
	changes := make(chan Change, 256)
	done := make(chan error, 1)
	go func() { done <- l.Run(func(c Change) { changes <- c }) }()
	t.Cleanup(func() {
		l.Close()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	// expect reads changes until one satisfies ok.
	expect := func(what string, ok func(Change) bool) Change {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case c := <-changes:
				t.Logf("%s: %+v", what, c)
				if ok(c) {
					return c
				}
			case <-deadline:
				t.Fatalf("no change: %s", what)
			}
		}
	}
	quiet := func(what string) {
		t.Helper()
		select {
		case c := <-changes:
			t.Errorf("%s: reported %+v", what, c)
		case <-time.After(300 * time.Millisecond):
		}
	}
	drain := func() {
		for {
			select {
			case <-changes:
			case <-time.After(300 * time.Millisecond):
				return
			}
		}
	}
	isLink := func(name string, f func(Change) bool) func(Change) bool {
		return func(c Change) bool { return c.Kind == Link && c.Name == name && f(c) }
	}
	n.ip(t, "link", "add", "lmnv0", "type", "veth", "peer", "name", "lmnv1")
	n.ip(t, "link", "set", "lmnv0", "up")
	n.ip(t, "link", "set", "lmnv1", "up")
	expect("lmnv0 up with a carrier", isLink("lmnv0", func(c Change) bool { return c.Flags&unix.IFF_UP != 0 && c.Carrier() }))
	drain() // the rest of the bring-up (lmnv1's messages)
	n.ip(t, "link", "set", "lmnv0", "mtu", "1400")
	quiet("an MTU change")

	n.ip(t, "link", "set", "lmnv1", "down")
	c := expect("lmnv0 loses its carrier", isLink("lmnv0", func(c Change) bool { return !c.Carrier() }))
	if c.Flags&unix.IFF_UP == 0 {
		t.Errorf("lmnv0 lost IFF_UP with its peer: %+v; the carrier test must not rely on it", c)
	}

	n.ip(t, "addr", "add", "10.99.0.1/24", "dev", "lmnv0")
	n.ip(t, "link", "set", "lmnv1", "up")
	expect("lmnv0 has its carrier back", isLink("lmnv0", Change.Carrier))
	n.ip(t, "route", "add", "default", "via", "10.99.0.2", "dev", "lmnv0")
	expect("default route added", func(c Change) bool { return c.Kind == Route && !c.Gone && c.Family == unix.AF_INET })
	n.ip(t, "route", "del", "default")
	expect("default route removed", func(c Change) bool { return c.Kind == Route && c.Gone && c.Family == unix.AF_INET })
	n.ip(t, "link", "del", "lmnv0")
	expect("lmnv0 gone", isLink("lmnv0", func(c Change) bool { return c.Gone }))
}
