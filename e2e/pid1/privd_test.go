package pid1

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clientPing is one authenticated no-op round trip as the client user.
const clientPing = "setpriv --reuid=luminous --regid=luminous --clear-groups env " + clientEnv + "=1 /usr/local/bin/pid1.test noop"

// The socket comes from luminous-privd.socket (SocketUser=root,
// SocketGroup=luminous, SocketMode=0660, DirectoryMode=0755) whether the
// socket unit or the service restarts, and every restart still answers.
func TestSocketActivation(t *testing.T) {
	m := boot(t)
	install(t, m, nil)
	const restarts = 100
	start := time.Now()
	for i := range restarts {
		unit := "luminous-privd.service"
		if i%2 == 0 {
			unit = "luminous-privd.socket" // a new socket inode each time
		}
		// reset-failed: 100 starts are over the default start limit (5 in 10 s).
		out := m.sh(t, "systemctl reset-failed luminous-privd.service luminous-privd.socket && "+
			"systemctl restart "+unit+" && stat -c '%a %U %G %F' "+socketPath+
			" && stat -c '%a %U' /run/luminous && "+clientPing)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 || lines[0] != "660 root luminous socket" || lines[1] != "755 root" {
			t.Fatalf("restart %d (%s): socket and directory are %q, want \"660 root luminous socket\" in \"755 root\"", i, unit, lines)
		}
		if !strings.Contains(lines[2], `"result"`) || strings.Contains(lines[2], `"error"`) {
			t.Fatalf("restart %d (%s): ping: %s", i, unit, lines[2])
		}
	}
	t.Logf("%d restarts, each checked and pinged, in %v", restarts, time.Since(start).Round(time.Millisecond))
}

// WatchdogSec=30s: a stopped lmn-privd feeds no watchdog, so systemd kills
// it (SIGABRT) and Restart=on-failure starts a new one.
func TestWatchdogRestartsStoppedDaemon(t *testing.T) {
	m := boot(t)
	install(t, m, nil)
	ok(t, request(t, m, "noop"), "ping")
	pid := m.show(t, "luminous-privd.service", "MainPID")
	before, _ := strconv.Atoi(m.show(t, "luminous-privd.service", "NRestarts"))
	m.sh(t, "kill -STOP "+pid)
	start := time.Now()
	waitFor(t, 90*time.Second, "a new lmn-privd after the watchdog timeout", func() bool {
		now := m.show(t, "luminous-privd.service", "MainPID")
		return now != pid && now != "0" && m.show(t, "luminous-privd.service", "ActiveState") == "active"
	})
	t.Logf("restarted %v after SIGSTOP", time.Since(start).Round(time.Second))
	if after, _ := strconv.Atoi(m.show(t, "luminous-privd.service", "NRestarts")); after != before+1 {
		t.Errorf("NRestarts %d -> %d, want one restart", before, after)
	}
	if log := m.sh(t, "journalctl --no-pager -u luminous-privd.service"); !strings.Contains(log, "Watchdog timeout") {
		t.Errorf("the journal does not say the watchdog fired:\n%s", log)
	}
	if out, err := m.exec(context.Background(), nil, "test", "-e", "/proc/"+pid); err == nil {
		t.Errorf("the stopped lmn-privd (pid %s) is still there: %s", pid, out)
	}
	ok(t, request(t, m, "noop"), "ping after the restart")
}

// Killed with SIGKILL while an action's helper (systemctl restart of a unit
// that takes 30 s to start) runs, lmn-privd leaves no process behind: the
// unit's control group goes with it, and the daemon comes back.
func TestNoOrphanAfterCrash(t *testing.T) {
	m := boot(t)
	m.writeFile(t, "/etc/systemd/system/lmn-pid1-slow.service", []byte("[Service]\nType=oneshot\nRemainAfterExit=yes\n"+
		"ExecStart=/bin/sh -c 'test -e /run/slow-ran || { touch /run/slow-ran; exit 1; }; sleep 30'\n"), 0o644)
	install(t, m, nil)
	m.exec(context.Background(), nil, "systemctl", "start", "lmn-pid1-slow.service") // fails once: now failed
	ok(t, request(t, m, "noop"), "ping")
	done := make(chan answer, 1)
	go func() {
		out, _ := m.exec(context.Background(), nil, "/bin/sh", "-c", strings.Replace(clientPing, " noop", " restart_unit unit=lmn-pid1-slow.service", 1))
		done <- answer{Error: out}
	}()
	helpers := "grep -l lmn-pid1-slow /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 | grep -v '^self$' || true"
	var pids []string
	waitFor(t, 20*time.Second, "lmn-privd's systemctl helper running", func() bool {
		pids = strings.Fields(m.sh(t, helpers))
		for _, p := range pids {
			if m.sh(t, "cat /proc/"+p+"/comm 2>/dev/null || true") == "systemctl\n" {
				return true
			}
		}
		return false
	})
	mainPid := m.show(t, "luminous-privd.service", "MainPID")
	m.sh(t, "kill -KILL "+mainPid)
	waitFor(t, 15*time.Second, "the helper gone after its daemon was killed", func() bool {
		for _, p := range pids {
			if m.sh(t, "cat /proc/"+p+"/comm 2>/dev/null || true") == "systemctl\n" {
				return false
			}
		}
		return true
	})
	if a := <-done; !strings.Contains(a.Error, `"error"`) {
		t.Errorf("the client got an answer from a killed daemon: %s", a.Error)
	}
	waitFor(t, 30*time.Second, "lmn-privd back after the crash", func() bool {
		now := m.show(t, "luminous-privd.service", "MainPID")
		return now != mainPid && now != "0"
	})
	ok(t, request(t, m, "noop"), "ping after the crash")
}

// pidAndStart returns a unit's main pid and its start time (field 22 of
// /proc/PID/stat), as lmn-heal would read them.
func pidAndStart(t *testing.T, m *machine, unit string) (string, string) {
	t.Helper()
	pid := m.show(t, unit, "MainPID")
	if pid == "0" {
		t.Fatalf("%s has no main process", unit)
	}
	// The command name (field 2) of these units has no spaces.
	return pid, strings.TrimSpace(m.sh(t, fmt.Sprintf("cut -d' ' -f22 /proc/%s/stat", pid)))
}
