package sysfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lmn-heal/lmn/internal/collect/collecttest"
)

func fixture(t *testing.T) *FS {
	fs := NewFS(filepath.Join(collecttest.Root(t), "sys"))
	t.Cleanup(func() { fs.Close() })
	return fs
}

func TestLink(t *testing.T) {
	s := fixture(t)
	for _, tc := range []struct {
		name string
		want Link
	}{
		{"eth0", Link{Up: true, OperState: "up", Carrier: true, CarrierKnown: true}},
		{"ifb0", Link{Up: false, OperState: "down", CarrierKnown: true}}, // down: no carrier, the file not read
		{"wlan0", Link{Up: true, OperState: "dormant", Carrier: true, CarrierKnown: true}},
	} {
		got, err := s.Link(tc.name)
		if err != nil || got != tc.want {
			t.Errorf("Link(%s) = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	if _, err := s.Link("gone0"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Link(gone0): err = %v, want ErrNotExist", err)
	}
	s.ForgetLinks() // all four were read since the last call: all kept
	if len(s.links) != 4 {
		t.Errorf("after first ForgetLinks: %d links kept, want 4", len(s.links))
	}
	s.Link("eth0")
	s.ForgetLinks()
	if _, ok := s.links["eth0"]; !ok || len(s.links) != 1 {
		t.Errorf("after reading only eth0: links = %v", s.links)
	}
}

func TestIsWholeDisk(t *testing.T) {
	s := fixture(t)
	for name, want := range map[string]bool{"vda": true, "sda": true, "sda1": false, "nvme0n1p1": false, "dm-0": true} {
		if got := s.IsWholeDisk(name); got != want {
			t.Errorf("IsWholeDisk(%s) = %v, want %v", name, got, want)
		}
	}
	bare := NewFS(t.TempDir())
	if !bare.IsWholeDisk("sda1") {
		t.Error("without a block directory every device should count as whole")
	}
}

func TestTemps(t *testing.T) {
	s := fixture(t)
	if n := s.ScanTemps(); n != 5 {
		t.Fatalf("ScanTemps found %d sensors, want 5", n)
	}
	got, err := s.Temps(nil)
	if err != nil {
		t.Fatal(err)
	}
	str := func(p *int64) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatInt(*p, 10)
	}
	var lines []string
	for _, tp := range got {
		lines = append(lines, tp.Sensor+"|"+tp.Label+"|"+strconv.FormatInt(tp.MilliC, 10)+"|"+str(tp.HighMilliC)+"|"+str(tp.CritMilliC))
	}
	want := []string{
		"thermal_zone0|x86_pkg_temp|47000|85000|105000",
		"thermal_zone1|acpitz|-5500|-|-",
		"hwmon0/temp1|Package id 0|52000|84000|100000",
		"hwmon0/temp2|Core 0|50000|-|-",
		"hwmon1/temp1|nvme|38850|-|84850",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestTempsSkipsUnreadableSensor(t *testing.T) {
	root := collecttest.CopyRoot(t)
	s := NewFS(filepath.Join(root, "sys"))
	defer s.Close()
	s.ScanTemps()
	zone := filepath.Join(root, "sys", "class", "thermal", "thermal_zone1", "temp")
	if err := os.WriteFile(zone, []byte("not a number\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := s.Temps(nil)
	if err == nil || !strings.Contains(err.Error(), zone) {
		t.Errorf("err = %v, want one naming %s", err, zone)
	}
	if len(got) != 4 {
		t.Errorf("got %d sensors, want the 4 readable ones", len(got))
	}
}

func TestNoSensors(t *testing.T) {
	s := NewFS(t.TempDir())
	if n := s.ScanTemps(); n != 0 {
		t.Errorf("ScanTemps found %d sensors in an empty tree", n)
	}
	if got, err := s.Temps(nil); err != nil || len(got) != 0 {
		t.Errorf("Temps = %v, %v", got, err)
	}
}

// TestRealSys reads this machine's /sys/class/net.
func TestRealSys(t *testing.T) {
	ents, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Skipf("no /sys/class/net here: %v", err)
	}
	s := NewFS("/sys")
	defer s.Close()
	for _, e := range ents {
		l, err := s.Link(e.Name())
		if err != nil {
			t.Errorf("Link(%s): %v", e.Name(), err)
			continue
		}
		if l.OperState == "" {
			t.Errorf("Link(%s): empty operstate", e.Name())
		}
		if !l.CarrierKnown || (!l.Up && l.Carrier) || (l.OperState == "up" && !l.Carrier) {
			t.Errorf("Link(%s) = %+v: carrier unknown, or against its state", e.Name(), l)
		}
	}
	s.ScanTemps()
	if _, err := s.Temps(nil); err != nil {
		t.Logf("some sensors unreadable (allowed): %v", err)
	}
}

func TestParseInt(t *testing.T) {
	for in, want := range map[string]int64{"45000\n": 45000, "-5": -5, "0": 0} {
		if got, err := parseInt([]byte(in)); err != nil || got != want {
			t.Errorf("parseInt(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "-", "1.5", "abc", "1234567890123456789"} {
		if _, err := parseInt([]byte(bad)); err == nil {
			t.Errorf("parseInt(%q) succeeded", bad)
		}
	}
}

func TestParseFlags(t *testing.T) {
	for in, want := range map[string]uint64{"0x1003\n": 0x1003, "0x0": 0, "0XfF": 0xff} {
		if got, err := parseFlags([]byte(in)); err != nil || got != want {
			t.Errorf("parseFlags(%q) = %#x, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "0x", "1003", "0xg", "0x12345678901234567"} {
		if _, err := parseFlags([]byte(bad)); err == nil {
			t.Errorf("parseFlags(%q) succeeded", bad)
		}
	}
}

func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"45000\n", "-5", "", "-", "999999999999999999"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseInt(b)
		if err != nil {
			return
		}
		want, serr := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if serr != nil || got != want {
			t.Errorf("parseInt(%q) = %d; strconv: %d, %v", b, got, want, serr)
		}
	})
}

func FuzzParseFlags(f *testing.F) {
	for _, s := range []string{"0x1003\n", "0x0", "0x", "1003"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseFlags(b)
		if err != nil {
			return
		}
		want, serr := strconv.ParseUint(strings.TrimSpace(string(b))[2:], 16, 64)
		if serr != nil || got != want {
			t.Errorf("parseFlags(%q) = %#x; strconv: %#x, %v", b, got, want, serr)
		}
	})
}

// TestLinkCarrier: an interface that is up with its carrier lost (a
// pulled cable, a veth whose peer went down) says so; one whose carrier
// file is missing or unreadable leaves it unknown. The real kernel's
// EINVAL for a down interface is read in TestRealSys.
func TestLinkCarrier(t *testing.T) {
	root := t.TempDir()
	for name, files := range map[string][3]string{
		"lost0":    {"0x1003\n", "lowerlayerdown\n", "0\n"},
		"nofile0":  {"0x1003\n", "up\n", ""},
		"garbage0": {"0x1003\n", "up\n", "yes\n"},
	} {
		dir := filepath.Join(root, "class", "net", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, f := range []string{"flags", "operstate", "carrier"} {
			if files[i] != "" {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(files[i]), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	s := NewFS(root)
	t.Cleanup(func() { s.Close() })
	for name, want := range map[string]Link{
		"lost0":    {Up: true, OperState: "lowerlayerdown", Carrier: false, CarrierKnown: true},
		"nofile0":  {Up: true, OperState: "up"},
		"garbage0": {Up: true, OperState: "up"},
	} {
		if got, err := s.Link(name); err != nil || got != want {
			t.Errorf("Link(%s) = %+v, %v; want %+v", name, got, err, want)
		}
	}
}
