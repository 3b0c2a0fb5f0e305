package sdtest

import (
	"bufio"
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestParseShow(t *testing.T) {
	got, err := parseShow("ActiveState=failed\nSubState=failed\nNRestarts=3\nExecStart={ path=/bin/sh ; argv[]=/bin/sh -c exit 1 }\n")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ActiveState": "failed", "SubState": "failed", "NRestarts": "3",
		"ExecStart": "{ path=/bin/sh ; argv[]=/bin/sh -c exit 1 }",
	}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, bad := range []string{"ActiveState\n", "=x\n", "A=1\nA=2\n", "Active State=x\n"} {
		if _, err := parseShow(bad); !errors.Is(err, errShow) {
			t.Errorf("parseShow(%q) error = %v, want errShow", bad, err)
		}
	}
}

func FuzzParseShow(f *testing.F) {
	f.Add("ActiveState=active\nSubState=running\nNRestarts=0\nMainPID=42\n")
	f.Add("A=\n\nB==\n")
	f.Add("noequals")
	f.Add("A=1\r\nA=2")
	f.Fuzz(func(t *testing.T, out string) {
		props, err := parseShow(out)
		if err != nil {
			if !errors.Is(err, errShow) || props != nil {
				t.Fatalf("parseShow(%q) = %v, %v", out, props, err)
			}
			return
		}
		for k, v := range props {
			if k == "" || strings.Contains(k, "=") || strings.Contains(v, "\n") {
				t.Fatalf("parseShow(%q): bad pair %q=%q", out, k, v)
			}
			if !strings.Contains(out, k+"="+v) {
				t.Fatalf("parseShow(%q): pair %q=%q not in input", out, k, v)
			}
		}
	})
}

func TestLeafOwner(t *testing.T) {
	for name, want := range map[string]int{
		"lmn-sdtest-4242-1795719196776522513": 4242,
		"lmn-sdtest-0-1":                      0,
		"lmn-sdtest-+5-1":                     0,
		"lmn-sdtest-42":                       0,
		"other-42-1":                          0,
	} {
		got, ok := leafOwner(name)
		if got != want && ok || ok != (want > 0) {
			t.Errorf("leafOwner(%q) = %d, %v; want %d", name, got, ok, want)
		}
	}
}

func FuzzLeafOwner(f *testing.F) {
	f.Add("lmn-sdtest-4242-1")
	f.Add("lmn-sdtest--1")
	f.Add("lmn-sdtest-007-1")
	f.Fuzz(func(t *testing.T, name string) {
		pid, ok := leafOwner(name)
		if !ok {
			return
		}
		if pid <= 0 || !strings.HasPrefix(name, leafPrefix+strconv.Itoa(pid)+"-") {
			t.Fatalf("leafOwner(%q) = %d", name, pid)
		}
	})
}

func TestParseCapEff(t *testing.T) {
	status := "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000001fffeffffff\n"
	got, err := parseCapEff(bufio.NewScanner(strings.NewReader(status)))
	if err != nil || got != 0x1fffeffffff {
		t.Fatalf("parseCapEff = %#x, %v; want 0x1fffeffffff", got, err)
	}
	for _, bad := range []string{"Name:\tx\n", "CapEff:\tzz\n", "CapEff:\n"} {
		if _, err := parseCapEff(bufio.NewScanner(strings.NewReader(bad))); err == nil {
			t.Errorf("parseCapEff(%q) succeeded", bad)
		}
	}
}

func FuzzParseCapEff(f *testing.F) {
	f.Add("CapEff:\t000001fffeffffff\n")
	f.Add("CapPrm:\t0\nCapEff:\t0\n")
	f.Add("CapEff: 10000000000000000")
	f.Fuzz(func(t *testing.T, status string) {
		caps, err := parseCapEff(bufio.NewScanner(strings.NewReader(status)))
		if err == nil && !strings.Contains(status, "CapEff:") {
			t.Fatalf("parseCapEff(%q) = %#x without a CapEff line", status, caps)
		}
	})
}
