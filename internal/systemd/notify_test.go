package systemd

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listenNotify opens a real unixgram socket like the one systemd creates for
// NOTIFY_SOCKET and returns its address as it would appear in the variable.
func listenNotify(t *testing.T, name string) (*net.UnixConn, string) {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen unixgram %q: %v", name, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, name
}

func receive(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read notification: %v", err)
	}
	return string(buf[:n])
}

func TestNotifyPath(t *testing.T) {
	conn, sock := listenNotify(t, filepath.Join(t.TempDir(), "notify"))
	t.Setenv("NOTIFY_SOCKET", sock)
	msg := "STATUS=watching 3 units\n" + Ready
	sent, err := Notify(msg)
	if err != nil || !sent {
		t.Fatalf("Notify = %v, %v; want true, nil", sent, err)
	}
	if got := receive(t, conn); got != msg {
		t.Errorf("received %q, want %q", got, msg)
	}
}

func TestNotifyAbstract(t *testing.T) {
	name := fmt.Sprintf("@lmn-test-notify-%d", time.Now().UnixNano())
	conn, sock := listenNotify(t, name)
	t.Setenv("NOTIFY_SOCKET", sock)
	sent, err := Notify(Watchdog)
	if err != nil || !sent {
		t.Fatalf("Notify = %v, %v; want true, nil", sent, err)
	}
	if got := receive(t, conn); got != Watchdog {
		t.Errorf("received %q, want %q", got, Watchdog)
	}
}

func TestNotifyUnset(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	sent, err := Notify(Ready)
	if sent || err != nil {
		t.Fatalf("Notify without NOTIFY_SOCKET = %v, %v; want false, nil", sent, err)
	}
}

func TestNotifyErrors(t *testing.T) {
	dir := t.TempDir()
	for _, sock := range []string{
		filepath.Join(dir, "absent"), // nobody listening
		"relative/path",
		"@",
		"vsock:2:1234",
		"/" + strings.Repeat("x", 120),
	} {
		t.Setenv("NOTIFY_SOCKET", sock)
		sent, err := Notify(Ready)
		if sent || err == nil {
			t.Errorf("NOTIFY_SOCKET=%q: Notify = %v, %v; want false and an error", sock, sent, err)
			continue
		}
		if !strings.Contains(err.Error(), "NOTIFY_SOCKET") {
			t.Errorf("NOTIFY_SOCKET=%q: error %q does not name the variable", sock, err)
		}
	}
}

func TestWatchdogInterval(t *testing.T) {
	self := fmt.Sprint(pidForTest())
	for _, tc := range []struct {
		usec, pid string
		want      time.Duration
		ok        bool
	}{
		{"", "", 0, false},
		{"30000000", "", 30 * time.Second, true},
		{"30000000", self, 30 * time.Second, true},
		{"30000000", "1", 0, false}, // meant for another process
		{"0", "", 0, false},
		{"-5", "", 0, false},
		{"ten", "", 0, false},
		{"500", "pid", 0, false},
		{"99999999999999999999", "", 0, false},
	} {
		t.Setenv("WATCHDOG_USEC", tc.usec)
		t.Setenv("WATCHDOG_PID", tc.pid)
		got, ok := WatchdogInterval()
		if got != tc.want || ok != tc.ok {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: got %v, %v; want %v, %v", tc.usec, tc.pid, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzNotifyAddr(f *testing.F) {
	for _, s := range []string{"/run/systemd/notify", "@abstract", "@", "", "rel", "vsock:1:2", "/a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addr, err := notifyAddr(s)
		if err != nil {
			if !errors.Is(err, errNotifyAddr) {
				t.Fatalf("notifyAddr(%q) error %v does not wrap errNotifyAddr", s, err)
			}
			return
		}
		if addr.Name != s || addr.Net != "unixgram" {
			t.Fatalf("notifyAddr(%q) = %+v", s, addr)
		}
		if s[0] != '/' && s[0] != '@' {
			t.Fatalf("notifyAddr accepted %q", s)
		}
	})
}

func FuzzParseWatchdog(f *testing.F) {
	f.Add("30000000", "")
	f.Add("1", "42")
	f.Add("", "42")
	f.Add("18446744073709551615", "")
	f.Add("+5", "-1")
	f.Fuzz(func(t *testing.T, usec, pid string) {
		const self = 42
		d, err := parseWatchdog(usec, pid, self)
		if d < 0 {
			t.Fatalf("parseWatchdog(%q, %q) = negative %v", usec, pid, d)
		}
		if err != nil && d != 0 {
			t.Fatalf("parseWatchdog(%q, %q) = %v with error %v", usec, pid, d, err)
		}
		if d > 0 && d%time.Microsecond != 0 {
			t.Fatalf("parseWatchdog(%q, %q) = %v, not whole microseconds", usec, pid, d)
		}
		if d > 0 && pid != "" && pid != "42" && strings.TrimLeft(pid, "+0") != "42" {
			t.Fatalf("parseWatchdog(%q, %q) = %v for another process", usec, pid, d)
		}
	})
}
