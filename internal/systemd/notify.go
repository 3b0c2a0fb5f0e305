// Package systemd speaks the small parts of the systemd service protocol that
// lmn daemons need without linking libsystemd: readiness and status
// notification (sd_notify), the watchdog interval, and socket activation
// (sd_listen_fds). Every function is a no-op that reports "not under systemd"
// when the corresponding environment variables are absent, so the binaries run
// the same way from a shell.
package systemd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Common notification states; see sd_notify(3).
const (
	Ready     = "READY=1"
	Stopping  = "STOPPING=1"
	Reloading = "RELOADING=1"
	Watchdog  = "WATCHDOG=1"
)

// Notify sends state (for example Ready, or "STATUS=serving\nREADY=1") to the
// service manager through the datagram socket named by $NOTIFY_SOCKET.
// It returns false and no error when $NOTIFY_SOCKET is unset, true once the
// message has been sent, and an error naming the socket when sending fails.
func Notify(state string) (bool, error) {
	return notify(os.Getenv("NOTIFY_SOCKET"), state)
}

func notify(socket, state string) (bool, error) {
	if socket == "" {
		return false, nil
	}
	addr, err := notifyAddr(socket)
	if err != nil {
		return false, err
	}
	conn, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		return false, fmt.Errorf("sd_notify: connect to NOTIFY_SOCKET %q: %w", socket, err)
	}
	defer conn.Close()
	n, err := conn.Write([]byte(state))
	if err != nil {
		return false, fmt.Errorf("sd_notify: send to NOTIFY_SOCKET %q: %w", socket, err)
	}
	if n != len(state) {
		return false, fmt.Errorf("sd_notify: send to NOTIFY_SOCKET %q: short write %d of %d bytes", socket, n, len(state))
	}
	return true, nil
}

// errNotifyAddr is wrapped by every notifyAddr error.
var errNotifyAddr = errors.New("unsupported NOTIFY_SOCKET address")

// notifyAddr turns the value of $NOTIFY_SOCKET into a unixgram address. A
// value starting with '/' is a path, one starting with '@' names a socket in
// the abstract namespace (the net package maps the '@' to the leading NUL).
// vsock addresses, used by systemd inside VMs, are not supported.
func notifyAddr(socket string) (*net.UnixAddr, error) {
	switch {
	case strings.HasPrefix(socket, "/"), strings.HasPrefix(socket, "@") && len(socket) > 1:
	default:
		return nil, fmt.Errorf("sd_notify: NOTIFY_SOCKET %q: %w (want an absolute path or @abstract name)", socket, errNotifyAddr)
	}
	if strings.IndexByte(socket, 0) >= 0 {
		return nil, fmt.Errorf("sd_notify: NOTIFY_SOCKET %q: %w (contains NUL)", socket, errNotifyAddr)
	}
	// sockaddr_un.sun_path holds 108 bytes; a path also needs its NUL.
	if len(socket) > 108 || (socket[0] == '/' && len(socket) > 107) {
		return nil, fmt.Errorf("sd_notify: NOTIFY_SOCKET %q: %w (longer than sun_path)", socket, errNotifyAddr)
	}
	return &net.UnixAddr{Name: socket, Net: "unixgram"}, nil
}

// WatchdogInterval reports the watchdog timeout the service manager expects
// this process to honour (Watchdog= in the unit, passed as $WATCHDOG_USEC),
// and whether one is set for this process: when $WATCHDOG_PID is set it must
// name this process. Send Watchdog with Notify at about half the interval.
func WatchdogInterval() (time.Duration, bool) {
	d, err := parseWatchdog(os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid())
	return d, err == nil && d > 0
}

// parseWatchdog validates the watchdog environment. It returns 0 and no error
// when no watchdog is configured or it is meant for another process.
func parseWatchdog(usec, pid string, self int) (time.Duration, error) {
	if usec == "" {
		return 0, nil
	}
	if pid != "" {
		p, err := strconv.Atoi(pid)
		if err != nil || p <= 0 {
			return 0, fmt.Errorf("WATCHDOG_PID=%q: not a process id", pid)
		}
		if p != self {
			return 0, nil
		}
	}
	u, err := strconv.ParseUint(usec, 10, 64)
	if err != nil || u == 0 {
		return 0, fmt.Errorf("WATCHDOG_USEC=%q: not a positive number of microseconds", usec)
	}
	if u > uint64(1<<63-1)/uint64(time.Microsecond) {
		return 0, fmt.Errorf("WATCHDOG_USEC=%q: too large", usec)
	}
	return time.Duration(u) * time.Microsecond, nil
}
