package privd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/config"
	"github.com/lmn-heal/lmn/internal/privproto"
)

// childSocketEnv makes the test binary a client that connects to the
// socket it names and reports what the server sent first.
const childSocketEnv = "LMN_PRIVD_TEST_PEER_SOCKET"

// childSlowEnv makes the test binary a slowloris: it holds as many of 200
// connections to the socket it names as the server keeps, reconnecting
// those it closes, until its stdin closes.
const childSlowEnv = "LMN_PRIVD_TEST_SLOW_SOCKET"

func TestMain(m *testing.M) {
	if sock := os.Getenv(childSocketEnv); sock != "" {
		os.Exit(peerChild(sock))
	}
	if sock := os.Getenv(childSlowEnv); sock != "" {
		os.Exit(slowChild(sock))
	}
	if dir := os.Getenv(childDiskFullEnv); dir != "" {
		os.Exit(diskFullChild(dir))
	}
	os.Exit(m.Run())
}

func slowChild(sock string) int {
	stop := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(stop) }()
	var held atomic.Int64
	for range 200 {
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.Dial("unix", sock)
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				p, err := privproto.ReadFrame(c)
				if err == nil && p[0] == privproto.TypeChallenge {
					held.Add(1)
					c.Read(make([]byte, 1)) // until the server gives up on it
					held.Add(-1)
				}
				c.Close()
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	// Report once the count has settled: unchanged for a second (a loaded
	// machine may take a while to connect the last one the server keeps),
	// or after 15 s whatever it is.
	n, since := held.Load(), time.Now()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := held.Load(); m != n {
			n, since = m, time.Now()
		} else if n > 0 && time.Since(since) >= time.Second {
			break
		}
	}
	fmt.Printf("held %d\n", n)
	<-stop
	return 0
}

func peerChild(sock string) int {
	conn, err := net.Dial("unix", sock)
	if err != nil {
		fmt.Println("dial:", err)
		return 1
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	p, err := privproto.ReadFrame(conn)
	if err != nil {
		fmt.Println("read:", err)
		return 1
	}
	fmt.Printf("uid=%d first=%c %s\n", os.Getuid(), p[0], p[1:min(len(p), 200)])
	c := privproto.Client{Socket: sock, Key: make([]byte, privproto.KeyLen), Timeout: 5 * time.Second}
	fmt.Printf("client: permission=%v\n", errors.Is(c.Ping(context.Background()), privproto.ErrPermission))
	return 0
}

// otherUIDDir returns a directory uid 65534 can traverse, for the socket,
// and a copy of this test binary in it that uid can run; it skips
// without root.
func otherUIDDir(t *testing.T) (dir, bin string) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to start a child under another uid")
	}
	dir, err := os.MkdirTemp("", "privd-peer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	bin = filepath.Join(dir, "privd.test")
	copyFile(t, bin)
	return dir, bin
}

func TestWrongUIDRefused(t *testing.T) {
	dir, bin := otherUIDDir(t)
	h := newHarness(t, func(c *Config) {
		c.Socket.Path = filepath.Join(dir, "privd.sock")
		c.Clients = Clients{UIDs: []int{0}}
	})
	// File permissions would refuse the child before SO_PEERCRED could;
	// open them so the peer check is what is tested.
	os.Chmod(h.socket, 0o666)
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), childSocketEnv+"="+h.socket)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	if !strings.HasPrefix(string(out), "uid=65534 first=E") || !strings.Contains(string(out), `"code":"permission"`) ||
		!strings.Contains(string(out), "client: permission=true") {
		t.Errorf("child under uid 65534 got %q, want an early permission refusal and no challenge", out)
	}
	es := h.entries()
	if len(es) != 2 || es[0].Event != EventRefused || es[0].Peer == nil || es[0].Peer.UID != 65534 || es[0].Code != privproto.CodePermission {
		t.Errorf("audit: %+v", es)
	}
	// The same binary as root (an allowed uid) gets a challenge.
	cmd = exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), childSocketEnv+"="+h.socket)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "uid=0 first=C") {
		t.Errorf("allowed child got %q, %v", out, err)
	}
	t.Logf("uid 65534 refused before any byte was read; uid 0 challenged")
}

func copyFile(t *testing.T, to string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	out.Close()
}

func TestListenMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run", "privd.sock")
	group := 65534 // a group only root may give a file to
	if os.Getuid() != 0 {
		group = os.Getgid()
	}
	ln, err := Listen(path, strconv.Itoa(group))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o660 || int(st.Gid) != group {
		t.Errorf("socket %v gid %d, want 0660 group %d", fi.Mode(), st.Gid, group)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("staging directory left behind: %v", ents)
	}
	// A live socket is not taken over; a stale one is replaced; a regular
	// file is refused.
	if _, err := Listen(path, ""); err == nil {
		t.Error("Listen took over a live socket")
	}
	ln.Close()
	ln2, err := Listen(path, "")
	if err != nil {
		t.Fatalf("replace stale socket: %v", err)
	}
	ln2.Close()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("keep me"), 0o644)
	if _, err := Listen(file, ""); err == nil {
		t.Error("Listen replaced a regular file")
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Error("regular file changed")
	}
}

func TestShutdownWaitsForRunningAction(t *testing.T) {
	h := newHarness(t, nil)
	started := make(chan struct{})
	h.srv.run = func(ctx context.Context, _ action.Env, _ action.Request) (action.Result, error) {
		close(started)
		time.Sleep(100 * time.Millisecond) // the action's own duration, not a test wait
		return action.Result{Output: "done"}, nil
	}
	errc := make(chan error, 1)
	go func() { _, err := h.client().Do(context.Background(), dropReq); errc <- err }()
	<-started
	h.stop()
	if err := <-errc; err != nil {
		t.Errorf("in-flight request after shutdown: %v", err)
	}
	if es := h.entries(); count(es, EventResult) != 1 {
		t.Errorf("result line missing after shutdown: %+v", es)
	}
	if err := h.client().Ping(context.Background()); !errors.Is(err, privproto.ErrNoSocket) {
		t.Errorf("after shutdown: %v", err)
	}
}

// The slowloris from the client's uid, for real: 200 slow
// connections from another process of uid 65534 (an allowed client)
// cost that uid its own slots and root's pings nothing.
func TestSlowlorisOfAnotherUID(t *testing.T) {
	dir, bin := otherUIDDir(t)
	h := newHarness(t, func(c *Config) {
		c.Socket.Path = filepath.Join(dir, "privd.sock")
		c.Clients = Clients{UIDs: []int{0, 65534}}
		c.ReadTimeout = config.Duration(5 * time.Second)
	})
	os.Chmod(h.socket, 0o666)
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), childSlowEnv+"="+h.socket)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("slowloris child: %v", err)
	}
	if line != fmt.Sprintf("held %d\n", h.cfg.MaxConnectionsPerUID/4) {
		t.Errorf("the slowloris holds %q, want a process's share of its uid, %d", line, h.cfg.MaxConnectionsPerUID/4)
	}
	for i := range 50 {
		if err := h.client().Ping(context.Background()); err != nil {
			t.Fatalf("root's ping %d during the slowloris: %v", i, err)
		}
	}
}
