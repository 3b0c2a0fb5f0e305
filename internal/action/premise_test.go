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

// managerStandIn is a real program standing in for systemctl: `show`
// prints the states in states (unit → ActiveState; absent: not-found),
// any other verb appends "VERB UNIT" to the returned log.
func managerStandIn(t *testing.T, states map[string]string) ([]string, string) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	var cases strings.Builder
	for unit, active := range states {
		cases.WriteString("  " + shellQuote(unit) + ") echo LoadState=loaded; echo ActiveState=" + active + ";;\n")
	}
	body := "#!/bin/sh\nverb=$1; for a; do unit=$a; done\n" +
		"if [ \"$verb\" = show ]; then\n  echo \"Names=$unit\"\n  case \"$unit\" in\n" + cases.String() +
		"  *) echo LoadState=not-found; echo ActiveState=inactive;;\n  esac\n  exit 0\nfi\n" +
		"echo \"$verb $unit\" >> " + shellQuote(log) + "\n"
	script := filepath.Join(dir, "systemctl")
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{script}, log
}

// machine writes a fixture /proc/meminfo and a cgroup v2 tree of system
// services with their memory.current, and returns (procRoot, sysRoot).
func machine(t *testing.T, totalKB, availKB int, services map[string]string) (string, string) {
	t.Helper()
	root := t.TempDir()
	procRoot, sysRoot := filepath.Join(root, "proc"), filepath.Join(root, "sys")
	os.MkdirAll(procRoot, 0o755)
	mi := "MemTotal: " + strconv.Itoa(totalKB) + " kB\nMemFree: 1000 kB\nMemAvailable: " + strconv.Itoa(availKB) + " kB\n"
	os.WriteFile(filepath.Join(procRoot, "meminfo"), []byte(mi), 0o644)
	for unit, bytes := range services {
		dir := filepath.Join(sysRoot, "fs/cgroup/system.slice", unit)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "memory.current"), []byte(bytes+"\n"), 0o644)
	}
	return procRoot, sysRoot
}

// The forgeries: issue records on lmn-heal's input made it ask for
// restarts of healthy, important units. lmn-privd now asks the manager
// itself and restarts only a failed unit, a listed one, or a large one
// while memory is short.
func TestRestartChecksItsPremise(t *testing.T) {
	states := map[string]string{
		"nix-daemon.service": "active", "firewall.service": "active", "docker.service": "active",
		"crashed.service": "failed", "hangs.service": "active", "probed.service": "active",
		"big.service": "active", "small.service": "active", "starting.service": "activating",
	}
	systemctl, log := managerStandIn(t, states)
	// 10 % of memory available; big.service is the largest service.
	procRoot, sysRoot := machine(t, 1000000, 100000, map[string]string{
		"big.service": "700000000", "nix-daemon.service": "1000000", "small.service": "20000",
		"docker.service": "9000000", "firewall.service": "800000", "a.service": "5000000",
	})
	premise := DefaultPremise()
	premise.RestartActive = []string{"hang*.service"}
	premise.ProbeUnits = []string{"probed.service"}
	env := Env{Systemctl: systemctl, ProcRoot: procRoot, SysRoot: sysRoot, Units: DefaultUnitPolicy(), Premise: &premise}
	ctx := context.Background()
	for _, u := range []string{"crashed.service", "hangs.service", "probed.service", "big.service"} {
		if _, err := Run(ctx, env, unit(u)); err != nil {
			t.Errorf("restart %s: %v", u, err)
		}
	}
	refused := []string{"nix-daemon.service", "firewall.service", "small.service", "starting.service", "gone.service"}
	for _, u := range refused {
		if _, err := Run(ctx, env, unit(u)); !errors.Is(err, ErrDenied) {
			t.Errorf("restart %s: %v, want ErrDenied", u, err)
		}
	}
	// With plenty of memory, the largest unit is no longer a memory fix.
	env.ProcRoot, _ = machine(t, 1000000, 600000, nil)
	if _, err := Run(ctx, env, unit("big.service")); !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "60% of memory is available") {
		t.Errorf("restart big.service with 60%% available: %v, want ErrDenied", err)
	}
	calls, _ := os.ReadFile(log)
	if got, want := string(calls), "restart crashed.service\nrestart hangs.service\nrestart probed.service\nrestart big.service\n"; got != want {
		t.Errorf("the manager was asked %q, want %q", got, want)
	}
	// Without a premise (lmn-heal acting as the user itself) nothing
	// changes: the user may restart their own units anyway.
	env.Premise = nil
	if _, err := Run(ctx, env, unit("nix-daemon.service")); err != nil {
		t.Errorf("without a premise: %v", err)
	}
	// reset_failed_unit only clears state: no premise.
	env.Premise = &premise
	if _, err := Run(ctx, env, Request{Action: "reset_failed_unit", Params: map[string]string{"unit": "nix-daemon.service"}}); err != nil {
		t.Errorf("reset_failed_unit: %v", err)
	}
	t.Logf("4 restarts with a premise run, %d forged ones refused", len(refused)+1)
}

func TestParseShow(t *testing.T) {
	p := parseShow("Names=a.service b.service\nLoadState=loaded\r\nActiveState=failed\nnoise\n=x\nEmpty=\n")
	if p["Names"] != "a.service b.service" || p["LoadState"] != "loaded" || p["ActiveState"] != "failed" || p["Empty"] != "" || len(p) != 4 {
		t.Errorf("parseShow = %v", p)
	}
}

func FuzzParseShow(f *testing.F) {
	f.Add("Names=a.service\nLoadState=loaded\nActiveState=active\n")
	f.Add("=\n\n==\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		for k, v := range parseShow(s) {
			if k == "" || strings.ContainsAny(k, "=\n") || strings.ContainsAny(v, "\n") {
				t.Fatalf("key %q value %q from %q", k, v, s)
			}
		}
	})
}

// A unit's own cgroup is a premise lmn-privd reads itself: near its own
// limit, or stalling on memory inside it, a unit may be restarted though
// the machine has memory to spare; a forged unit_memory_near_limit issue
// about a calm unit is refused, saying what its cgroup shows.
func TestRestartOnItsOwnCgroup(t *testing.T) {
	systemctl, log := managerStandIn(t, map[string]string{"leaky.service": "active", "thrash.service": "active", "calm.service": "active"})
	procRoot, sysRoot := machine(t, 1000000, 800000, map[string]string{
		"leaky.service": "95000000", "thrash.service": "10000000", "calm.service": "50000000"})
	files := map[string]string{
		"leaky.service/memory.max":       "100000000",
		"calm.service/memory.max":        "100000000",
		"thrash.service/memory.pressure": "some avg10=31.50 avg60=20.00 avg300=5.00 total=9\nfull avg10=20.00 avg60=10.00 avg300=2.00 total=5\n",
		"calm.service/memory.pressure":   "some avg10=1.00 avg60=0.50 avg300=0.10 total=1\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
	}
	for rel, v := range files {
		if err := os.WriteFile(filepath.Join(sysRoot, "fs/cgroup/system.slice", rel), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(sysRoot, "fs/cgroup/cgroup.controllers"), []byte("memory\n"), 0o644)
	premise := DefaultPremise()
	env := Env{Systemctl: systemctl, ProcRoot: procRoot, SysRoot: sysRoot, Units: DefaultUnitPolicy(), Premise: &premise}
	ctx := context.Background()
	for _, u := range []string{"leaky.service", "thrash.service"} {
		if _, err := Run(ctx, env, unit(u)); err != nil {
			t.Errorf("restart %s: %v", u, err)
		}
	}
	_, err := Run(ctx, env, unit("calm.service"))
	if !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "its own cgroup uses 50% of its memory limit and stalls on memory 1% of the time") {
		t.Errorf("restart calm.service: %v, want ErrDenied naming its cgroup", err)
	}
	premise.Memory.UnitLimitRatio, premise.Memory.UnitPressure = 0, 0
	if _, err := Run(ctx, env, unit("leaky.service")); !errors.Is(err, ErrDenied) {
		t.Errorf("with the unit premise off: %v, want ErrDenied", err)
	}
	calls, _ := os.ReadFile(log)
	if got, want := string(calls), "restart leaky.service\nrestart thrash.service\n"; got != want {
		t.Errorf("the manager was asked %q, want %q", got, want)
	}
}
