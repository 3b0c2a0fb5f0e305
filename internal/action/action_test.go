package action

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestValidateRefuses(t *testing.T) {
	env := DefaultEnv()
	env.Self = 4242
	env.Protect = []int{4343}
	cases := []struct {
		name string
		req  Request
		want error
	}{
		{"unknown action", Request{Action: "rm_rf"}, ErrUnknown},
		{"unknown param", Request{Action: "noop", Params: map[string]string{"x": "1"}}, ErrInvalid},
		{"missing param", Request{Action: "restart_unit"}, ErrInvalid},
		{"kill pid 1", kill("1"), ErrDenied},
		{"kill pid -1", kill("-1"), ErrInvalid},
		{"kill pid 0", kill("0"), ErrInvalid},
		{"kill leading zero", kill("01"), ErrInvalid},
		{"kill self", kill(strconv.Itoa(os.Getpid())), ErrDenied},
		{"kill caller", kill("4242"), ErrDenied},
		{"kill protected", kill("4343"), ErrDenied},
		{"kill huge pid", kill("99999999"), ErrInvalid},
		{"kill no start time", Request{Action: "kill_process", Params: map[string]string{"pid": "77"}}, ErrInvalid},
		{"kill long grace", Request{Action: "kill_process", Params: map[string]string{"pid": "77", "start_time": "1", "grace": "2h"}}, ErrInvalid},
		{"unit semicolon", unit("nginx.service;reboot"), ErrInvalid},
		{"unit dollar", unit("$(reboot).service"), ErrInvalid},
		{"unit backtick", unit("`id`.service"), ErrInvalid},
		{"unit space", unit("a b.service"), ErrInvalid},
		{"unit pipe", unit("a|b.service"), ErrInvalid},
		{"unit leading dash", unit("--force.service"), ErrInvalid},
		{"unit no suffix", unit("nginx"), ErrInvalid},
		{"unit bad suffix", unit("nginx.exe"), ErrInvalid},
		{"unit template only", unit("getty@.service"), ErrInvalid},
		{"unit too long", unit(strings.Repeat("a", 250) + ".service"), ErrInvalid},
		{"unit denied sshd", unit("sshd.service"), ErrDenied},
		{"unit denied dbus", unit("dbus.service"), ErrDenied},
		{"unit denied privd", unit("lmn-privd.service"), ErrDenied},
		{"unit denied systemd", unit("systemd-journald.service"), ErrDenied},
		{"unit denied init", unit("init.scope"), ErrDenied},
		{"unit denied gdm", unit("display-manager.service"), ErrDenied},
		{"drop bad level", Request{Action: "drop_caches", Params: map[string]string{"level": "4"}}, ErrInvalid},
		{"vacuum both", Request{Action: "journal_vacuum", Params: map[string]string{"size": "1G", "time": "2weeks"}}, ErrInvalid},
		{"vacuum none", Request{Action: "journal_vacuum"}, ErrInvalid},
		{"vacuum tiny", Request{Action: "journal_vacuum", Params: map[string]string{"size": "1M"}}, ErrInvalid},
		{"vacuum short", Request{Action: "journal_vacuum", Params: map[string]string{"time": "5min"}}, ErrInvalid},
		{"gc bad age", Request{Action: "nix_gc", Params: map[string]string{"older_than": "-1d"}}, ErrInvalid},
		{"long value", Request{Action: "nix_gc", Params: map[string]string{"older_than": strings.Repeat("1", 300) + "d"}}, ErrInvalid},
	}
	for _, c := range cases {
		err := Validate(env, c.req)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: Validate(%v) = %v, want %v", c.name, c.req, err, c.want)
		}
	}
	t.Logf("%d refusals checked", len(cases))
}

func TestValidateAccepts(t *testing.T) {
	env := DefaultEnv()
	for _, req := range []Request{
		{Action: "noop"},
		unit("nginx.service"),
		unit("getty@tty1.service"),
		{Action: "reset_failed_unit", Params: map[string]string{"unit": "foo.timer"}},
		kill("12345"),
		{Action: "drop_caches", Params: map[string]string{"level": "3"}},
		{Action: "journal_vacuum", Params: map[string]string{"size": "500M"}},
		{Action: "journal_vacuum", Params: map[string]string{"time": "2weeks"}},
		{Action: "nix_gc", Params: map[string]string{"older_than": "14d"}},
		{Action: "nix_gc"},
		{Action: "flush_dns"},
		{Action: "restart_network"},
	} {
		if err := Validate(env, req); err != nil {
			t.Errorf("Validate(%v) = %v", req, err)
		}
	}
}

func TestUnitPolicyLiteralAllowOverridesDeny(t *testing.T) {
	p := DefaultUnitPolicy()
	p.Allow = append(p.Allow, "sshd.service")
	if err := p.Check("sshd.service"); err != nil {
		t.Errorf("literal allow: %v", err)
	}
	if err := p.Check("sshd-keygen.service"); !errors.Is(err, ErrDenied) {
		t.Errorf("sshd-keygen: %v, want denied", err)
	}
	p.Allow = append(p.Allow, "lmn-privd.service")
	if err := p.Check("lmn-privd.service"); !errors.Is(err, ErrDenied) {
		t.Errorf("protected unit allowed: %v", err)
	}
	only := UnitPolicy{Allow: []string{"nginx.service"}}
	if err := only.Check("apache.service"); !errors.Is(err, ErrDenied) {
		t.Errorf("allow list not enforced: %v", err)
	}
	if err := (UnitPolicy{Deny: []string{"["}}).Validate(); err == nil {
		t.Error("bad pattern accepted")
	}
}

func TestSpecsAndTargets(t *testing.T) {
	want := []string{"drop_caches", "flush_dns", "journal_vacuum", "kill_process", "mark_generation_good", "nix_gc", "noop",
		"reset_failed_unit", "restart_network", "restart_unit", "set_cpu_governor", "switch_generation"}
	var got []string
	for _, s := range Specs() {
		got = append(got, s.Name)
		if s.Timeout <= 0 || s.Doc == "" {
			t.Errorf("%s: timeout %v doc %q", s.Name, s.Timeout, s.Doc)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Specs = %v, want %v", got, want)
	}
	for req, want := range map[*Request]string{
		{Action: "restart_unit", Params: map[string]string{"unit": "a.service"}}: "unit:a.service",
		{Action: "kill_process", Params: map[string]string{"pid": "12"}}:         "pid:12",
		{Action: "set_cpu_governor"}:                                             "governor",
		{Action: "drop_caches"}:                                                  "caches",
		{Action: "nope"}:                                                         "",
	} {
		if got := Target(*req); got != want {
			t.Errorf("Target(%v) = %q, want %q", *req, got, want)
		}
	}
}

func TestCommand(t *testing.T) {
	env := Env{Systemctl: []string{"systemctl", "--user"}, ProcRoot: "/proc"}
	for req, want := range map[*Request]string{
		{Action: "restart_unit", Params: map[string]string{"unit": `a\x2db.service`}}: `systemctl --user restart -- 'a\x2db.service'`,
		{Action: "drop_caches", Params: map[string]string{"level": "3"}}:              "sync; echo 3 > /proc/sys/vm/drop_caches",
		{Action: "kill_process", Params: map[string]string{"pid": "9; rm -rf /"}}:     "kill -TERM '9; rm -rf /'",
		{Action: "journal_vacuum", Params: map[string]string{"size": "500M"}}:         "journalctl --vacuum-size=500M",
		{Action: "nope"}: "",
	} {
		if got := Command(env, *req); got != want {
			t.Errorf("Command(%v) = %q, want %q", *req, got, want)
		}
	}
}

// fakeTool writes an executable script that records its argv, one per
// line, to a file. It stands in for systemctl/journalctl: no service
// manager runs in this test environment (internal/systemd/sdtest covers
// the real one).
func fakeTool(t *testing.T, exit int) ([]string, string) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "argv")
	script := filepath.Join(dir, "tool")
	body := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> " + shellQuote(log) + "; done\necho called\nexit " + strconv.Itoa(exit) + "\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{script}, log
}

func TestRestartUnitArgv(t *testing.T) {
	tool, log := fakeTool(t, 0)
	env := Env{Systemctl: tool, Units: DefaultUnitPolicy()}
	res, err := Run(context.Background(), env, unit(`web@a\x20b.service`))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(log)
	// First the unit's names (checked for denied aliases), then the restart.
	if string(got) != "show\n--property=Names,LoadState,ActiveState\n--\nweb@a\\x20b.service\nrestart\n--\nweb@a\\x20b.service\n" || res.Output != "called" {
		t.Errorf("argv %q output %q", got, res.Output)
	}
}

// An alias of a denied unit is refused before anything restarts: the
// manager says messagebus.service is also dbus.service.
func TestRestartRefusesAliasOfDeniedUnit(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "argv")
	script := filepath.Join(dir, "systemctl")
	body := "#!/bin/sh\necho \"$@\" >> " + shellQuote(log) + "\n" +
		"[ \"$1\" = show ] && echo 'Names=dbus.service messagebus.service'\nexit 0\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	env := Env{Systemctl: []string{script}, Units: DefaultUnitPolicy()}
	_, err := Run(context.Background(), env, unit("messagebus.service"))
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("restart of an alias of dbus: %v, want ErrDenied", err)
	}
	got, _ := os.ReadFile(log)
	if strings.Contains(string(got), "restart") {
		t.Errorf("systemctl ran %q after the alias was refused", got)
	}
	// Allowed literally, the requested name carries its aliases past the
	// deny list (not past the protected units).
	env.Units.Allow = append(env.Units.Allow, "messagebus.service")
	if _, err := Run(context.Background(), env, unit("messagebus.service")); err != nil {
		t.Errorf("literally allowed: %v", err)
	}
}

func TestRunFailureWrapsErrFailed(t *testing.T) {
	tool, _ := fakeTool(t, 3)
	_, err := Run(context.Background(), Env{Journalctl: tool}, Request{Action: "journal_vacuum", Params: map[string]string{"time": "2weeks"}})
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "called") {
		t.Errorf("err = %v, want ErrFailed with output", err)
	}
}

func TestRestartNetworkPicksActive(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "argv")
	script := filepath.Join(dir, "systemctl")
	// A fake systemctl where only systemd-networkd is active.
	body := "#!/bin/sh\necho \"$*\" >> " + shellQuote(log) + "\ncase \"$*\" in *is-active*NetworkManager*) exit 3;; esac\nexit 0\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Env{Systemctl: []string{script}}, Request{Action: "restart_network"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(log)
	want := "is-active --quiet -- NetworkManager.service\nis-active --quiet -- systemd-networkd.service\nrestart -- systemd-networkd.service\n"
	if string(got) != want || !strings.Contains(res.Output, "systemd-networkd") {
		t.Errorf("calls %q output %q", got, res.Output)
	}
}

func TestDropCaches(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "sys/vm/drop_caches")
	os.MkdirAll(filepath.Dir(file), 0o755)
	os.WriteFile(file, nil, 0o644)
	if _, err := Run(context.Background(), Env{ProcRoot: root}, Request{Action: "drop_caches", Params: map[string]string{"level": "2"}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); string(b) != "2\n" {
		t.Errorf("drop_caches = %q", b)
	}
	// Never created, never through a symlink.
	os.Remove(file)
	if _, err := Run(context.Background(), Env{ProcRoot: root}, Request{Action: "drop_caches", Params: map[string]string{"level": "1"}}); !errors.Is(err, ErrFailed) {
		t.Errorf("missing file: %v", err)
	}
	os.Symlink(filepath.Join(root, "elsewhere"), file)
	os.WriteFile(filepath.Join(root, "elsewhere"), nil, 0o644)
	if _, err := Run(context.Background(), Env{ProcRoot: root}, Request{Action: "drop_caches", Params: map[string]string{"level": "1"}}); err == nil {
		t.Error("followed a symlink")
	}
}

func unit(name string) Request {
	return Request{Action: "restart_unit", Params: map[string]string{"unit": name}}
}

func kill(pid string) Request {
	return Request{Action: "kill_process", Params: map[string]string{"pid": pid, "start_time": "100"}}
}

// Restarting a slice stops every unit in it (lmn-privd, dbus, sshd, the
// display manager included), and starting a target such as reboot.target
// or poweroff.target pulls in systemd-reboot.service: neither is a repair,
// and neither may be reachable by naming the slice or target instead of
// a denied unit, whatever the configured lists say. Nor may systemd's own
// units that do not start with "systemd-".
func TestUnitPolicyRefusesSlicesAndTargets(t *testing.T) {
	names := []string{"reboot.target", "poweroff.target", "halt.target", "kexec.target",
		"rescue.target", "emergency.target", "system.slice", "user.slice", "user-1000.slice", "machine.slice"}
	for _, name := range names {
		policies := map[string]UnitPolicy{
			"default": DefaultUnitPolicy(),
			"empty":   {},
			"literal": {Allow: []string{"*", name}},
		}
		for pname, p := range policies {
			for _, action := range []string{"restart_unit", "reset_failed_unit"} {
				err := Validate(Env{Units: p}, Request{Action: action, Params: map[string]string{"unit": name}})
				if !errors.Is(err, ErrDenied) {
					t.Errorf("%s %s under the %s policy: %v, want ErrDenied", action, name, pname, err)
				}
			}
		}
	}
	// systemd's own units without the systemd- prefix: a root shell on
	// tty9 without a password, sulogin on the console, a kernel module
	// loaded by the name in the instance, and the per-user managers.
	for _, name := range []string{"debug-shell.service", "emergency.service", "rescue.service", "modprobe@dccp.service"} {
		for pname, p := range map[string]UnitPolicy{"default": DefaultUnitPolicy(), "literal": {Allow: []string{name}}} {
			if err := p.Check(name); !errors.Is(err, ErrDenied) {
				t.Errorf("%s under the %s policy: %v, want ErrDenied", name, pname, err)
			}
		}
	}
	for _, name := range []string{"user@1000.service", "user-runtime-dir@1000.service"} {
		if err := DefaultUnitPolicy().Check(name); !errors.Is(err, ErrDenied) {
			t.Errorf("%s under the default policy: %v, want ErrDenied", name, err)
		}
	}
	// Ordinary units stay allowed.
	for _, name := range []string{"nginx.service", "web@a.service", "backup.timer", "cups.socket", "cups.path"} {
		if err := DefaultUnitPolicy().Check(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Restarting a mount unmounts what is on it, restarting a scope ends it
// for good (a login session: the user is logged out) and restarting swap
// turns it off: refused by default, allowed where units.types or a
// literal allow entry says so.
func TestUnitPolicyRefusesMountsScopesSwapByDefault(t *testing.T) {
	for _, name := range []string{"home.mount", "session-1.scope", `dev-disk-by\x2duuid-1234.swap`, "data.automount", "dev-sda.device"} {
		for _, action := range []string{"restart_unit", "reset_failed_unit"} {
			err := Validate(DefaultEnv(), Request{Action: action, Params: map[string]string{"unit": name}})
			if !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "units.types") {
				t.Errorf("%s %s by default: %v, want ErrDenied naming units.types", action, name, err)
			}
		}
		literal := DefaultUnitPolicy()
		literal.Allow = append(literal.Allow, name)
		if err := literal.Check(name); err != nil {
			t.Errorf("%s allowed literally: %v", name, err)
		}
		typed := DefaultUnitPolicy()
		typed.Types = append(typed.Types, name[strings.LastIndexByte(name, '.')+1:])
		if err := typed.Check(name); err != nil {
			t.Errorf("%s with its type listed: %v", name, err)
		}
	}
	if err := (UnitPolicy{Types: []string{"service", "sevrice"}}).Validate(); err == nil || !strings.Contains(err.Error(), "sevrice") {
		t.Errorf("unknown type: %v", err)
	}
}
