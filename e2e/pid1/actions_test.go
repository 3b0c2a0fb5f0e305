package pid1

import (
	"context"
	"strings"
	"testing"
	"time"
)

// fixtureUnits are the container's units the actions act on.
var fixtureUnits = map[string]string{
	// Fails its first start, succeeds after: restart_unit has a failed unit to heal.
	"lmn-pid1-app.service": "[Service]\nType=oneshot\nRemainAfterExit=yes\n" +
		"ExecStart=/bin/sh -c 'test -e /run/app-ran || { touch /run/app-ran; exit 1; }'\n",
	"lmn-pid1-broken.service": "[Service]\nType=oneshot\nExecStart=/bin/false\n",
	// Another user's process for kill_process (CAP_KILL).
	"lmn-pid1-victim.service": "[Service]\nUser=nobody\nExecStart=/bin/sleep infinity\n",
}

// fakeProfile is a system profile of eight generations, the first three a
// month old, and stand-ins for nix-env and nix-store where lmn-privd finds
// them (beside env.nix_gc, which the module sets to Nix's bin and the
// container maps to /usr/bin): there is no Nix in the container. The
// stand-ins record their arguments (in the unit's logs directory, which
// it may write) and delete nothing; nix_gc's own
// judgement (which generations to keep) is what runs under the unit, as
// does its write to /nix/var/nix/profiles, the path the unit opens for it.
const fakeProfile = `
p=/nix/var/nix/profiles
mkdir -p $p /nix/store
for n in 1 2 3 4 5 6 7 8; do
	mkdir -p /nix/store/lmn-pid1-system-$n
	ln -sfn /nix/store/lmn-pid1-system-$n $p/system-$n-link
done
for n in 1 2 3; do touch -h -d '30 days ago' $p/system-$n-link; done
ln -sfn system-8-link $p/system
ln -sfn /nix/store/lmn-pid1-system-8 /run/current-system
ln -sfn /nix/store/lmn-pid1-system-8 /run/booted-system
for tool in nix-env nix-store; do
	printf '#!/bin/sh\necho "%s $*" >>/var/log/luminous-privd/lmn-pid1-nix-calls\n' $tool >/usr/bin/$tool
	chmod 0755 /usr/bin/$tool
done
`

// fakeCpufreq puts a cpufreq tree where the real one is: this machine has
// none, and a test may not change the host's governor. It is mounted in the
// container before lmn-privd starts, so the unit's ProtectKernelTunables=
// and ReadWritePaths= apply to it as to the real one (the unit keeps the
// container's sysfs mounts; set_cpu_governor checks it sees this tree
// before asking).
const fakeCpufreq = `
cpu=/sys/devices/system/cpu
mkdir -p /run/lmn-pid1/cpu
for f in online possible present; do cp "$cpu/$f" /run/lmn-pid1/cpu/ 2>/dev/null || true; done
mount -t tmpfs -o mode=0755 lmn-pid1-cpu "$cpu"
cp /run/lmn-pid1/cpu/* "$cpu/" 2>/dev/null || true
mkdir -p "$cpu/cpufreq/policy0"
echo performance >"$cpu/cpufreq/policy0/scaling_governor"
echo 'performance powersave' >"$cpu/cpufreq/policy0/scaling_available_governors"
`

// governorFile is policy0's scaling_governor.
const governorFile = "/sys/devices/system/cpu/cpufreq/policy0/scaling_governor"

// Every rate-limited action of the catalogue but drop_caches, once, under
// the module's hardened unit, checked by its effect.
func TestEachActionUnderTheHardenedUnit(t *testing.T) {
	m := boot(t)
	for name, text := range fixtureUnits {
		m.writeFile(t, "/etc/systemd/system/"+name, []byte(text), 0o644)
	}
	m.sh(t, fakeCpufreq)
	m.sh(t, fakeProfile)
	m.sh(t, "systemctl daemon-reload && systemctl start lmn-pid1-victim.service systemd-networkd.service systemd-resolved.service")
	m.exec(context.Background(), nil, "systemctl", "start", "lmn-pid1-app.service", "lmn-pid1-broken.service") // both fail
	install(t, m, nil)

	t.Run("restart_unit", func(t *testing.T) {
		ok(t, request(t, m, "restart_unit", "unit=lmn-pid1-app.service"), "restart_unit")
		if s := m.show(t, "lmn-pid1-app.service", "ActiveState"); s != "active" {
			t.Errorf("lmn-pid1-app.service is %s after restart_unit", s)
		}
	})
	t.Run("reset_failed_unit", func(t *testing.T) {
		ok(t, request(t, m, "reset_failed_unit", "unit=lmn-pid1-broken.service"), "reset_failed_unit")
		if s := m.show(t, "lmn-pid1-broken.service", "ActiveState"); s != "inactive" {
			t.Errorf("lmn-pid1-broken.service is %s after reset_failed_unit", s)
		}
	})
	t.Run("kill_process", func(t *testing.T) {
		pid, start := pidAndStart(t, m, "lmn-pid1-victim.service")
		ok(t, request(t, m, "kill_process", "pid="+pid, "start_time="+start, "grace=2s"), "kill_process")
		waitFor(t, 10*time.Second, "the victim gone", func() bool {
			return m.show(t, "lmn-pid1-victim.service", "MainPID") != pid
		})
	})
	// Not run: the unit mounts a procfs of its own, so no stand-in file can
	// be put where drop_caches writes, and a test may not drop the host's
	// caches. What the action needs is checked instead: in the daemon's
	// mount namespace drop_caches is writable and the rest of /proc/sys is
	// not (access(2) says EROFS for a read-only mount).
	t.Run("drop_caches", func(t *testing.T) {
		in := "nsenter --target " + m.show(t, "luminous-privd.service", "MainPID") + " --mount -- "
		m.sh(t, in+"test -w /proc/sys/vm/drop_caches")
		if _, err := m.exec(context.Background(), nil, "/bin/sh", "-c", in+"test -w /proc/sys/vm/swappiness"); err == nil {
			t.Error("/proc/sys/vm/swappiness is writable in lmn-privd's namespace")
		}
		t.Skip("drop_caches itself not run: it would drop the host's caches (its write path is checked above; a refused one in TestWritesOutsideTheUnitsPathsFail)")
	})
	t.Run("set_cpu_governor", func(t *testing.T) {
		// Only ever the stand-in: the daemon must see the tree mounted above.
		in := "nsenter --target " + m.show(t, "luminous-privd.service", "MainPID") + " --mount -- "
		if fs := m.sh(t, in+"stat -f -c %T "+governorFile); strings.TrimSpace(fs) != "tmpfs" {
			t.Fatalf("lmn-privd sees %s on %s, not the stand-in: not asking", governorFile, fs)
		}
		a := request(t, m, "set_cpu_governor", "governor=powersave")
		ok(t, a, "set_cpu_governor")
		if got := m.sh(t, "cat "+governorFile); strings.TrimSpace(got) != "powersave" {
			t.Errorf("scaling_governor is %q, want powersave", got)
		}
		if a.Result.Restore["policy0"] != "performance" {
			t.Errorf("restore = %v, want policy0: performance", a.Result.Restore)
		}
	})
	t.Run("journal_vacuum", func(t *testing.T) {
		ok(t, request(t, m, "journal_vacuum", "size=16M"), "journal_vacuum")
	})
	t.Run("flush_dns", func(t *testing.T) {
		a := request(t, m, "flush_dns")
		ok(t, a, "flush_dns")
		if !strings.Contains(a.Result.Output, "resolved") {
			t.Errorf("flush_dns did not go through systemd-resolved: %q", a.Result.Output)
		}
	})
	t.Run("restart_network", func(t *testing.T) {
		before := m.show(t, "systemd-networkd.service", "MainPID")
		ok(t, request(t, m, "restart_network"), "restart_network")
		if after := m.show(t, "systemd-networkd.service", "MainPID"); after == before || after == "0" {
			t.Errorf("systemd-networkd main pid %s -> %s: not restarted", before, after)
		}
	})
	t.Run("nix_gc", func(t *testing.T) {
		ok(t, request(t, m, "nix_gc"), "nix_gc")
		calls := m.sh(t, "cat /var/log/luminous-privd/lmn-pid1-nix-calls")
		// The month-old generations go; the newest five (the current, booted,
		// running and rollback ones among them) stay, as docs/policy.md says.
		if !strings.Contains(calls, "nix-env --profile /nix/var/nix/profiles/system --delete-generations 1 2 3\n") ||
			!strings.Contains(calls, "nix-store --gc") {
			t.Errorf("nix_gc ran:\n%s\nwant the month-old generations 1 2 3 deleted, then a collection", calls)
		}
	})
	// The audit log holds a result line for each, written by the daemon
	// under LogsDirectory=.
	if n := strings.Count(m.sh(t, "cat /var/log/luminous-privd/audit.log"), `"event":"result"`); n < 8 {
		t.Errorf("%d result lines in the audit log, want 8", n)
	}
}

// With its files pointed elsewhere, lmn-privd's writes fail: the unit
// leaves only the files its actions need writable. And in the daemon's own
// mount namespace, the system is read-only except its own directories.
func TestWritesOutsideTheUnitsPathsFail(t *testing.T) {
	m := boot(t)
	m.sh(t, `mkdir -p /var/lib/lmn-pid1/sys/devices/system/cpu/cpufreq/policy0 /var/lib/lmn-pid1/proc/sys/vm
cd /var/lib/lmn-pid1
echo performance >sys/devices/system/cpu/cpufreq/policy0/scaling_governor
echo 'performance powersave' >sys/devices/system/cpu/cpufreq/policy0/scaling_available_governors
echo 0 >proc/sys/vm/drop_caches`)
	install(t, m, func(cfg map[string]any) {
		env := cfg["env"].(map[string]any)
		env["sys_root"] = "/var/lib/lmn-pid1/sys"
		env["proc_root"] = "/var/lib/lmn-pid1/proc"
	})
	for _, tc := range []struct {
		params []string
		file   string
		want   string
	}{
		{[]string{"set_cpu_governor", "governor=powersave"}, "sys/devices/system/cpu/cpufreq/policy0/scaling_governor", "performance"},
		{[]string{"drop_caches", "level=1"}, "proc/sys/vm/drop_caches", "0"},
	} {
		a := request(t, m, tc.params[0], tc.params[1:]...)
		if !strings.Contains(a.Error, "read-only file system") {
			t.Errorf("%v with its file outside ReadWritePaths=: %q, want a read-only file system error", tc.params, a.Error)
		}
		if got := m.sh(t, "cat /var/lib/lmn-pid1/"+tc.file); strings.TrimSpace(got) != tc.want {
			t.Errorf("%s changed to %q", tc.file, got)
		}
	}
	pid := m.show(t, "luminous-privd.service", "MainPID")
	in := "nsenter --target " + pid + " --mount -- "
	for _, path := range []string{"/etc/lmn-pid1-probe", "/usr/lmn-pid1-probe", "/var/lib/lmn-pid1/probe", "/run/lmn-pid1-probe"} {
		if out, err := m.exec(context.Background(), nil, "/bin/sh", "-c", in+"touch "+path); err == nil {
			t.Errorf("lmn-privd's mount namespace lets root create %s", path)
		} else if !strings.Contains(out, "Read-only file system") {
			t.Errorf("creating %s: %s, want a read-only file system", path, out)
		}
	}
	m.sh(t, in+"touch /var/lib/luminous-privd/probe /var/log/luminous-privd/probe /run/luminous-privd/probe")
	if out := m.sh(t, in+"ls -A /home /root | grep -v ':$' | grep . || true"); out != "" {
		t.Errorf("ProtectHome=: /home and /root list %q in the daemon's namespace", out)
	}
}
