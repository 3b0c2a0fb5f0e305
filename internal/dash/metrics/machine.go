package metrics

import (
	"sort"

	"github.com/lmn-heal/lmn/internal/record"
)

func sortStrings(s []string) { sort.Strings(s) }

func disks(e *expo, d *record.Disks) {
	if d == nil {
		return
	}
	type fsMetric struct {
		name, help string
		v          func(record.Mount) float64
	}
	for _, f := range []fsMetric{
		{"lmn_filesystem_size_bytes", "Filesystem size.", func(m record.Mount) float64 { return float64(m.SizeBytes) }},
		{"lmn_filesystem_avail_bytes", "Space available to unprivileged users.", func(m record.Mount) float64 { return float64(m.AvailBytes) }},
		{"lmn_filesystem_used_ratio", "Share of the filesystem in use.", func(m record.Mount) float64 { return m.UsedRatio }},
		{"lmn_filesystem_files", "Inodes.", func(m record.Mount) float64 { return float64(m.Inodes) }},
		{"lmn_filesystem_files_free", "Free inodes.", func(m record.Mount) float64 { return float64(m.InodesFree) }},
		{"lmn_filesystem_files_used_ratio", "Share of inodes in use.", func(m record.Mount) float64 { return m.InodesUsedRatio }},
		{"lmn_filesystem_readonly", "1 if mounted read-only.", func(m record.Mount) float64 { return b2f(m.ReadOnly) }},
	} {
		e.family(f.name, "gauge", f.help)
		for _, m := range d.Mounts {
			e.sample("", f.v(m), "mount", m.Mount, "device", m.Device, "fstype", m.FSType)
		}
	}
	type devMetric struct {
		name, help string
		v          func(record.BlockDevice) float64
	}
	for _, f := range []devMetric{
		{"lmn_disk_read_bytes_per_second", "Bytes read per second over the last interval.", func(d record.BlockDevice) float64 { return d.ReadBytesPerS }},
		{"lmn_disk_written_bytes_per_second", "Bytes written per second over the last interval.", func(d record.BlockDevice) float64 { return d.WriteBytesPerS }},
		{"lmn_disk_reads_per_second", "Reads completed per second over the last interval.", func(d record.BlockDevice) float64 { return d.ReadsPerS }},
		{"lmn_disk_writes_per_second", "Writes completed per second over the last interval.", func(d record.BlockDevice) float64 { return d.WritesPerS }},
		{"lmn_disk_busy_ratio", "Share of the interval the device was busy.", func(d record.BlockDevice) float64 { return d.BusyRatio }},
	} {
		e.family(f.name, "gauge", f.help)
		for _, dev := range d.Devices {
			e.sample("", f.v(dev), "device", dev.Device)
		}
	}
}

func network(e *expo, n *record.Net) {
	if n == nil {
		return
	}
	e.gauge("lmn_network_default_route", "1 if a default route exists.", b2f(n.DefaultRoute))
	e.family("lmn_network_up", "gauge", "1 if the interface is up.")
	for _, in := range n.Interfaces {
		e.sample("", b2f(in.Up), "interface", in.Name, "operstate", in.OperState)
	}
	type ifMetric struct {
		name, help string
		v          func(record.Interface) float64
	}
	for _, f := range []ifMetric{
		{"lmn_network_receive_bytes_per_second", "Bytes received per second over the last interval.", func(i record.Interface) float64 { return i.RxBytesPerS }},
		{"lmn_network_transmit_bytes_per_second", "Bytes sent per second over the last interval.", func(i record.Interface) float64 { return i.TxBytesPerS }},
		{"lmn_network_receive_packets_per_second", "Packets received per second over the last interval.", func(i record.Interface) float64 { return i.RxPacketsPerS }},
		{"lmn_network_transmit_packets_per_second", "Packets sent per second over the last interval.", func(i record.Interface) float64 { return i.TxPacketsPerS }},
		{"lmn_network_receive_errors_per_second", "Receive errors per second over the last interval.", func(i record.Interface) float64 { return i.RxErrorsPerS }},
		{"lmn_network_transmit_errors_per_second", "Transmit errors per second over the last interval.", func(i record.Interface) float64 { return i.TxErrorsPerS }},
		{"lmn_network_receive_drops_per_second", "Received packets dropped per second over the last interval.", func(i record.Interface) float64 { return i.RxDropsPerS }},
		{"lmn_network_transmit_drops_per_second", "Packets to send dropped per second over the last interval.", func(i record.Interface) float64 { return i.TxDropsPerS }},
	} {
		e.family(f.name, "gauge", f.help)
		for _, in := range n.Interfaces {
			e.sample("", f.v(in), "interface", in.Name)
		}
	}
}

func units(e *expo, u *record.Units) {
	if u == nil {
		return
	}
	e.family("lmn_units_failed", "gauge", "Failed systemd units, by scope.")
	e.sample("", float64(len(u.Failed)), "scope", u.Scope)
	e.family("lmn_unit_failed", "gauge", "1 for each failed systemd unit.")
	for _, f := range u.Failed {
		e.sample("", 1, "unit", f.Unit, "scope", u.Scope)
	}
}

func temps(e *expo, t *record.Temps) {
	if t == nil {
		return
	}
	e.family("lmn_temperature_celsius", "gauge", "Sensor temperature.")
	for _, s := range t.Sensors {
		e.sample("", s.Celsius, "sensor", s.Sensor, "label", s.Label)
	}
	e.family("lmn_temperature_high_celsius", "gauge", "Sensor's high limit, where it has one.")
	for _, s := range t.Sensors {
		if s.HighCelsius != nil {
			e.sample("", *s.HighCelsius, "sensor", s.Sensor, "label", s.Label)
		}
	}
	e.family("lmn_temperature_crit_celsius", "gauge", "Sensor's critical limit, where it has one.")
	for _, s := range t.Sensors {
		if s.CritCelsius != nil {
			e.sample("", *s.CritCelsius, "sensor", s.Sensor, "label", s.Label)
		}
	}
}
