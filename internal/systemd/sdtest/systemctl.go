package sdtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Command returns a systemctl --user command reaching this manager.
func (m *Manager) Command(ctx context.Context, args ...string) *exec.Cmd {
	argv := append(m.Systemctl(), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), m.Env()...)
	return cmd
}

// Output runs systemctl --user args against this manager and returns its
// standard output; a failure's error carries the exit status and stderr.
func (m *Manager) Output(ctx context.Context, args ...string) (string, error) {
	cmd := m.Command(ctx, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("systemctl --user %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return string(out), nil
}

// InstallUnit writes a unit file into UnitDir and reloads the manager.
func (m *Manager) InstallUnit(ctx context.Context, name, content string) error {
	if name == "" || strings.ContainsAny(name, "/\x00") || !strings.Contains(name, ".") {
		return fmt.Errorf("sdtest: unit name %q: want a file name like x.service", name)
	}
	path := filepath.Join(m.UnitDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		return fmt.Errorf("sdtest: write unit: %w", err)
	}
	_, err := m.Output(ctx, "daemon-reload")
	return err
}

// UnitState is what State reports about a unit.
type UnitState struct {
	Active    string // ActiveState: active, failed, inactive, activating...
	Sub       string // SubState: running, failed, dead, auto-restart...
	NRestarts int    // automatic restarts since the unit was last started by hand
	MainPID   int
}

// UnitState asks the manager for a unit's state.
func (m *Manager) UnitState(ctx context.Context, unit string) (UnitState, error) {
	out, err := m.Output(ctx, "show", "--property=ActiveState,SubState,NRestarts,MainPID", "--", unit)
	if err != nil {
		return UnitState{}, err
	}
	props, err := parseShow(out)
	if err != nil {
		return UnitState{}, fmt.Errorf("systemctl show %s: %w", unit, err)
	}
	st := UnitState{Active: props["ActiveState"], Sub: props["SubState"]}
	if st.Active == "" {
		return UnitState{}, fmt.Errorf("systemctl show %s: no ActiveState in %q", unit, out)
	}
	if v, ok := props["NRestarts"]; ok {
		if st.NRestarts, err = strconv.Atoi(v); err != nil {
			return UnitState{}, fmt.Errorf("systemctl show %s: NRestarts=%q: %w", unit, v, err)
		}
	}
	if v, ok := props["MainPID"]; ok {
		if st.MainPID, err = strconv.Atoi(v); err != nil {
			return UnitState{}, fmt.Errorf("systemctl show %s: MainPID=%q: %w", unit, v, err)
		}
	}
	return st, nil
}

// errShow is wrapped by every parseShow error.
var errShow = errors.New("malformed systemctl show output")

// parseShow parses the Key=Value lines of systemctl show for one unit.
// Values may contain '='; keys may not be empty or repeated.
func parseShow(out string) (map[string]string, error) {
	props := make(map[string]string)
	for i, line := range strings.Split(out, "\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("line %d %q: %w (want Key=Value)", i+1, line, errShow)
		}
		if _, dup := props[k]; dup {
			return nil, fmt.Errorf("line %d: %w (%s repeated)", i+1, errShow, k)
		}
		props[k] = v
	}
	return props, nil
}

// Available reports why a private manager cannot run here, or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("sdtest: needs root (creates cgroups and a mount namespace)")
	}
	if ok, err := hasCapSysAdmin(); err != nil || !ok {
		return fmt.Errorf("sdtest: needs CAP_SYS_ADMIN for a mount namespace (have it: %v, %v)", ok, err)
	}
	if _, err := systemdBinary(); err != nil {
		return err
	}
	for _, tool := range []string{"systemctl", "unshare", "nsenter", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("sdtest: %s not found (install systemd and util-linux): %w", tool, err)
		}
	}
	if _, err := os.Stat("/bin/sh"); err != nil {
		return fmt.Errorf("sdtest: %w", err)
	}
	if _, err := hierarchies(); err != nil {
		return fmt.Errorf("sdtest: %w", err)
	}
	return nil
}

// systemdBinary finds the systemd manager binary.
func systemdBinary() (string, error) {
	for _, p := range []string{"/usr/lib/systemd/systemd", "/lib/systemd/systemd"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("systemd"); err == nil {
		return p, nil
	}
	return "", errors.New("sdtest: no systemd binary (/usr/lib/systemd/systemd); install systemd")
}
