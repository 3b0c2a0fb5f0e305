package sdtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// stopTimeout is how long the manager gets to stop its units after SIGTERM.
const stopTimeout = 15 * time.Second

// Close stops the manager (SIGTERM, then SIGKILL), kills every process left
// in its cgroups, removes them, and checks that nothing of the sandbox is
// left: no manager process, no cgroup, no process in its mount namespace.
// It is safe to call more than once; later calls return the first result.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() { m.closeErr = m.close() })
	return m.closeErr
}

func (m *Manager) close() error {
	var errs []error
	if m.cmd != nil {
		m.cmd.Process.Signal(syscall.SIGTERM) // the user manager exits on SIGTERM
		select {
		case <-m.exited:
		case <-time.After(stopTimeout):
			m.cmd.Process.Kill()
			<-m.exited
			errs = append(errs, fmt.Errorf("sdtest: manager pid %d ignored SIGTERM for %v; killed", m.pid, stopTimeout))
		}
	}
	if len(m.cgroups) > 0 {
		if err := killCgroups(m.cgroups, time.Now().Add(stopTimeout)); err != nil {
			errs = append(errs, err)
		}
		if err := removeCgroups(m.cgroups); err != nil {
			errs = append(errs, err)
		}
	}
	if m.fifo != nil {
		m.fifo.Close()
		m.copied.Wait()
	}
	if m.logFile != nil {
		m.logFile.Close()
	}
	errs = append(errs, m.leftovers()...)
	return errors.Join(errs...)
}

// leftovers lists what of the sandbox still exists after close.
func (m *Manager) leftovers() []error {
	var errs []error
	for _, d := range m.cgroups {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("sdtest: cgroup %s left behind", d))
		}
	}
	if m.pid > 0 {
		if err := syscall.Kill(m.pid, 0); err == nil {
			errs = append(errs, fmt.Errorf("sdtest: manager pid %d still exists", m.pid))
		}
	}
	if m.mntNS != "" {
		if pids := m.namespaceDrained(); len(pids) > 0 {
			errs = append(errs, fmt.Errorf("sdtest: processes still in mount namespace %s: %s", m.mntNS, describePids(pids)))
		}
	}
	return errs
}

// drainTimeout bounds how long close waits for the namespace's last
// members to finish exiting.
const drainTimeout = 5 * time.Second

// namespaceDrained waits until no process is left in the manager's mount
// namespace and returns those still there at drainTimeout. Every process
// of the sandbox has been killed by then, but a killed process keeps its
// namespace until it has finished exiting, which takes a while on a
// loaded machine; a process that outlives the wait is a real leftover.
func (m *Manager) namespaceDrained() []int {
	deadline := time.Now().Add(drainTimeout)
	for {
		pids := namespaceMembers(m.mntNS)
		if len(pids) == 0 || time.Now().After(deadline) {
			return pids
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// namespaceMembers lists the processes whose mount namespace is ns; once it
// is empty, the kernel has released the namespace and the mounts made in it.
func namespaceMembers(ns string) []int {
	entries, _ := filepath.Glob("/proc/[0-9]*/ns/mnt")
	var pids []int
	for _, e := range entries {
		if link, err := os.Readlink(e); err == nil && link == ns {
			var pid int
			fmt.Sscanf(e, "/proc/%d/", &pid)
			pids = append(pids, pid)
		}
	}
	return pids
}

// describePids says what each process is, for a leftover report: its
// command, state and parent (from /proc/PID/stat) and its cgroups.
func describePids(pids []int) string {
	var parts []string
	for _, pid := range pids {
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		parts = append(parts, fmt.Sprintf("%d (stat %q; cgroup %q)", pid, strings.TrimSpace(string(stat)), strings.TrimSpace(string(cg))))
	}
	return strings.Join(parts, "; ")
}
