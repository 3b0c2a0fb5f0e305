package sdtest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// leafPrefix starts the name of every cgroup this package creates; the pid
// of the creating process follows it: lmn-sdtest-<pid>-<nanoseconds>.
const leafPrefix = "lmn-sdtest-"

// sweepStale removes the cgroups of sandboxes whose creating process is gone
// (a test binary killed before its cleanup ran), killing what they still
// hold. Cgroups of live processes, other test binaries included, are left.
func sweepStale() error {
	hs, err := hierarchies()
	if err != nil {
		return err
	}
	if exists(memoryV1) {
		hs = append(hs, memoryV1) // where NewGroup limits memory on hybrid hosts
	}
	var errs []error
	for _, h := range hs {
		dirs, _ := filepath.Glob(filepath.Join(h, leafPrefix+"*"))
		for _, d := range dirs {
			owner, ok := leafOwner(filepath.Base(d))
			if !ok || processExists(owner) {
				continue
			}
			if err := killCgroups([]string{d}, time.Now().Add(stopTimeout)); err != nil {
				errs = append(errs, err)
				continue
			}
			if err := removeCgroups([]string{d}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// leafOwner returns the creating pid encoded in a sandbox cgroup name.
func leafOwner(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, leafPrefix)
	if !ok {
		return 0, false
	}
	pid, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(pid)
	return n, err == nil && n > 0 && strconv.Itoa(n) == pid
}

func processExists(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

// capSysAdmin is CAP_SYS_ADMIN's bit in the capability sets.
const capSysAdmin = 21

// hasCapSysAdmin reports whether this process may create a mount namespace.
func hasCapSysAdmin() (bool, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false, err
	}
	defer f.Close()
	eff, err := parseCapEff(bufio.NewScanner(f))
	if err != nil {
		return false, fmt.Errorf("/proc/self/status: %w", err)
	}
	return eff&(1<<capSysAdmin) != 0, nil
}

// parseCapEff finds the effective capability set in /proc/PID/status lines.
func parseCapEff(sc *bufio.Scanner) (uint64, error) {
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "CapEff:")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		caps, err := strconv.ParseUint(v, 16, 64)
		if err != nil {
			return 0, fmt.Errorf("CapEff %q: not a hexadecimal capability set", v)
		}
		return caps, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no CapEff line")
}
