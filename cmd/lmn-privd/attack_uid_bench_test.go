package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/privproto"
)

// Attacks that need a second uid or real cgroups: root only.

// slowlorisEnv makes the test binary the slowloris of
// BenchmarkAttackSlowloris (value: SOCKET), pingerEnv a legitimate client
// pinging every 10 ms (value: SOCKET KEYFILE); both run until their stdin
// closes, then print a childReport.
const (
	slowlorisEnv = "LMN_PRIVD_TEST_SLOWLORIS"
	pingerEnv    = "LMN_PRIVD_TEST_PINGER"
)

// childReport is what a child measured.
type childReport struct {
	Attempts, Held        int64
	PingsOK, PingsRefused int
	P50MS, P99MS          float64
}

// slowloris holds as many of 200 connections as the server keeps (each
// connects, reads the challenge and sends nothing, reconnecting at once
// when closed or refused).
func slowloris(sock string) int {
	stop := stdinClosed()
	var attempts, held atomic.Int64
	for range 200 {
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				attempts.Add(1)
				c, err := net.Dial("unix", sock)
				if err != nil {
					continue
				}
				if p, err := privproto.ReadFrame(c); err == nil && p[0] == privproto.TypeChallenge {
					held.Add(1)
					c.Read(make([]byte, 1)) // until the server gives up on it
					held.Add(-1)
				}
				c.Close()
			}
		}()
	}
	time.Sleep(time.Second)
	r := childReport{Held: held.Load()}
	<-stop
	r.Attempts = attempts.Load()
	json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

// pingChild pings as a client of its own uid, in a process of its own.
func pingChild(args string) int {
	sock, keyFile, _ := strings.Cut(args, " ")
	key, err := privproto.LoadKey(keyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	p := startPinger(&privproto.Client{Socket: sock, Key: key, Timeout: 5 * time.Second}, stdinClosed())
	<-p.done
	r := childReport{PingsOK: len(p.lat), PingsRefused: p.refused}
	slices.Sort(p.lat)
	if len(p.lat) > 0 {
		r.P50MS = float64(p.lat[len(p.lat)/2].Microseconds()) / 1000
		r.P99MS = float64(p.lat[len(p.lat)*99/100].Microseconds()) / 1000
	}
	json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

func stdinClosed() chan struct{} {
	stop := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(stop) }()
	return stop
}

// child is a running child of uid 65534.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   io.Reader
}

// startChild runs bin (this test binary) as the child envVar names, as uid
// 65534 when bin is not "" (a copy it may run), else as this uid.
func startChild(b *testing.B, bin, envVar, value string) *child {
	self, _ := os.Executable()
	cmd := exec.Command(cmp(bin, self), "-test.run=^$")
	cmd.Env = append(os.Environ(), envVar+"="+value)
	if bin != "" {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	return &child{cmd: cmd, stdin: stdin, out: out}
}

func (c *child) stop(b *testing.B) childReport {
	c.stdin.Close()
	var r childReport
	if err := json.NewDecoder(bufio.NewReader(c.out)).Decode(&r); err != nil {
		b.Fatalf("child: %v", err)
	}
	c.cmd.Wait()
	return r
}

func (r childReport) report(b *testing.B, name string) {
	b.ReportMetric(float64(r.PingsOK), name+"-pings-ok")
	b.ReportMetric(float64(r.PingsRefused), name+"-pings-refused")
	b.ReportMetric(r.P50MS, name+"-ping-p50-ms")
	b.ReportMetric(r.P99MS, name+"-ping-p99-ms")
}

// sharedEnv is an env in a directory uid 65534 can traverse, with a copy
// of this test binary it can run and the key it may read.
func sharedEnv(b *testing.B, extra string) (env, string, string) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: the attacker runs as uid 65534")
	}
	dir, err := os.MkdirTemp("", "privd-attack-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	e := newEnv(b, `,"clients":{"uids":[0,65534]}`+extra)
	e.socket = filepath.Join(dir, "privd.sock")
	fixSocketPath(b, e)
	bin := filepath.Join(dir, "lmn-privd.test")
	self, _ := os.Executable()
	data, err := os.ReadFile(self)
	if err != nil {
		b.Fatal(err)
	}
	os.WriteFile(bin, data, 0o755)
	key := filepath.Join(dir, "attacker.key")
	raw, _ := os.ReadFile(e.key)
	os.WriteFile(key, raw, 0o600)
	os.Chown(key, 65534, 65534)
	return e, bin, key
}

// fixSocketPath rewrites the config's socket path to e.socket.
func fixSocketPath(b *testing.B, e env) {
	var m map[string]any
	raw, _ := os.ReadFile(e.config)
	if err := json.Unmarshal(raw, &m); err != nil {
		b.Fatal(err)
	}
	m["socket"] = map[string]any{"path": e.socket}
	out, _ := json.Marshal(m)
	os.WriteFile(e.config, out, 0o600)
}

// BenchmarkAttackSlowloris: 200 slow connections of an allowed client uid
// (65534, one process) for 10 s; a legitimate ping every 10 ms from root
// and from another process of the attacker's uid, as lmn-heal would be
// (before: 32 slots taken, 275 of 278 pings refused "server busy").
func BenchmarkAttackSlowloris(b *testing.B) {
	e, bin, key := sharedEnv(b, "")
	cmd := daemonUp(b, e)
	os.Chmod(e.socket, 0o666)
	for b.Loop() {
		att := startChild(b, bin, slowlorisEnv, e.socket)
		time.Sleep(time.Second) // the slowloris is at full strength
		same := startChild(b, bin, pingerEnv, e.socket+" "+key)
		stop := make(chan struct{})
		p := startPinger(client(b, e), stop)
		time.Sleep(10 * time.Second)
		close(stop)
		sr := same.stop(b)
		r := att.stop(b)
		b.ReportMetric(float64(r.Attempts), "attempts")
		b.ReportMetric(float64(r.Held), "held")
		b.ReportMetric(float64(vmRSS(b, cmd.Process.Pid)), "rss-KiB")
		p.report(b, "root")
		sr.report(b, "same-uid")
	}
}

// BenchmarkAttackKillDaemons: kill_process, as the client uid, of root
// daemons in their own units' cgroups (sshd.service, dbus.service,
// systemd-journald.service) and of a screen locker in a session scope
// (before: 4 of 4 killed), 25 times each; and once of a process of an
// allowed unit, which is killed.
func BenchmarkAttackKillDaemons(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root to make cgroups")
	}
	e := newEnv(b, `,"rate_limits":{"overall":{"max":0},"per_action":{"max":0},"per_target":{"max":0}},"env":{"proc_root":"/proc"}`)
	cmd := daemonUp(b, e)
	slice := "lmn-attack-" + strconv.Itoa(os.Getpid()) + ".slice"
	victims := map[string]*exec.Cmd{}
	for _, unit := range []string{"sshd.service", "dbus.service", "systemd-journald.service", "session-3.scope", "lmn-worker.service"} {
		victims[unit] = victimInUnit(b, slice, unit)
	}
	c := client(b, e)
	var attempts, refused, executed int64
	for b.Loop() {
		for range 25 {
			for _, unit := range []string{"sshd.service", "dbus.service", "systemd-journald.service", "session-3.scope"} {
				attempts++
				_, err := c.Do(context.Background(), killRequest(b, victims[unit]))
				switch {
				case err == nil:
					executed++
				case errors.Is(err, privproto.ErrRefused) || errors.Is(err, privproto.ErrActionFailed):
					refused++
				}
			}
		}
	}
	alive := 0
	for unit, v := range victims {
		if unit != "lmn-worker.service" && running(v.Process.Pid) {
			alive++
		}
	}
	_, err := c.Do(context.Background(), killRequest(b, victims["lmn-worker.service"]))
	reportCounts(b, attempts, refused, executed, cmd.Process.Pid)
	b.ReportMetric(float64(alive), "daemons-alive")
	b.ReportMetric(map[bool]float64{true: 1}[err == nil], "allowed-unit-killed")
}

func killRequest(b *testing.B, v *exec.Cmd) action.Request {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(v.Process.Pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return action.Request{Action: "kill_process", Params: map[string]string{"pid": strconv.Itoa(v.Process.Pid), "start_time": f[19], "grace": "1s"}}
}

// victimInUnit starts a real process in slice/unit of the name=systemd and
// unified hierarchies, as systemd places a unit's processes.
func victimInUnit(b *testing.B, slice, unit string) *exec.Cmd {
	roots := []string{"/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"}
	v := exec.Command("sleep", "600")
	if err := v.Start(); err != nil {
		b.Fatal(err)
	}
	moved := 0
	for _, root := range roots {
		if _, err := os.Stat(filepath.Join(root, "cgroup.procs")); err != nil {
			continue
		}
		dir := filepath.Join(root, slice, unit)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			continue
		}
		b.Cleanup(func() { os.Remove(dir); os.Remove(filepath.Join(root, slice)) })
		if os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(v.Process.Pid)), 0o644) == nil {
			moved++
		}
	}
	b.Cleanup(func() { v.Process.Kill(); v.Wait() })
	if moved == 0 {
		b.Skip("no cgroup hierarchy to move a process into")
	}
	return v
}

func init() {
	if sock := os.Getenv(slowlorisEnv); sock != "" {
		os.Exit(slowloris(sock))
	}
	if args := os.Getenv(pingerEnv); args != "" {
		os.Exit(pingChild(args))
	}
}
