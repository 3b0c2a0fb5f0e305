package proc

import (
	"slices"
	"testing"
)

func TestParseProcessCgroups(t *testing.T) {
	// This machine's shape: hybrid, the memory controller's cgroup apart
	// from the one systemd keeps units in.
	in := "9:name=systemd:/system.slice/redis.service\n8:pids:/\n4:memory:/process_api/b9e7\n2:cpu,cpuacct:/\n0::/system.slice/redis.service\n"
	cgs, err := ParseProcessCgroups(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(cgs) != 5 || !slices.Equal(cgs[3].Controllers, []string{"cpu", "cpuacct"}) || cgs[4].Controllers != nil {
		t.Errorf("lines %+v", cgs)
	}
	for controller, want := range map[string]string{
		"memory": "/process_api/b9e7", "name=systemd": "/system.slice/redis.service", "": "/system.slice/redis.service", "cpuacct": "/",
	} {
		if got, ok := CgroupOf(cgs, controller); !ok || got != want {
			t.Errorf("CgroupOf(%q) = %q, %v; want %q", controller, got, ok, want)
		}
	}
	if _, ok := CgroupOf(cgs, "io"); ok {
		t.Error("found an io hierarchy")
	}
	if v2, _ := ParseProcessCgroups("0::/init.scope\n"); len(v2) != 1 {
		t.Errorf("v2: %+v", v2)
	} else if _, ok := CgroupOf(v2, "memory"); ok {
		t.Error("a v2 host has no memory hierarchy of its own")
	}
	for _, bad := range []string{"", "garbage", "0:/x", "1:cpu:relative", ":memory:/x\n"} {
		if _, err := ParseProcessCgroups(bad); err == nil {
			t.Errorf("ParseProcessCgroups(%q) accepted", bad)
		}
	}
}
