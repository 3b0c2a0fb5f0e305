package privd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/privproto"
	"golang.org/x/sys/unix"
)

// childDiskFullEnv makes the test binary run diskFullChild in the
// directory it names, inside the private mount namespace its parent made.
const childDiskFullEnv = "LMN_PRIVD_TEST_DISKFULL_DIR"

// diskFullReport is what the child saw.
type diskFullReport struct {
	Before, WhileFull, After privproto.Response
	NewlineWhileFull         bool
	SizeBefore, SizeFull     int64
	Events                   []string
	Repair                   string
	Verify                   string
}

// The disk-full, for real: a 1 MiB tmpfs in a private mount
// namespace holds the audit log; it is filled until a write fails. The
// action is refused, the part of the intent line that was written is
// taken back at once, and once there is room again the next line records
// the repair and the chain verifies. Before, the torn line stayed, the
// next line followed it, and verify-audit reported "BAD" for good.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs in a private mount namespace")
	}
	dir := t.TempDir()
	self, _ := os.Executable()
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), childDiskFullEnv+"="+dir)
	// The runtime makes every mount private in the new namespace before
	// the child runs: the tmpfs never reaches this namespace.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s\n%s", err, out, stderr.String())
	}
	var r diskFullReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("child said %q: %v\n%s", out, err, stderr.String())
	}
	if !r.Before.OK || !r.After.OK {
		t.Errorf("actions with room: before %+v, after %+v", r.Before, r.After)
	}
	if r.WhileFull.OK || r.WhileFull.Code != privproto.CodeRefused || !strings.Contains(r.WhileFull.Error, "no space left") {
		t.Errorf("action on a full disk: %+v, want refused naming ENOSPC", r.WhileFull)
	}
	if !r.NewlineWhileFull || r.SizeFull != r.SizeBefore {
		t.Errorf("while full the log is %d bytes (was %d), ends with a newline: %v; want the short write taken back", r.SizeFull, r.SizeBefore, r.NewlineWhileFull)
	}
	if !strings.Contains(r.Repair, "cut short") {
		t.Errorf("no repair line for the short write: events %v, repair %q", r.Events, r.Repair)
	}
	if r.Verify != "" {
		t.Errorf("verify after the disk-full: %s", r.Verify)
	}
	if _, err := os.Stat(filepath.Join(dir, "audit.log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the tmpfs leaked out of the child's namespace: %v", err)
	}
	t.Logf("disk full: refused with %q; events %v", r.WhileFull.Error, r.Events)
}

func diskFullChild(dir string) int {
	fail := func(format string, args ...any) int { fmt.Fprintf(os.Stderr, format+"\n", args...); return 1 }
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0700"); err != nil {
		return fail("mount tmpfs: %v", err)
	}
	cfg := testConfig(dir)
	file := filepath.Join(cfg.Env.ProcRoot, "sys/vm/drop_caches")
	os.MkdirAll(filepath.Dir(file), 0o755)
	os.WriteFile(file, nil, 0o644)
	srv, err := New(cfg, nil, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		return fail("New: %v", err)
	}
	var r diskFullReport
	r.Before = srv.Execute(nil, dropReq)
	if err := padToPageEnd(srv, cfg.AuditLog); err != nil {
		return fail("pad: %v", err)
	}
	r.SizeBefore = fileSize(cfg.AuditLog)
	filler := filepath.Join(dir, "filler")
	if err := fill(filler); err != nil {
		return fail("fill: %v", err)
	}
	r.WhileFull = srv.Execute(nil, action.Request{Action: "drop_caches", Params: map[string]string{"level": "1"}})
	r.SizeFull = fileSize(cfg.AuditLog)
	b, _ := os.ReadFile(cfg.AuditLog)
	r.NewlineWhileFull = bytes.HasSuffix(b, []byte("\n"))
	os.Remove(filler)
	r.After = srv.Execute(nil, action.Request{Action: "drop_caches", Params: map[string]string{"level": "2"}})
	srv.Close()
	b, _ = os.ReadFile(cfg.AuditLog)
	for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			return fail("audit line %q: %v", line, err)
		}
		r.Events = append(r.Events, e.Event)
		if e.Event == EventRepair {
			r.Repair = e.Reason
		}
	}
	if _, err := VerifyFile(cfg.AuditLog, cfg.AuditKeyPath()); err != nil {
		r.Verify = err.Error()
	}
	json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

// padToPageEnd writes pause lines (whose reason sets their length to the
// byte) and a resume line until 40 bytes are left in the log's last page,
// so that the next line cannot fit in what the full disk still holds for
// the file.
func padToPageEnd(srv *Server, path string) error {
	local := &Peer{UID: 0, Via: "local"}
	write := func(req action.Request) (int64, error) {
		before := fileSize(path)
		if r := srv.Control(local, req); !r.OK {
			return 0, errors.New(r.Error)
		}
		return fileSize(path) - before, nil
	}
	pause := func(n int) (int64, error) {
		return write(action.Request{Action: privproto.ControlPause, Params: map[string]string{"reason": strings.Repeat("p", n)}})
	}
	resume := func() (int64, error) { return write(action.Request{Action: privproto.ControlResume}) }
	lp, err := pause(0) // a pause line's length without its reason
	if err != nil {
		return err
	}
	lr, err := resume()
	if err != nil {
		return err
	}
	const want = 40
	for range 100 {
		slack := 4096 - fileSize(path)%4096
		n := slack - lr - want - (lp + 8) // the reason adds 8 bytes of ,"reason":"" besides its text
		switch {
		case n >= 0 && n <= maxPauseReason:
			if _, err := pause(int(n)); err != nil {
				return err
			}
			if _, err := resume(); err != nil {
				return err
			}
			if left := 4096 - fileSize(path)%4096; left > 80 || left == 4096 {
				return fmt.Errorf("%d bytes left in the page after the padding", left)
			}
			return nil
		default: // too far from the page's end, or too close: a long line and again
			if _, err := pause(maxPauseReason); err != nil {
				return err
			}
		}
	}
	return errors.New("no padding found")
}

// fill writes zeros to path until the filesystem is full.
func fill(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	page := make([]byte, 4096)
	for {
		if _, err := f.Write(page); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return nil
			}
			return err
		}
	}
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return fi.Size()
}
