package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Stage is one process of a pipe.
type Stage struct {
	Name  string
	Args  []string // Args[0] is the program
	Env   []string // added to the test's environment
	Stdin io.Reader
	// Cred runs the stage as another user; nil runs it as the test.
	Cred *syscall.Credential
	// HoldInput, if not nil, keeps the stage's input open after the
	// upstream ends until it is closed: the test can look at the stage
	// while it has read everything but is still running.
	HoldInput chan struct{}
}

// Injector is called by the relay feeding a stage, once for each line it
// passes on (n counts from 1); what it returns is written right after that
// line, so it can put garbage into the pipe. It is called once more with
// n == 0 and a nil line when the upstream's output ends.
type Injector func(n int, line []byte) []byte

// Proc is one running stage.
type Proc struct {
	Stage
	Out *Lines // every line the stage wrote to stdout, as the next stage read it

	cmd    *exec.Cmd
	stderr lockedBuffer
	done   chan struct{}
	err    error
}

// Pipe is a running pipe: real processes, real pipes, and between each pair
// a relay that records every line and may inject more.
type Pipe struct {
	t      testing.TB
	Procs  []*Proc
	relays sync.WaitGroup
	dying  chan struct{} // closed when the test ends: relays stop holding
}

// startPipe starts stages joined stdout to stdin. inject, if not nil, maps
// a stage index (1 or more) to the injector of the relay feeding it. The
// pipe is stopped and reaped when the test ends.
func startPipe(t testing.TB, inject map[int]Injector, stages ...Stage) *Pipe {
	t.Helper()
	p := &Pipe{t: t, dying: make(chan struct{})}
	if dir := os.Getenv("LMN_E2E_RECORD"); dir != "" {
		t.Cleanup(func() { p.record(dir) }) // after the kill below: every line is in
	}
	t.Cleanup(p.kill)
	var next *os.File // read end feeding the next stage
	for i, st := range stages {
		pr := &Proc{Stage: st, Out: newLines(), done: make(chan struct{})}
		cmd := exec.Command(st.Args[0], st.Args[1:]...)
		cmd.Env = append(os.Environ(), st.Env...)
		cmd.Stderr = &pr.stderr
		if st.Cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: st.Cred}
		}
		switch {
		case i > 0:
			cmd.Stdin = next
		case st.Stdin != nil:
			cmd.Stdin = st.Stdin
		}
		outR, outW, err := os.Pipe()
		if err != nil {
			t.Fatalf("pipe for %s: %v", st.Name, err)
		}
		cmd.Stdout = outW
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", st.Name, err)
		}
		outW.Close()
		if next != nil {
			next.Close()
			next = nil
		}
		pr.cmd = cmd
		go func() { pr.err = cmd.Wait(); close(pr.done) }()
		p.Procs = append(p.Procs, pr)

		var dst *os.File
		var hold chan struct{}
		if i+1 < len(stages) {
			hold = stages[i+1].HoldInput
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatalf("pipe to %s: %v", stages[i+1].Name, err)
			}
			next, dst = r, w
		}
		p.relays.Add(1)
		go func() {
			defer p.relays.Done()
			relay(outR, dst, pr.Out, inject[i+1])
			if hold != nil {
				select {
				case <-hold:
				case <-p.dying:
				}
			}
			if dst != nil {
				dst.Close()
			}
		}()
	}
	return p
}

// relay copies lines from src to dst (nil: discard), recording each, until
// src ends or dst is closed by its reader. Then it closes src, so EPIPE
// travels up as it would through a plain pipe; the caller closes dst.
func relay(src, dst *os.File, out *Lines, inject Injector) {
	defer src.Close()
	defer out.close()
	br := bufio.NewReaderSize(src, 64<<10)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			out.add(line)
			if dst != nil {
				if _, werr := dst.Write(line); werr != nil {
					return
				}
				if inject != nil {
					if extra := inject(n, line); len(extra) > 0 {
						if _, werr := dst.Write(extra); werr != nil {
							return
						}
					}
				}
			}
		}
		if err != nil {
			if dst != nil && inject != nil {
				dst.Write(inject(0, nil))
			}
			return
		}
	}
}

// record writes what each stage wrote to dir/TEST.STAGE.ndjson, for
// replaying a real run through other builds (LMN_E2E_RECORD=dir).
func (p *Pipe) record(dir string) {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(p.t.Name())
	for _, pr := range p.Procs {
		var b bytes.Buffer
		for _, c := range pr.Out.All() {
			b.Write(c.Raw)
		}
		if err := os.WriteFile(filepath.Join(dir, name+"."+pr.Name+".ndjson"), b.Bytes(), 0o644); err != nil {
			p.t.Errorf("record %s: %v", pr.Name, err)
		}
	}
}

// Proc returns the stage called name.
func (p *Pipe) Proc(name string) *Proc {
	for _, pr := range p.Procs {
		if pr.Name == name {
			return pr
		}
	}
	p.t.Fatalf("no stage %q in the pipe", name)
	return nil
}

// Signal sends sig to the stage called name.
func (p *Pipe) Signal(name string, sig syscall.Signal) {
	p.t.Helper()
	if err := p.Proc(name).cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v to %s: %v", sig, name, err)
	}
}

// Stop sends SIGTERM to the first stage and waits for every stage to exit;
// the end of input travels down the pipe. It fails the test if a stage does
// not exit within timeout.
func (p *Pipe) Stop(timeout time.Duration) {
	p.t.Helper()
	p.Signal(p.Procs[0].Name, syscall.SIGTERM)
	p.Wait(timeout)
}

// Wait waits for every stage to exit and for the relays to drain.
func (p *Pipe) Wait(timeout time.Duration) {
	p.t.Helper()
	deadline := time.After(timeout)
	for _, pr := range p.Procs {
		select {
		case <-pr.done:
		case <-deadline:
			p.t.Fatalf("%s did not exit within %v; stderr:\n%s", pr.Name, timeout, pr.Stderr())
		}
	}
	p.relays.Wait()
}

// RequireClean fails the test unless every stage exited with status 0.
func (p *Pipe) RequireClean() {
	p.t.Helper()
	for _, pr := range p.Procs {
		if code := pr.ExitCode(); code != 0 {
			p.t.Errorf("%s exited with %d (%v); stderr:\n%s", pr.Name, code, pr.err, pr.Stderr())
		}
	}
}

// kill ends every stage still running and logs the stderr of each stage
// when the test failed.
func (p *Pipe) kill() {
	close(p.dying)
	for _, pr := range p.Procs {
		select {
		case <-pr.done:
		default:
			pr.cmd.Process.Kill()
			<-pr.done
		}
	}
	p.relays.Wait()
	if p.t.Failed() {
		for _, pr := range p.Procs {
			p.t.Logf("%s exit %d (%v), stderr:\n%s", pr.Name, pr.ExitCode(), pr.err, pr.Stderr())
			p.t.Logf("%s output, samples left out:\n%s", pr.Name, notSamples(pr.Out.All(), 40))
		}
	}
}

// ExitCode is the stage's exit status, -1 if killed by a signal, -2 while
// still running.
func (pr *Proc) ExitCode() int {
	select {
	case <-pr.done:
		return pr.cmd.ProcessState.ExitCode()
	default:
		return -2
	}
}

// Wait waits for the stage to exit; it fails the test after timeout.
func (pr *Proc) Wait(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case <-pr.done:
	case <-time.After(timeout):
		t.Fatalf("%s did not exit within %v", pr.Name, timeout)
	}
}

// Pid is the stage's process id.
func (pr *Proc) Pid() int { return pr.cmd.Process.Pid }

// Stderr is what the stage wrote to stderr so far.
func (pr *Proc) Stderr() string { return pr.stderr.String() }

// Captured is one line as a relay saw it.
type Captured struct {
	At  time.Time // when the relay read it
	Raw []byte    // as written, terminator included
}

// Lines is the growing list of lines a stage wrote.
type Lines struct {
	mu      sync.Mutex
	lines   []Captured
	changed chan struct{} // closed and replaced on every change
	closed  bool
}

func newLines() *Lines { return &Lines{changed: make(chan struct{})} }

func (l *Lines) add(raw []byte) {
	c := Captured{At: time.Now(), Raw: bytes.Clone(raw)}
	l.mu.Lock()
	l.lines = append(l.lines, c)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

func (l *Lines) close() {
	l.mu.Lock()
	l.closed = true
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// All returns the lines so far.
func (l *Lines) All() []Captured {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines[:len(l.lines):len(l.lines)]
}

// Wait waits until cond holds for the lines so far, and returns them. It
// returns an error naming what if timeout passes or the stage's output ends
// first.
func (l *Lines) Wait(timeout time.Duration, what string, cond func([]Captured) bool) ([]Captured, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		lines, changed, closed := l.lines[:len(l.lines):len(l.lines)], l.changed, l.closed
		l.mu.Unlock()
		if cond(lines) {
			return lines, nil
		}
		if closed {
			return lines, fmt.Errorf("output ended before %s (%d lines)", what, len(lines))
		}
		select {
		case <-changed:
		case <-deadline.C:
			return lines, fmt.Errorf("no %s within %v (%d lines)", what, timeout, len(lines))
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for the exec copier and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// lastLines returns the last n lines of s, for short failure messages.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// notSamples returns the last n lines that are not sample records.
func notSamples(lines []Captured, n int) string {
	var out []string
	for _, c := range lines {
		if kindOf(c.Raw) != "sample" {
			out = append(out, strings.TrimRight(string(c.Raw), "\n"))
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.Join(out, "\n")
}
