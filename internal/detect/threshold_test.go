package detect

import (
	"reflect"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

const diskRule = `{"name":"disk","kind":"threshold","metric":"disks.mounts[].used_ratio",
	"warning":0.85,"critical":0.95,"clear":0.80,"flapping":{"transitions":0,"window":"1h"}}`

func TestThresholdTable(t *testing.T) {
	tests := []struct {
		name   string
		rule   string
		values []float64 // one sample per value, 5 s apart, mount "/"
		want   []string
	}{
		{"fires at warning", diskRule, []float64{0.5, 0.86}, []string{"12:00:05 disk / firing warning"}},
		{"exactly at level fires", diskRule, []float64{0.85}, []string{"12:00:00 disk / firing warning"}},
		{"below level is quiet", diskRule, []float64{0.5, 0.84, 0.849}, nil},
		{"hysteresis: wobble around the fire level does not resolve", diskRule,
			[]float64{0.86, 0.84, 0.86, 0.83, 0.85, 0.81}, []string{"12:00:00 disk / firing warning"}},
		{"resolves below the clear level", diskRule, []float64{0.86, 0.84, 0.79},
			[]string{"12:00:00 disk / firing warning", "12:00:10 disk / resolved warning"}},
		{"severity change is a new record", diskRule, []float64{0.86, 0.96, 0.97},
			[]string{"12:00:00 disk / firing warning", "12:00:05 disk / firing critical"}},
		{"critical holds with hysteresis, then drops to warning", diskRule, []float64{0.96, 0.94, 0.91, 0.89},
			[]string{"12:00:00 disk / firing critical", "12:00:15 disk / firing warning"}},
		{"straight to critical", diskRule, []float64{0.99, 0.1},
			[]string{"12:00:00 disk / firing critical", "12:00:05 disk / resolved critical"}},
		{"for 3 samples", `{"name":"disk","kind":"threshold","metric":"disks.mounts[].used_ratio","warning":0.85,"for":3}`,
			[]float64{0.9, 0.9, 0.5, 0.9, 0.9, 0.9}, []string{"12:00:25 disk / firing warning"}},
		{"for a duration", `{"name":"disk","kind":"threshold","metric":"disks.mounts[].used_ratio","warning":0.85,"for":"10s"}`,
			[]float64{0.9, 0.9, 0.9, 0.9}, []string{"12:00:10 disk / firing warning"}},
		{"below direction", `{"name":"low","kind":"threshold","metric":"disks.mounts[].used_ratio","direction":"below","warning":0.2,"clear":0.3}`,
			[]float64{0.5, 0.2, 0.25, 0.31}, []string{"12:00:05 low / firing warning", "12:00:15 low / resolved warning"}},
		{"critical-only rule", `{"name":"c","kind":"threshold","metric":"disks.mounts[].used_ratio","critical":0.9}`,
			[]float64{0.95, 0.5}, []string{"12:00:00 c / firing critical", "12:00:05 c / resolved critical"}},
		{"match excludes", `{"name":"d","kind":"threshold","metric":"disks.mounts[].used_ratio","warning":0.5,"match":["/home*"]}`,
			[]float64{0.9}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine(rulesOf(t, tt.rule))
			var got []string
			for i, v := range tt.values {
				got = append(got, feed(e, withMount(at(time.Duration(i)*5*time.Second), "/", v))...)
			}
			equalTrace(t, got, tt.want)
		})
	}
}

func TestThresholdIssueFields(t *testing.T) {
	e := NewEngine(rulesOf(t, `{"name":"disk_usage","kind":"threshold","metric":"disks.mounts[].used_ratio",
		"warning":0.90,"clear":0.80,"for":2,"summary":"{subject} is {value} full, threshold {threshold}"}`))
	e.Sample(withMount(at(0), "/", 0.93))
	got := e.Sample(withMount(at(5*time.Second), "/", 0.931))
	if len(got) != 1 {
		t.Fatalf("got %d issues, want 1", len(got))
	}
	is := got[0]
	want := record.Issue{
		Header: record.NewHeader(record.KindIssue, Src, "h", t0.Add(5*time.Second)),
		ID:     ID("disk_usage", map[string]string{"mount": "/"}), Rule: "disk_usage",
		State: record.StateFiring, Severity: record.SeverityWarning, Value: 0.931, Threshold: 0.9,
		Since: record.Time{Time: t0}, Summary: "/ is 93.1% full, threshold 90%",
	}
	is.Subject = nil
	if !reflect.DeepEqual(is, want) {
		t.Errorf("issue:\n got %+v\nwant %+v", is, want)
	}
	if len(got[0].Subject) != 1 || got[0].Subject["mount"] != "/" {
		t.Errorf("subject = %v, want mount /", got[0].Subject)
	}
}

func TestThresholdSubjectsAreIndependent(t *testing.T) {
	e := NewEngine(rulesOf(t, diskRule))
	s1 := withMount(withMount(at(0), "/", 0.9), "/home", 0.1)
	s2 := withMount(withMount(at(5*time.Second), "/", 0.9), "/home", 0.99)
	s3 := withMount(at(10*time.Second), "/", 0.9) // /home is gone
	equalTrace(t, feed(e, s1, s2, s3), []string{
		"12:00:00 disk / firing warning",
		"12:00:05 disk /home firing critical",
		"12:00:10 disk /home resolved critical",
	})
}

func TestThresholdAndEscalate(t *testing.T) {
	e := NewEngine(Defaults())
	mem := func(d time.Duration, avail, some60, full10 float64) *record.Sample {
		s := at(d)
		s.Mem = &record.Mem{AvailableRatio: avail}
		s.PSI = &record.PSI{Memory: &record.Pressure{
			Some: &record.PressureLine{Avg60Ratio: some60},
			Full: &record.PressureLine{Avg10Ratio: full10},
		}}
		return s
	}
	var got []string
	for _, s := range []*record.Sample{
		mem(0, 0.05, 0.01, 0),                 // low memory, no pressure: nothing
		mem(10*time.Second, 0.08, 0.3, 0),     // both: pending (for 30s)
		mem(40*time.Second, 0.08, 0.3, 0),     // held 30s: warning
		mem(50*time.Second, 0.08, 0.3, 0.25),  // full pressure escalates
		mem(60*time.Second, 0.08, 0.06, 0.15), // pressure eases but above clear levels
		mem(70*time.Second, 0.12, 0.06, 0.05), // full below its clear, memory above critical's clear: warning
		mem(80*time.Second, 0.12, 0.04, 0),    // some below its clear: resolved
	} {
		for _, l := range trace(e.Sample(s)) {
			if l[9:21] == "mem_pressure" {
				got = append(got, l)
			}
		}
	}
	equalTrace(t, got, []string{
		"12:00:40 mem_pressure  firing warning",
		"12:00:50 mem_pressure  firing critical",
		"12:01:10 mem_pressure  firing warning",
		"12:01:20 mem_pressure  resolved warning",
	})
}

func TestTemperatureLevelsFromSensor(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	e := NewEngine(Defaults())
	temp := func(d time.Duration, c float64) *record.Sample {
		s := at(d)
		s.Temps = &record.Temps{Sensors: []record.Sensor{
			{Sensor: "own", Celsius: c, HighCelsius: f(70), CritCelsius: f(90)},
			{Sensor: "plain", Celsius: c},
			{Sensor: "highonly", Celsius: c, HighCelsius: f(100)},
		}}
		return s
	}
	var got []string
	for i, c := range []float64{72, 72, 72, 86, 86, 86, 96, 96, 96, 64} {
		got = append(got, feed(e, temp(time.Duration(i)*5*time.Second, c))...)
	}
	equalTrace(t, got, []string{
		// own: its high (70) and crit (90); plain: 85 and 95; highonly:
		// its high (100) lies past the fallback critical level, so it
		// would only warn, at 100.
		"12:00:10 temperature own firing warning",
		"12:00:25 temperature plain firing warning",
		"12:00:30 temperature own firing critical",
		"12:00:30 temperature plain firing critical",
		"12:00:45 temperature own resolved critical",
		"12:00:45 temperature plain resolved critical",
	})
}

func TestLevelsWithSensorFallback(t *testing.T) {
	r := rulesOf(t, `{"name":"t","kind":"threshold","metric":"temps.sensors[].celsius","warning":85,"critical":95,"clear":80,
		"warning_from":"temps.sensors[].high_celsius","critical_from":"temps.sensors[].crit_celsius"}`).compiled[0]
	hi := 70.0
	s := at(0)
	s.Temps = &record.Temps{Sensors: []record.Sensor{{Sensor: "a", HighCelsius: &hi}, {Sensor: "b"}}}
	if l := r.levels(s, 0); l.fire != 70 || l.clear != 65 || l.crit != 95 || !l.hasCrit {
		t.Errorf("own high level: got %+v, want fire 70 clear 65 crit 95", l)
	}
	if l := r.levels(s, 1); l.fire != 85 || l.clear != 80 || l.crit != 95 {
		t.Errorf("fallback: got %+v, want fire 85 clear 80 crit 95", l)
	}
}

func TestNoDefaultRoute(t *testing.T) {
	e := NewEngine(Defaults())
	route := func(i int, up bool) *record.Sample {
		s := at(time.Duration(i) * 5 * time.Second)
		s.Net = &record.Net{DefaultRoute: up}
		return s
	}
	var got []string
	for i, up := range []bool{true, false, false, false, true} {
		got = append(got, feed(e, route(i, up))...)
	}
	equalTrace(t, got, []string{
		"12:00:15 no_default_route  firing critical",
		"12:00:20 no_default_route  resolved critical",
	})
}

// TestInterfaceDownOnCarrier: interface_down judges the carrier, not
// IFF_UP. eth0 stays administratively up while its cable is pulled: the
// issue fires on the lost carrier and resolves when it is back; wlan0 is
// set down (no carrier either) and fires too. A sample from before the
// carrier field (none on lo0 here) fires nothing.
func TestInterfaceDownOnCarrier(t *testing.T) {
	r, err := ParseRules("rules.json", []byte(`{"extend": true, "rules": [
	  {"name": "interface_down", "enabled": true, "match": ["eth0", "wlan0", "old0"], "for": 2}]}`))
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(r)
	yes, no := true, false
	link := func(i int, eth0 *bool, wlanUp bool) *record.Sample {
		s := at(time.Duration(i) * 5 * time.Second)
		wlan := &yes
		if !wlanUp {
			wlan = &no
		}
		s.Net = &record.Net{DefaultRoute: true, Interfaces: []record.Interface{
			{Name: "eth0", Up: true, OperState: "up", Carrier: eth0},
			{Name: "wlan0", Up: wlanUp, OperState: "up", Carrier: wlan},
			{Name: "old0", Up: false, OperState: "down"},
		}}
		return s
	}
	var got []string
	for i, st := range []struct {
		eth0   *bool
		wlanUp bool
	}{{&yes, true}, {&no, true}, {&no, true}, {&yes, false}, {&yes, false}} {
		got = append(got, feed(e, link(i, st.eth0, st.wlanUp))...)
	}
	equalTrace(t, got, []string{
		"12:00:10 interface_down eth0 firing critical",
		"12:00:15 interface_down eth0 resolved critical",
		"12:00:20 interface_down wlan0 firing critical",
	})
}
