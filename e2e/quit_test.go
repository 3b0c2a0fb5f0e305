package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestQuitWithinASecond is issue 15's "q gives the prompt back": a real
// pipe of the real binaries, joined by plain pipes as a shell joins them
// (no relays, which would read on for the stage), at --interval 30s.
// When lmn-dash ends, every stage upstream must end at once, not at its
// next write: lmn-collect's next one is 30 s away, and each stage behind
// it would wait for the one before.
func TestQuitWithinASecond(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	stages := [][]string{
		{bin(t, "lmn-collect"), "--interval", "30s", "--units", "none"},
		{bin(t, "lmn-detect"), "--state", filepath.Join(dir, "detect.state")},
		{bin(t, "lmn-heal"), "--tiers", "advise", "--sudo", "never", "--pause-file", "",
			"--privd-socket", filepath.Join(dir, "no-privd.sock"), "--key-file", filepath.Join(dir, "no.key"),
			"--state", filepath.Join(dir, "heal.state")},
		{bin(t, "lmn-dash"), "--simple"},
	}
	cmds := make([]*exec.Cmd, len(stages))
	exited := make(chan int, len(stages))
	var stdin *os.File
	for i, args := range stages {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdin, cmd.Stdout = stdin, w
		var errs strings.Builder
		cmd.Stderr = &errs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		if stdin != nil {
			stdin.Close()
		}
		stdin = r
		cmds[i] = cmd
		done := make(chan struct{})
		go func() {
			cmd.Wait()
			close(done)
			exited <- i
		}()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-done
			if t.Failed() {
				t.Logf("%s stderr:\n%s", filepath.Base(args[0]), errs.String())
			}
		})
	}
	// lmn-dash draws its first frame once lmn-collect's first sample came
	// through every stage: the whole pipe is up and waiting.
	frames := bufio.NewReader(stdin)
	deadline := time.AfterFunc(30*time.Second, func() { stdin.Close() })
	for {
		l, err := frames.ReadString('\n')
		if err != nil {
			t.Fatalf("no frame from lmn-dash: %v", err)
		}
		if strings.Contains(l, "detect+") && strings.Contains(l, "heal+") {
			break
		}
	}
	deadline.Stop()

	// q, SIGINT and SIGTERM all end lmn-dash the same way.
	quit := time.Now()
	cmds[3].Process.Signal(syscall.SIGTERM)
	const bound = 5 * time.Second // far below the 30 s interval; generous for a loaded machine
	timeout := time.After(bound)
	gone := map[int]bool{}
	for range cmds {
		select {
		case i := <-exited:
			gone[i] = true
			t.Logf("%s exited %v after the quit: %v", filepath.Base(stages[i][0]), time.Since(quit).Round(time.Millisecond), cmds[i].ProcessState)
			if code := cmds[i].ProcessState.ExitCode(); code != 0 {
				t.Errorf("%s: exit status %d, want 0 (a closed downstream ends a stage quietly)", filepath.Base(stages[i][0]), code)
			}
		case <-timeout:
			for i := range cmds {
				if !gone[i] {
					t.Errorf("%s still runs %v after lmn-dash quit (--interval 30s)", filepath.Base(stages[i][0]), bound)
				}
			}
			return
		}
	}
}
