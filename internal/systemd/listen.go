package systemd

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// listenFdsStart is SD_LISTEN_FDS_START: passed sockets begin at fd 3.
const listenFdsStart = 3

// maxListenFds bounds LISTEN_FDS so a corrupt environment cannot make us
// wrap file descriptors by the million.
const maxListenFds = 1 << 16

// Listeners returns the file descriptors passed by socket activation
// (sd_listen_fds(3)): $LISTEN_FDS descriptors starting at 3, when
// $LISTEN_PID names this process. Each file is named from $LISTEN_FDNAMES
// (or "LISTEN_FD_<n>" without names) and has close-on-exec set. The three
// variables are removed from the environment so children do not inherit
// them. No variables means no error and no files; use net.FileListener or
// net.FilePacketConn on the results.
func Listeners() ([]*os.File, error) {
	pid, fds, names := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES")
	if pid == "" && fds == "" {
		return nil, nil
	}
	defer func() {
		os.Unsetenv("LISTEN_PID")
		os.Unsetenv("LISTEN_FDS")
		os.Unsetenv("LISTEN_FDNAMES")
	}()
	fdNames, err := parseListenEnv(pid, fds, names, os.Getpid())
	if err != nil || len(fdNames) == 0 {
		return nil, err
	}
	files := make([]*os.File, 0, len(fdNames))
	for i, name := range fdNames {
		fd := listenFdsStart + i
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			closeAll(files)
			return nil, fmt.Errorf("socket activation: LISTEN_FDS=%s but fd %d is not open: %w", fds, fd, err)
		}
		unix.CloseOnExec(fd)
		files = append(files, os.NewFile(uintptr(fd), name))
	}
	return files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// parseListenEnv validates the socket-activation environment and returns one
// name per passed descriptor. It returns nothing and no error when the
// descriptors are meant for another process (LISTEN_PID differs).
func parseListenEnv(pid, fds, names string, self int) ([]string, error) {
	p, err := strconv.Atoi(pid)
	if err != nil || p <= 0 {
		return nil, fmt.Errorf("socket activation: LISTEN_PID=%q: not a process id", pid)
	}
	if p != self {
		return nil, nil
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 || n > maxListenFds {
		return nil, fmt.Errorf("socket activation: LISTEN_FDS=%q: not a count between 0 and %d", fds, maxListenFds)
	}
	out := make([]string, n)
	var given []string
	if names != "" {
		given = strings.Split(names, ":")
		if len(given) != n {
			return nil, fmt.Errorf("socket activation: LISTEN_FDNAMES=%q has %d names for LISTEN_FDS=%d", names, len(given), n)
		}
	}
	for i := range out {
		if given != nil && given[i] != "" {
			out[i] = given[i]
		} else {
			out[i] = "LISTEN_FD_" + strconv.Itoa(listenFdsStart+i)
		}
	}
	return out, nil
}
