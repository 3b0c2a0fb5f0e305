package pid1

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// suite and packages make the Debian root: systemd as init, D-Bus for
// resolvectl and systemctl's polkit-free root calls, jq for the module's
// preStart, systemd-resolved for flush_dns. systemd-networkd, journald,
// getent and useradd come with systemd, libc-bin and passwd.
const suite = "bookworm"

var packages = []string{"systemd", "systemd-sysv", "dbus", "jq", "systemd-resolved"}

// imageOnce builds or finds the cached root once per test binary.
var imageOnce = sync.OnceValues(findOrBuildImage)

// image returns the cached Debian root, building it first when
// LMN_PID1_DEBOOTSTRAP=1 allows; otherwise it skips t with the reason.
func image(t *testing.T) string {
	t.Helper()
	dir, err := imageOnce()
	if err != nil {
		if se, ok := err.(skipError); ok {
			t.Skip(string(se))
		}
		t.Fatal(err)
	}
	return dir
}

// skipError is a reason to skip rather than fail.
type skipError string

func (e skipError) Error() string { return string(e) }

// imageDir is the cache entry for this suite and package list: a change of
// either builds a new root beside the old.
func imageDir() string {
	cache := os.Getenv("LMN_PID1_CACHE")
	if cache == "" {
		cache = "/var/cache/lmn/pid1"
	}
	sum := sha256.Sum256([]byte(suite + " " + strings.Join(packages, ",")))
	return filepath.Join(cache, suite+"-"+hex.EncodeToString(sum[:4]))
}

func findOrBuildImage() (string, error) {
	dir := imageDir()
	if _, err := os.Stat(filepath.Join(dir, "usr/lib/systemd/systemd")); err == nil {
		return dir, nil
	}
	if os.Getenv("LMN_PID1_DEBOOTSTRAP") != "1" {
		return "", skipError(fmt.Sprintf("no Debian root at %s; LMN_PID1_DEBOOTSTRAP=1 builds it (about 3 minutes, needs a Debian mirror)", dir))
	}
	debootstrap, err := exec.LookPath("debootstrap")
	if err != nil {
		return "", skipError("no debootstrap to build the Debian root (apt-get install debootstrap)")
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("image cache: %w", err)
	}
	// One build at a time on this machine; a second waits and finds it.
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("image lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("image lock: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "usr/lib/systemd/systemd")); err == nil {
		return dir, nil
	}
	tmp := dir + ".build"
	os.RemoveAll(tmp)
	mirror := os.Getenv("LMN_PID1_MIRROR")
	if mirror == "" {
		mirror = "http://deb.debian.org/debian"
	}
	cmd := exec.Command(debootstrap, "--variant=minbase", "--include="+strings.Join(packages, ","), suite, tmp, mirror)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(tmp)
		tail := out[max(0, len(out)-2000):]
		return "", skipError(fmt.Sprintf("debootstrap %s from %s failed (no mirror?): %v\n%s", suite, mirror, err, tail))
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("image: %w", err)
	}
	return dir, nil
}
