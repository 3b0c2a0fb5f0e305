package sysfs

import (
	"path/filepath"
	"slices"
	"testing"
)

// sandboxTree is this machine's shape with a sandboxed user manager (as
// internal/systemd/sdtest makes) in /lmn-sdtest-1-2 of the unified tree:
// its redis joined a v1 memory cgroup made for it (lmn-e2e/redis, a
// 64 MiB limit); its worker is in the memory hierarchy's root; its web's
// memory cgroup also holds a process of another unit.
func sandboxTree(t *testing.T) (*FS, string) {
	const mgr = "fs/cgroup/unified/lmn-sdtest-1-2/app.slice/"
	fs, root := cgroupTree(t, map[string]string{
		"fs/cgroup/memory/memory.usage_in_bytes":               "1\n",
		"fs/cgroup/memory/lmn-e2e/redis/memory.usage_in_bytes": "1048576\n",
		"fs/cgroup/memory/lmn-e2e/redis/memory.limit_in_bytes": "67108864\n",
		"fs/cgroup/memory/lmn-e2e/redis/memory.oom_control":    "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
		"fs/cgroup/memory/lmn-e2e/redis/cgroup.procs":          "4242\n",
		"fs/cgroup/memory/shared/memory.usage_in_bytes":        "9\n",
		"fs/cgroup/memory/shared/cgroup.procs":                 "4300\n4301\n",
		"fs/cgroup/unified/cgroup.controllers":                 "\n",
		mgr + "redis.service/cgroup.procs":                     "4242\n",
		mgr + "redis.service/memory.pressure":                  "some avg10=1.50 avg60=0.50 avg300=0.10 total=100\nfull avg10=1.00 avg60=0.25 avg300=0.05 total=50\n",
		mgr + "worker.service/cgroup.procs":                    "4250\n",
		mgr + "web.service/cgroup.procs":                       "4300\n",
		"proc/4242/cgroup":                                     "4:memory:/lmn-e2e/redis\n9:name=systemd:/lmn-sdtest-1-2/app.slice/redis.service\n0::/lmn-sdtest-1-2/app.slice/redis.service\n",
		"proc/4250/cgroup":                                     "4:memory:/\n0::/lmn-sdtest-1-2/app.slice/worker.service\n",
		"proc/4300/cgroup":                                     "4:memory:/shared\n0::/lmn-sdtest-1-2/app.slice/web.service\n",
	})
	return fs.WithProc(filepath.Join(root, "proc")), root
}

// A manager named by WithManagers has its services found in its scope; a
// unit without a v1 memory cgroup of its own is found there through its
// processes, unless that cgroup is the root or holds others' processes.
func TestManagerAndV1ByProcesses(t *testing.T) {
	fs, root := sandboxTree(t)
	fs.WithManagers([]Manager{{Scope: "user", Cgroup: "/lmn-sdtest-1-2"}})
	got := watch(t, fs, user("redis.service"), user("worker.service"), user("web.service"), sys("redis.service"))
	redis := pressure(0.015, 0.01, 100, 50)
	redis.Some.Avg60, redis.Some.Avg300, redis.Full.Avg60, redis.Full.Avg300 = 0.005, 0.001, 0.0025, 0.0005
	want := []UnitResources{
		{UnitID: user("redis.service"), CurrentBytes: 1 << 20, HasCurrent: true, MaxBytes: 64 << 20, HasMax: true,
			HasOOMKills: true, Pressure: redis, HasPressure: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("UnitResources =\n%+v\nwant\n%+v", got, want)
	}
	cgs := fs.WatchedCgroups(nil)
	if len(cgs) != 3 || cgs[0].Memory != filepath.Join(root, "fs/cgroup/memory/lmn-e2e/redis") || !cgs[0].V1 ||
		cgs[1].Memory != "" || cgs[2].Memory != "" ||
		cgs[1].Unified != filepath.Join(root, "fs/cgroup/unified/lmn-sdtest-1-2/app.slice/worker.service") {
		t.Errorf("WatchedCgroups = %+v", cgs)
	}
	// Without the manager its units are nowhere; without a procfs the v1
	// cgroup is not looked for.
	plain, _ := sandboxTree(t)
	if got := watch(t, plain, user("redis.service")); len(got) != 0 {
		t.Errorf("without WithManagers: %+v", got)
	}
	noProc, _ := sandboxTree(t)
	noProc.WithProc("").WithManagers([]Manager{{Scope: "system", Cgroup: "lmn-sdtest-1-2/"}})
	if got := watch(t, noProc, sys("redis.service")); len(got) != 1 || got[0].HasCurrent || !got[0].HasPressure {
		t.Errorf("without a procfs: %+v, want pressure only", got)
	}
}
