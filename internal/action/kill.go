package action

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// kill_process signals a process through a pidfd, after checking that the
// process behind the pidfd started at the time the client saw, so a reused
// pid is never hit, and that it runs in the cgroup of a unit the unit
// policy allows (cgroup.go), so being a client means "heal these units",
// not "signal any root daemon".

const (
	maxPid       = 1 << 22 // PID_MAX_LIMIT on 64-bit Linux
	defaultGrace = 10 * time.Second
	maxGrace     = time.Minute
	killWait     = 5 * time.Second
	pfKthread    = 0x00200000 // PF_KTHREAD, include/linux/sched.h
	kthreaddPid  = 2
)

func parsePid(s string) (int, error) {
	if s == "" || len(s) > 8 || strings.TrimLeft(s, "0123456789") != "" || s[0] == '0' {
		return 0, errors.New("want a positive decimal pid")
	}
	n, _ := strconv.Atoi(s)
	if n > maxPid {
		return 0, fmt.Errorf("pid above %d", maxPid)
	}
	return n, nil
}

func checkPid(s string) error { _, err := parsePid(s); return err }

func checkStartTime(s string) error {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return errors.New("want clock ticks since boot (field 22 of /proc/PID/stat)")
	}
	if _, err := strconv.ParseUint(s, 10, 64); err != nil {
		return errors.New("out of range")
	}
	return nil
}

func parseGrace(s string) (time.Duration, error) {
	if s == "" {
		return defaultGrace, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("want a duration such as 10s")
	}
	if d < 0 || d > maxGrace {
		return 0, fmt.Errorf("not in 0..%v", maxGrace)
	}
	return d, nil
}

func checkGrace(s string) error { _, err := parseGrace(s); return err }

func validateKill(env Env, p map[string]string) error {
	pid, _ := parsePid(p["pid"])
	if env.isProtectedPid(pid) {
		return fmt.Errorf("%w: pid %d is protected (pid 1, this process or the caller)", ErrDenied, pid)
	}
	return nil
}

// procStat is what kill_process needs from /proc/PID/stat.
type procStat struct {
	comm      string
	ppid      int
	flags     uint64
	startTime uint64
}

// parseStat parses the content of /proc/PID/stat. The command name in
// parentheses may hold any byte, so fields are counted from the last ')'.
func parseStat(s string) (procStat, error) {
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return procStat{}, errors.New("stat: no ')' after the command name")
	}
	f := strings.Fields(s[end+1:])
	// f[0] is field 3 (state); field N is f[N-3].
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("stat: %d fields after the command name, want at least 20", len(f))
	}
	var st procStat
	if start := strings.IndexByte(s, '('); start >= 0 && start < end {
		st.comm = s[start+1 : end]
	}
	var err1, err2, err3 error
	st.ppid, err1 = strconv.Atoi(f[1])
	st.flags, err2 = strconv.ParseUint(f[6], 10, 64)
	st.startTime, err3 = strconv.ParseUint(f[19], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return procStat{}, fmt.Errorf("stat: %w", err)
	}
	return st, nil
}

// ProcessParent reads the command name and parent pid of pid from
// /proc/PID/stat under procRoot.
func ProcessParent(procRoot string, pid int) (comm string, ppid int, err error) {
	raw, err := readSmall(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return "", 0, err
	}
	st, err := parseStat(raw)
	return st.comm, st.ppid, err
}

// readProc reads the stat and cmdline of pid under env.ProcRoot.
func readProc(env Env, pid int) (procStat, string, error) {
	dir := filepath.Join(env.ProcRoot, strconv.Itoa(pid))
	raw, err := readSmall(filepath.Join(dir, "stat"))
	if err != nil {
		return procStat{}, "", err
	}
	st, err := parseStat(raw)
	if err != nil {
		return procStat{}, "", fmt.Errorf("%s: %w", dir, err)
	}
	cmdline, err := readSmall(filepath.Join(dir, "cmdline"))
	if err != nil {
		return procStat{}, "", err
	}
	return st, cmdline, nil
}

func isKernelThread(st procStat, cmdline string) bool {
	return st.flags&pfKthread != 0 || (cmdline == "" && st.ppid == kthreaddPid)
}

// brokerName is lmn-privd's command name (comm) in /proc/PID/stat.
const brokerName = "lmn-privd"

// isBroker reports whether pid is an lmn-privd other than this process:
// the daemon seen from `sudo lmn-privd exec`, or an exec run seen from the
// daemon. It goes by the command name (always readable; a process that
// takes the name only protects itself) or by the exe link naming this
// process's own binary (readable where ptrace access allows).
func isBroker(env Env, pid int, st procStat) bool {
	if st.comm == brokerName {
		return true
	}
	self, err := os.Executable()
	if err != nil {
		return false
	}
	exe, err := os.Readlink(filepath.Join(env.ProcRoot, strconv.Itoa(pid), "exe"))
	return err == nil && strings.TrimSuffix(exe, " (deleted)") == strings.TrimSuffix(self, " (deleted)")
}

func runKill(ctx context.Context, env Env, p map[string]string) (Result, error) {
	pid, _ := parsePid(p["pid"])
	want, _ := strconv.ParseUint(p["start_time"], 10, 64)
	grace, _ := parseGrace(p["grace"])
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return Result{}, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(fd)
	// Checked after the pidfd is open: if the pid was reused before,
	// the start time differs; the pidfd now pins the process it opened.
	st, cmdline, err := readProc(env, pid)
	if err != nil {
		return Result{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	if st.startTime != want {
		return Result{}, fmt.Errorf("%w: pid %d started at tick %d, not %d: the process the caller saw is gone", ErrDenied, pid, st.startTime, want)
	}
	if isKernelThread(st, cmdline) {
		return Result{}, fmt.Errorf("%w: pid %d is a kernel thread", ErrDenied, pid)
	}
	if isBroker(env, pid, st) {
		return Result{}, fmt.Errorf("%w: pid %d is lmn-privd", ErrDenied, pid)
	}
	if err := checkKillUnit(env, pid); err != nil {
		return Result{}, err
	}
	// The stat read above matched only if the pidfd's process still held
	// the pid; signal 0 proves it had not exited meanwhile.
	if err := unix.PidfdSendSignal(fd, 0, nil, 0); err != nil {
		return Result{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGTERM, nil, 0); err != nil {
		return Result{}, fmt.Errorf("SIGTERM to pid %d: %w", pid, err)
	}
	if exited, err := waitExit(ctx, fd, grace); err != nil || exited {
		return Result{Output: fmt.Sprintf("pid %d exited after SIGTERM", pid)}, err
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return Result{}, fmt.Errorf("SIGKILL to pid %d: %w", pid, err)
	}
	exited, err := waitExit(ctx, fd, killWait)
	if err != nil {
		return Result{}, err
	}
	if !exited {
		return Result{}, fmt.Errorf("pid %d still running %v after SIGKILL", pid, killWait)
	}
	return Result{Output: fmt.Sprintf("pid %d killed with SIGKILL after %v grace", pid, grace)}, nil
}

// waitExit waits until the pidfd's process exits, d passes or ctx ends.
func waitExit(ctx context.Context, fd int, d time.Duration) (bool, error) {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left < 0 {
			left = 0
		}
		ms := int(min(left, 100*time.Millisecond) / time.Millisecond)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, ms)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return false, fmt.Errorf("poll pidfd: %w", err)
		}
		if n > 0 {
			return true, nil
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if left == 0 {
			return false, nil
		}
	}
}

func init() {
	register(&definition{
		spec: Spec{
			Name:    "kill_process",
			Timeout: maxGrace + killWait + 5*time.Second,
			Doc:     "SIGTERM a process of an allowed unit by pidfd, SIGKILL after the grace period; refuses pid 1, this process, the caller, kernel threads, reused pids and processes outside the cgroup of a unit the unit policy allows",
			Params: []Param{
				{Name: "pid", Required: true, Doc: "process id", check: checkPid},
				{Name: "start_time", Required: true, Doc: "field 22 of /proc/PID/stat as the caller saw it", check: checkStartTime},
				{Name: "grace", Doc: "time between SIGTERM and SIGKILL, at most 1m (default 10s)", check: checkGrace},
			},
			Disruptive: true,
		},
		validate: validateKill,
		run:      runKill,
		target:   func(p map[string]string) string { return "pid:" + p["pid"] },
		command: func(env Env, p map[string]string) string {
			return "kill -TERM " + shellQuote(p["pid"])
		},
	})
}
