package privd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"github.com/lmn-heal/lmn/internal/systemd"
)

// socketMode is the mode of a socket made by Listen: owner and group.
const socketMode = 0o660

// Listen makes the Unix socket at path without a permission race: the
// socket is bound inside a fresh 0700 directory next to path, given mode
// 0660 and group, and only then renamed into place, so nobody can connect
// to it while its mode is wrong. A stale socket at path is replaced; a
// socket someone listens on, or any other file, is an error.
func Listen(path, group string) (*net.UnixListener, error) {
	gid := -1
	if group != "" {
		g, err := lookupGroup(group)
		if err != nil {
			return nil, err
		}
		gid = g
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("listen %s: exists and is not a socket (%v)", path, fi.Mode().Type())
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("listen %s: another process is listening there", path)
		}
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".privd-")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	defer os.RemoveAll(tmp)
	staged := filepath.Join(tmp, "sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: staged, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (*net.UnixListener, error) {
		ln.Close()
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	if err := os.Chmod(staged, socketMode); err != nil {
		return fail(err)
	}
	if gid >= 0 {
		if err := os.Lchown(staged, -1, gid); err != nil {
			return fail(err)
		}
	}
	if err := os.Rename(staged, path); err != nil {
		return fail(err)
	}
	return ln, nil
}

func lookupGroup(name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, fmt.Errorf("socket group %q: %w", name, err)
	}
	return strconv.Atoi(g.Gid)
}

// Activated returns the listener passed by systemd socket activation, or
// nil when the process was not socket-activated.
func Activated() (*net.UnixListener, error) {
	files, err := systemd.Listeners()
	if err != nil || len(files) == 0 {
		return nil, err
	}
	for _, f := range files[1:] {
		f.Close()
	}
	defer files[0].Close()
	l, err := net.FileListener(files[0])
	if err != nil {
		return nil, fmt.Errorf("socket activation: %w", err)
	}
	ul, ok := l.(*net.UnixListener)
	if !ok {
		l.Close()
		return nil, errors.New("socket activation: the passed socket is not a Unix stream socket")
	}
	return ul, nil
}
