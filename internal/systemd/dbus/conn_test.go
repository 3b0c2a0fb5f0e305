package dbus

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// busConfig is a private message bus that lets its clients talk to anyone.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=SOCKET</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// startBus runs a real dbus-daemon on a socket in a temporary directory
// (no root needed; nothing outside the directory is touched).
func startBus(t *testing.T) Addr {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("no dbus-daemon to test the message bus path against")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "bus")
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, []byte(strings.Replace(busConfig, "SOCKET", sock, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--nofork", "--nopidfile", "--config-file="+conf, "--print-address")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil { // the address: it listens
		t.Fatalf("dbus-daemon did not start: %v", err)
	}
	return Addr{Path: sock, Bus: true}
}

// TestBus: Hello gives a unique name; the NameAcquired signal that follows
// is skipped; a call to a name nobody owns is an error reply with its D-Bus
// name, and the connection stays usable.
func TestBus(t *testing.T) {
	addr := startBus(t)
	c, err := Dial(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !strings.HasPrefix(c.Name(), ":") {
		t.Errorf("unique name %q", c.Name())
	}
	for range 2 {
		_, err = c.ListUnitsFiltered(t.Context(), "failed")
		if !IsError(err, "org.freedesktop.DBus.Error.ServiceUnknown") {
			t.Fatalf("err = %v, want org.freedesktop.DBus.Error.ServiceUnknown", err)
		}
	}
	reply, err := c.call(t.Context(), methodCall{dest: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
		iface: "org.freedesktop.DBus", member: "GetNameOwner", args: []any{c.Name()}})
	if err != nil {
		t.Fatal(err)
	}
	if owner, err := stringBody(reply); err != nil || owner != c.Name() {
		t.Errorf("GetNameOwner(%s) = %q, %v", c.Name(), owner, err)
	}
}

// TestCallDeadline: a peer that accepts the connection and authenticates
// but never answers a call (a real Unix socket served by the test, since
// no real D-Bus peer can be made to hang) fails the call at the deadline.
func TestCallDeadline(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		r := bufio.NewReader(nc)
		r.ReadString('\n')
		nc.Write([]byte("OK 0123456789abcdef0123456789abcdef\r\n"))
		<-done // silence until the test ends
	}()
	c, err := Dial(t.Context(), Addr{Path: sock})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.ListUnitsFiltered(ctx, "failed")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("call held for %v past a 100ms deadline", d)
	}
	// A peer that let one call go unanswered is not asked again.
	<-c.Done()
	if _, err := c.ListUnitsFiltered(t.Context(), "failed"); err == nil || !strings.Contains(err.Error(), "unusable") {
		t.Errorf("call after a timeout: %v, want the connection unusable", err)
	}
}

// TestAuthRejected: a peer refusing EXTERNAL (served by the test, as no
// real bus here refuses root).
func TestAuthRejected(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		bufio.NewReader(nc).ReadString('\n')
		nc.Write([]byte("REJECTED DBUS_COOKIE_SHA1\r\n"))
	}()
	if _, err := Dial(t.Context(), Addr{Path: sock}); err == nil || !strings.Contains(err.Error(), "REJECTED") {
		t.Errorf("err = %v, want the REJECTED answer", err)
	}
}

// emit writes a hand-encoded message on c, as if c had sent it.
func emit(t *testing.T, c *Conn, msg []byte) {
	t.Helper()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.c.Write(msg); err != nil {
		t.Fatal(err)
	}
}

// TestSubscribeBus: on a real message bus, Subscribe's match rules route
// the signals of whoever owns org.freedesktop.systemd1 and no one else's.
// No systemd runs on the test's bus, so the manager's Subscribe is an
// error reply; a second connection of the test takes the manager's name
// and sends the signals.
func TestSubscribeBus(t *testing.T) {
	addr := startBus(t)
	dial := func() *Conn {
		c, err := Dial(t.Context(), addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	sub, fake, other := dial(), dial(), dial()
	got := make(chan Signal, 16)
	err := sub.Subscribe(t.Context(), func(s Signal) { got <- s })
	if !IsError(err, "org.freedesktop.DBus.Error.ServiceUnknown") {
		t.Fatalf("Subscribe with no manager on the bus: %v, want ServiceUnknown", err)
	}
	if _, err := fake.call(t.Context(), methodCall{dest: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
		iface: "org.freedesktop.DBus", member: "RequestName", args: []any{manager, uint32(0)}}); err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	changed := func(serial uint32, active string) []byte {
		return signalMsg(le, serial, crashPath, propsIface, "PropertiesChanged", "sa{sv}as",
			propertiesChanged(le, unitIface, map[string]string{"ActiveState": active}))
	}
	emit(t, other, changed(1000, "impostor"))
	// other's signal is routed (or not) before its next call is answered.
	if _, err := other.call(t.Context(), methodCall{dest: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
		iface: "org.freedesktop.DBus", member: "GetId"}); err != nil {
		t.Fatal(err)
	}
	emit(t, fake, signalMsg(le, 999, managerPath, managerIface, "JobNew", "uos", jobNew(le, 7, "lmn-crash@x.service")))
	emit(t, fake, changed(1000, "failed"))
	emit(t, fake, signalMsg(le, 1001, managerPath, managerIface, "JobRemoved", "uoss",
		jobRemoved(le, 7, "lmn-crash@x.service", "failed")))
	emit(t, fake, signalMsg(le, 1002, "/org/freedesktop/systemd1/job/7", propsIface, "PropertiesChanged", "sa{sv}as",
		propertiesChanged(le, unitIface, map[string]string{"ActiveState": "outside the unit path"})))
	want := []Signal{
		{Kind: JobNew, Unit: "lmn-crash@x.service", Job: 7},
		{Kind: UnitChanged, Unit: "lmn-crash@x.service", ActiveState: "failed"},
		{Kind: JobRemoved, Unit: "lmn-crash@x.service", Job: 7, Result: "failed"},
	}
	for i, w := range want {
		select {
		case s := <-got:
			if s != w {
				t.Errorf("signal %d: %+v, want %+v", i, s, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("signal %d (%+v) not delivered", i, w)
		}
	}
	if _, err := sub.call(t.Context(), methodCall{dest: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
		iface: "org.freedesktop.DBus", member: "GetId"}); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		t.Errorf("unexpected signal %+v", s)
	default:
	}
}
