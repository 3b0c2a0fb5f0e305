package dbus

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// signalMsg hand-encodes a signal with the header fields path, interface,
// member and signature.
func signalMsg(order binary.ByteOrder, serial uint32, path, iface, member, sig string, body []byte) []byte {
	e := byte('l')
	if order == binary.BigEndian {
		e = 'B'
	}
	w := &wb{order: order}
	w.raw(e, typeSignal, 0, 1).u32(uint32(len(body))).u32(serial).u32(0)
	w.raw(fieldPath).sig("o").str(path)
	w.pad(8).raw(fieldInterface).sig("s").str(iface)
	w.pad(8).raw(fieldMember).sig("s").str(member)
	w.pad(8).raw(fieldSignature).sig("g").sig(sig)
	w.order.PutUint32(w.b[12:], uint32(len(w.b)-fixedHeader))
	w.pad(8)
	return append(w.b, body...)
}

// jobRemoved is the body of Manager.JobRemoved (uoss).
func jobRemoved(order binary.ByteOrder, id uint32, unit, result string) []byte {
	w := &wb{order: order}
	return w.u32(id).str(fmt.Sprintf("/org/freedesktop/systemd1/job/%d", id)).str(unit).str(result).b
}

// jobNew is the body of Manager.JobNew (uos).
func jobNew(order binary.ByteOrder, id uint32, unit string) []byte {
	w := &wb{order: order}
	return w.u32(id).str(fmt.Sprintf("/org/freedesktop/systemd1/job/%d", id)).str(unit).b
}

// propertiesChanged is the body of PropertiesChanged (sa{sv}as) as systemd
// sends it for a unit: string properties, a few of other types (the Job
// property's id is props["Job"], 0 without), and invalidated names.
func propertiesChanged(order binary.ByteOrder, iface string, props map[string]string, invalidated ...string) []byte {
	w := &wb{order: order}
	w.str(iface)
	w.u32(0)
	lenAt := len(w.b) - 4
	w.pad(8)
	start := len(w.b)
	entry := func(key, sig string, value func()) {
		w.pad(8).str(key).sig(sig)
		value()
	}
	entry("ActiveEnterTimestamp", "t", func() { w.pad(8).raw(1, 2, 3, 4, 5, 6, 7, 8) })
	for _, k := range []string{"ActiveState", "SubState", "Description"} {
		if v, ok := props[k]; ok {
			entry(k, "s", func() { w.str(v) })
		}
	}
	entry("Conditions", "a(sbbsi)", func() { w.u32(0).pad(8) })
	entry("CanStart", "b", func() { w.u32(1) })
	entry("Job", "(uo)", func() {
		var id uint32
		fmt.Sscan(props["Job"], &id)
		path := "/"
		if id != 0 {
			path = fmt.Sprintf("/org/freedesktop/systemd1/job/%d", id)
		}
		w.pad(8).u32(id).str(path)
	})
	w.order.PutUint32(w.b[lenAt:], uint32(len(w.b)-start))
	w.u32(0)
	alen := len(w.b) - 4
	for _, s := range invalidated {
		w.str(s)
	}
	w.order.PutUint32(w.b[alen:], uint32(len(w.b)-alen-4))
	return w.b
}

const crashPath = "/org/freedesktop/systemd1/unit/lmn_2dcrash_40x_2eservice"

func TestDecodeSignals(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		cases := []struct {
			name string
			msg  []byte
			want Signal
			ok   bool
		}{
			{"job removed", signalMsg(order, 3, "/org/freedesktop/systemd1", managerIface, "JobRemoved", "uoss",
				jobRemoved(order, 41, "lmn-crash@x.service", "failed")),
				Signal{Kind: JobRemoved, Unit: "lmn-crash@x.service", Job: 41, Result: "failed"}, true},
			{"job new", signalMsg(order, 3, "/org/freedesktop/systemd1", managerIface, "JobNew", "uos",
				jobNew(order, 42, "lmn-crash@x.service")),
				Signal{Kind: JobNew, Unit: "lmn-crash@x.service", Job: 42}, true},
			{"stopping by a job", signalMsg(order, 4, crashPath, propsIface, "PropertiesChanged", "sa{sv}as",
				propertiesChanged(order, unitIface, map[string]string{"ActiveState": "deactivating", "SubState": "stop-sigterm", "Job": "42"})),
				Signal{Kind: UnitChanged, Unit: "lmn-crash@x.service", Job: 42, ActiveState: "deactivating", SubState: "stop-sigterm"}, true},
			{"job new, wrong signature", signalMsg(order, 3, "/org/freedesktop/systemd1", managerIface, "JobNew", "uoss",
				jobRemoved(order, 42, "lmn-crash@x.service", "done")), Signal{}, false},
			{"unit failed", signalMsg(order, 4, crashPath, propsIface, "PropertiesChanged", "sa{sv}as",
				propertiesChanged(order, unitIface, map[string]string{"ActiveState": "failed", "SubState": "failed", "Description": "ü"}, "Names")),
				Signal{Kind: UnitChanged, Unit: "lmn-crash@x.service", ActiveState: "failed", SubState: "failed"}, true},
			{"no states", signalMsg(order, 5, crashPath, propsIface, "PropertiesChanged", "sa{sv}as",
				propertiesChanged(order, unitIface, nil)),
				Signal{Kind: UnitChanged, Unit: "lmn-crash@x.service"}, true},
			{"service interface", signalMsg(order, 6, crashPath, propsIface, "PropertiesChanged", "sa{sv}as",
				propertiesChanged(order, "org.freedesktop.systemd1.Service", map[string]string{"ActiveState": "failed"})),
				Signal{}, false},
			{"not a unit", signalMsg(order, 7, "/org/freedesktop/systemd1/job/3", propsIface, "PropertiesChanged", "sa{sv}as",
				propertiesChanged(order, unitIface, map[string]string{"ActiveState": "failed"})),
				Signal{}, false},
			{"other signal", signalMsg(order, 8, "/org/freedesktop/systemd1", managerIface, "UnitNew", "so",
				(&wb{order: order}).str("a.service").str("/x").b), Signal{}, false},
			{"wrong signature", signalMsg(order, 9, "/org/freedesktop/systemd1", managerIface, "JobRemoved", "us",
				(&wb{order: order}).u32(1).str("a.service").b), Signal{}, false},
			{"trailing bytes", signalMsg(order, 10, "/org/freedesktop/systemd1", managerIface, "JobRemoved", "uoss",
				append(jobRemoved(order, 1, "a.service", "done"), 0, 0, 0, 0)), Signal{}, false},
			{"a reply", reply(order, 11, 1, "uoss", jobRemoved(order, 1, "a.service", "done")), Signal{}, false},
		}
		for _, c := range cases {
			m, err := decodeMessage(c.msg)
			if err != nil {
				t.Fatalf("%v %s: %v", order, c.name, err)
			}
			got, ok := decodeSignal(m)
			if got != c.want || ok != c.ok {
				t.Errorf("%v %s: got %+v, %v; want %+v, %v", order, c.name, got, ok, c.want, c.ok)
			}
		}
	}
}

// escapeLabel is systemd's bus_label_escape, written independently of
// UnitName.
func escapeLabel(s string) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "_%02x", c)
	}
	return b.String()
}

func TestUnitName(t *testing.T) {
	for path, want := range map[string]string{
		"/org/freedesktop/systemd1/unit/nginx_2eservice":             "nginx.service",
		"/org/freedesktop/systemd1/unit/getty_40tty1_2eservice":      "getty@tty1.service",
		"/org/freedesktop/systemd1/unit/_2d_2eslice":                 "-.slice",
		"/org/freedesktop/systemd1/unit/dev_2dsda1_2edevice":         "dev-sda1.device",
		"/org/freedesktop/systemd1/unit/a_5cx2d_2emount":             `a\x2d.mount`,
		"/org/freedesktop/systemd1/unit/x_2EService":                 "x.Service",
		"/org/freedesktop/systemd1/unit/_c3_bcber_2eservice":         "über.service",
		"/org/freedesktop/systemd1/unit/x_2eservice/":                "",
		"/org/freedesktop/systemd1/unit/":                            "",
		"/org/freedesktop/systemd1/unit/_":                           "",
		"/org/freedesktop/systemd1/unit/x_2":                         "",
		"/org/freedesktop/systemd1/unit/x_zz":                        "",
		"/org/freedesktop/systemd1/unit/x.service":                   "",
		"/org/freedesktop/systemd1/unit/_ff":                         "",
		"/org/freedesktop/systemd1/job/1":                            "",
		"/org/freedesktop/systemd1/unitx/a":                          "",
		"/org/freedesktop/systemd1/unit/lmn_2dcrash_40x_2eservice_2": "",
	} {
		got, ok := UnitName(path)
		if got != want || ok != (want != "") {
			t.Errorf("UnitName(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
}

// FuzzUnitName: any path decodes or is refused without a panic; a name
// systemd escaped comes back unchanged.
func FuzzUnitName(f *testing.F) {
	for _, s := range []string{"nginx.service", "getty@tty1.service", "-.slice", "über.service", "a b", "_", "x_2e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if name, ok := UnitName(s); ok && (name == "" || !utf8.ValidString(name)) {
			t.Fatalf("UnitName(%q) = %q", s, name)
		}
		if s == "" || !utf8.ValidString(s) {
			return
		}
		if got, ok := UnitName(unitPathSpace + "/" + escapeLabel(s)); !ok || got != s {
			t.Fatalf("round trip of %q: %q, %v", s, got, ok)
		}
	})
}

// FuzzDecodeSignal feeds arbitrary messages to the signal decoder: it must
// never panic, and what it accepts names a unit.
func FuzzDecodeSignal(f *testing.F) {
	le := binary.LittleEndian
	f.Add(signalMsg(le, 3, "/org/freedesktop/systemd1", managerIface, "JobRemoved", "uoss", jobRemoved(le, 41, "a.service", "failed")))
	f.Add(signalMsg(binary.BigEndian, 3, "/org/freedesktop/systemd1", managerIface, "JobRemoved", "uoss",
		jobRemoved(binary.BigEndian, 41, "a.service", "done")))
	f.Add(signalMsg(le, 4, crashPath, propsIface, "PropertiesChanged", "sa{sv}as",
		propertiesChanged(le, unitIface, map[string]string{"ActiveState": "failed", "SubState": "failed"}, "Names")))
	f.Add(signalMsg(le, 4, crashPath, propsIface, "PropertiesChanged", "sa{sv}as", propertiesChanged(le, unitIface, nil)))
	f.Add(signalMsg(le, 5, "/org/freedesktop/systemd1", managerIface, "JobNew", "uos", jobNew(le, 7, "a.service")))
	f.Add(signalMsg(binary.BigEndian, 6, crashPath, propsIface, "PropertiesChanged", "sa{sv}as",
		propertiesChanged(binary.BigEndian, unitIface, map[string]string{"ActiveState": "deactivating", "Job": "7"})))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b)
		if err != nil {
			return
		}
		s, ok := decodeSignal(m)
		if ok && (s.Unit == "" || (s.Kind != JobNew && s.Kind != JobRemoved && s.Kind != UnitChanged)) {
			t.Fatalf("accepted %+v", s)
		}
	})
}
