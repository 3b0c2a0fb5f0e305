package proc

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMain lets the test binary run mountChild inside a private mount
// namespace (see TestUnchangedSeesMount).
func TestMain(m *testing.M) {
	if dir := os.Getenv("LMN_PROC_MOUNT_CHILD"); dir != "" {
		if err := mountChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// mountChild runs in a mount namespace of its own (unshare(1) makes its
// mounts private, so nothing reaches the host): after a read the mount
// table is unchanged; after mounting a tmpfs on dir it has changed, and the
// next read lists the new mount.
func mountChild(dir string) error {
	f := NewPolledFile("/proc/self/mountinfo")
	defer f.Close()
	if _, err := f.Read(); err != nil {
		return err
	}
	if !f.Unchanged() {
		return fmt.Errorf("mount table changed before anything was mounted")
	}
	if err := unix.Mount("lmn-test", dir, "tmpfs", 0, "size=64k"); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	if f.Unchanged() {
		return fmt.Errorf("mounting %s went unnoticed", dir)
	}
	b, err := f.Read()
	if err != nil {
		return err
	}
	if !bytes.Contains(b, []byte(" "+dir+" ")) {
		return fmt.Errorf("mount of %s missing from the re-read table", dir)
	}
	if !f.Unchanged() {
		return fmt.Errorf("mount table still changed after the re-read")
	}
	return nil
}

// TestUnchangedSeesMount checks, on the real kernel, that skipping the
// mount table while poll(2) reports no change never misses a mount. It
// needs root and unshare(1) for a private mount namespace.
func TestUnchangedSeesMount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount in a private mount namespace")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("needs unshare(1) for a private mount namespace")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(unshare, "--mount", "--propagation", "private", exe)
	cmd.Env = append(os.Environ(), "LMN_PROC_MOUNT_CHILD="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("unshare failed")) || bytes.Contains(out, []byte("Operation not permitted")) {
			t.Skipf("no mount namespaces here: %s", out)
		}
		t.Fatalf("%v: %s", err, out)
	}
}
