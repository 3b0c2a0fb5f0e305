package sysfs

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lmn-heal/lmn/internal/proc"
)

// Temp is one temperature reading, in millidegrees Celsius as the kernel
// gives them. High and Crit are nil when the sensor has no such threshold.
type Temp struct {
	Sensor     string // "thermal_zone0" or "hwmon1/temp2"
	Label      string // thermal zone type, hwmon label or hwmon name
	MilliC     int64
	HighMilliC *int64
	CritMilliC *int64
}

type tempFiles struct {
	Temp  // Sensor, Label and thresholds, read at scan time
	input *proc.File
}

// ScanTemps (re)discovers thermal zones (<root>/class/thermal/thermal_zone*)
// and hwmon temperature inputs (<root>/class/hwmon/hwmon*/temp*_input) and
// reads their labels and thresholds. It reports how many it found; a
// machine without either directory has none, which is not an error.
func (fs *FS) ScanTemps() int {
	for _, t := range fs.temps {
		t.input.Close()
	}
	fs.temps = fs.temps[:0]
	zones, _ := filepath.Glob(filepath.Join(fs.root, "class", "thermal", "thermal_zone*"))
	sort.Strings(zones)
	for _, z := range zones {
		t := tempFiles{input: proc.NewAttr(filepath.Join(z, "temp"))}
		t.Sensor = filepath.Base(z)
		if b, err := readSmall(filepath.Join(z, "type")); err == nil {
			t.Label = string(b)
		}
		t.HighMilliC, t.CritMilliC = zoneTrips(z)
		fs.temps = append(fs.temps, t)
	}
	inputs, _ := filepath.Glob(filepath.Join(fs.root, "class", "hwmon", "hwmon*", "temp*_input"))
	sort.Strings(inputs)
	for _, in := range inputs {
		dir := filepath.Dir(in)
		base := strings.TrimSuffix(filepath.Base(in), "_input")
		t := tempFiles{input: proc.NewAttr(in)}
		t.Sensor = filepath.Base(dir) + "/" + base
		if b, err := readSmall(filepath.Join(dir, base+"_label")); err == nil {
			t.Label = string(b)
		} else if b, err := readSmall(filepath.Join(dir, "name")); err == nil {
			t.Label = string(b)
		}
		t.HighMilliC = readMilli(filepath.Join(dir, base+"_max"))
		t.CritMilliC = readMilli(filepath.Join(dir, base+"_crit"))
		fs.temps = append(fs.temps, t)
	}
	return len(fs.temps)
}

// zoneTrips returns a zone's "hot" (or else lowest "passive") and
// "critical" trip points.
func zoneTrips(zone string) (high, crit *int64) {
	types, _ := filepath.Glob(filepath.Join(zone, "trip_point_*_type"))
	var passive *int64
	for _, tp := range types {
		b, err := readSmall(tp)
		if err != nil {
			continue
		}
		v := readMilli(strings.TrimSuffix(tp, "_type") + "_temp")
		if v == nil {
			continue
		}
		switch string(b) {
		case "critical":
			crit = v
		case "hot":
			high = v
		case "passive":
			if passive == nil || *v < *passive {
				passive = v
			}
		}
	}
	if high == nil {
		high = passive
	}
	return high, crit
}

func readMilli(path string) *int64 {
	b, err := readSmall(path)
	if err != nil {
		return nil
	}
	v, err := parseInt(b)
	if err != nil {
		return nil
	}
	return &v
}

// Temps appends the current reading of every sensor ScanTemps found to dst.
// A sensor whose read fails (some drivers return EIO or ENODATA while a
// device sleeps) is left out; the error names the first such sensor.
func (fs *FS) Temps(dst []Temp) ([]Temp, error) {
	var bad error
	for i := range fs.temps {
		t := &fs.temps[i]
		b, err := t.input.Read()
		if err == nil {
			t.MilliC, err = parseInt(bytes.TrimSpace(b))
			if err != nil {
				err = fmt.Errorf("parse %s: %w", t.input.Path(), err)
			}
		}
		if err != nil {
			if bad == nil {
				bad = err
			}
			continue
		}
		dst = append(dst, t.Temp)
	}
	return dst, bad
}
