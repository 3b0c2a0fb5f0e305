package detect

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

func TestFitAndETA(t *testing.T) {
	var pts []point
	for i := range 10 {
		pts = append(pts, point{T: record.Time{Time: t0.Add(time.Duration(i) * time.Minute)}, V: 0.5 + 0.01*float64(i)})
	}
	now := t0.Add(9 * time.Minute)
	at, slope, ok := fit(pts, now)
	if !ok || math.Abs(at-0.59) > 1e-9 || math.Abs(slope-0.01/60) > 1e-12 {
		t.Fatalf("fit = %v, %v, %v; want 0.59, %v, true", at, slope, ok, 0.01/60)
	}
	secs, ok := eta(at, slope, 1, true)
	if !ok || math.Abs(secs-41*60) > 1e-6 {
		t.Errorf("eta = %v, %v; want %v", secs, ok, 41*60)
	}
	if _, ok := eta(at, -slope, 1, true); ok {
		t.Error("eta of a falling line towards an upper limit: want none")
	}
	if secs, ok := eta(1.2, slope, 1, true); !ok || secs != 0 {
		t.Errorf("eta past the limit = %v, %v; want 0, true", secs, ok)
	}
	if _, _, ok := fit(pts[:1], now); ok {
		t.Error("fit of one point: want not ok")
	}
	same := []point{pts[0], pts[0]}
	if _, _, ok := fit(same, now); ok {
		t.Error("fit of points at one time: want not ok")
	}
}

func TestAddPointBoundsTheWindow(t *testing.T) {
	var st subject
	window := time.Hour
	for i := range 4 * 3600 { // four hours at 1 s
		st.addPoint(t0.Add(time.Duration(i)*time.Second), float64(i), window)
	}
	if n := len(st.Points); n > trendResolution*11/10 || n < trendResolution-2 {
		t.Errorf("window holds %d points, want about %d", n, trendResolution)
	}
	span := st.Points[len(st.Points)-1].T.Sub(st.Points[0].T.Time)
	if span > window || span < window-2*window/trendResolution {
		t.Errorf("window spans %v, want about %v", span, window)
	}
}

func TestDiskFillTrend(t *testing.T) {
	e := NewEngine(Defaults())
	// / fills 5% an hour from 70%: full in 6 h, so the default rule
	// (horizon 6h, min history 10m) fires once the estimate is inside 6h
	// and is critical inside 1h.
	var fired, crit, resolved []record.Issue
	used := 0.70
	for i := 0; i < 7*60; i++ { // one sample a minute for 7 hours
		s := withMount(at(time.Duration(i)*time.Minute), "/", math.Min(used, 0.999))
		s.Disks.Mounts[0].HoldsNixStore = false
		used += 0.05 / 60
		if i == 6*60 { // the fill stops; usage drops to 50%
			used = 0.5
		}
		if i > 6*60 {
			used = 0.5
		}
		for _, is := range e.Sample(s) {
			if is.Rule != "disk_fill_trend" {
				continue
			}
			switch {
			case is.State == record.StateResolved:
				resolved = append(resolved, is)
			case is.Severity == record.SeverityCritical:
				crit = append(crit, is)
			default:
				fired = append(fired, is)
			}
		}
	}
	if len(fired) < 1 || len(crit) < 1 || len(resolved) != 1 {
		t.Fatalf("got %d firing, %d critical, %d resolved; want some and one resolve", len(fired), len(crit), len(resolved))
	}
	// Written again whenever the ETA moved by more than etaRefresh.
	all := append(append([]record.Issue{}, fired...), crit...)
	for i := 1; i < len(all); i++ {
		prev, cur := *all[i-1].ETASeconds, *all[i].ETASeconds
		if math.Abs(cur-prev) <= etaRefresh*prev && all[i].Severity == all[i-1].Severity {
			t.Errorf("record %d at %v: eta %v after %v, a move of less than %v", i, all[i].TS.Sub(t0), cur, prev, etaRefresh)
		}
	}
	if n := len(all); n > 25 {
		t.Errorf("%d firing records in 6 hours: refreshed too often", n)
	}
	f := fired[0]
	if f.ETASeconds == nil || *f.ETASeconds > 6*3600 || *f.ETASeconds < 5.7*3600 {
		t.Errorf("firing eta = %v, want just under 6h", ptrVal(f.ETASeconds))
	}
	if got := f.TS.Sub(t0); got < 10*time.Minute || got > 15*time.Minute {
		t.Errorf("fired after %v, want soon after the 10m minimum history", got)
	}
	if !strings.HasPrefix(f.Summary, "/ full in 5h 50m") || f.Threshold != 1 {
		t.Errorf("summary %q threshold %v; want \"/ full in 5h 50m…\" and 1", f.Summary, f.Threshold)
	}
	if c := crit[0]; *c.ETASeconds > 3600 || c.TS.Sub(t0) < 4*time.Hour {
		t.Errorf("critical at %v with eta %v, want after 4h with eta under 1h", c.TS.Sub(t0), *c.ETASeconds)
	}
	if r := resolved[0]; r.TS.Sub(t0) <= 6*time.Hour {
		t.Errorf("resolved at %v, want after the fill stopped at 6h", r.TS.Sub(t0))
	}
}

func TestTrendNeedsMinHistory(t *testing.T) {
	e := NewEngine(rulesOf(t, `{"name":"fill","kind":"trend","metric":"disks.mounts[].used_ratio","limit":1,
		"window":"1h","horizon":"6h","min_history":"10m"}`))
	var got []string
	for i := range 10 { // 9 minutes of a steep fill: not enough history
		got = append(got, feed(e, withMount(at(time.Duration(i)*time.Minute), "/", 0.5+0.01*float64(i)))...)
	}
	if len(got) != 0 {
		t.Errorf("fired before min_history: %v", got)
	}
	got = feed(e, withMount(at(10*time.Minute), "/", 0.6))
	equalTrace(t, got, []string{"12:10:00 fill / firing warning"})
}

func ptrVal(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestFitWindowMatchesFit checks the kept sums against a fit over the whole
// window, bit for bit, as the window fills, slides and is emptied.
func TestFitWindowMatchesFit(t *testing.T) {
	var st subject
	window := 10 * time.Minute
	ts := t0
	for i := range 3 * 3600 {
		ts = ts.Add(time.Second + time.Duration(i%7)*time.Millisecond)
		st.addPoint(ts, 0.3+0.1*math.Sin(float64(i)/50)+1e-4*float64(i%13), window)
		if i == 5000 {
			st.Points, st.sums = nil, fitSums{} // as Engine.gone forgets a window
		}
		at, slope, ok := st.fitWindow(ts)
		wat, wslope, wok := fit(st.Points, ts)
		if at != wat || slope != wslope || ok != wok {
			t.Fatalf("sample %d (%d points): fitWindow = %v, %v, %v; fit = %v, %v, %v",
				i, len(st.Points), at, slope, ok, wat, wslope, wok)
		}
	}
}

// TestTrendSeesASteeperSlope is the 200 MiB image filled in 10 minutes
// after an hour of flat history: the fit over the hour said "full in
// 4h 40m" (true: 9.8 minutes) and, never written again, still said "56m"
// 8 minutes before full. The short window (3m) sees the slope within two
// minutes, and the firing issue's ETA is written again as it moves.
func TestTrendSeesASteeperSlope(t *testing.T) {
	e := NewEngine(Defaults())
	var fired []record.Issue
	used := 0.05
	const fill = 10 * time.Minute
	start := 60 * time.Minute
	for s := time.Duration(0); s < start+fill; s += 5 * time.Second {
		if s > start {
			used = 0.05 + 0.95*float64(s-start)/float64(fill)
		}
		m := withMount(at(s), "/", math.Min(used, 0.999))
		m.Disks.Mounts[0].HoldsNixStore = false
		for _, is := range e.Sample(m) {
			if is.Rule == "disk_fill_trend" && is.State == record.StateFiring {
				fired = append(fired, is)
			}
		}
	}
	if len(fired) == 0 {
		t.Fatal("the fill never fired")
	}
	first := fired[0]
	full := t0.Add(start + fill)
	if left := full.Sub(first.TS.Time); left < 6*time.Minute {
		t.Errorf("fired %v before full, want at least 6m", left)
	}
	for _, is := range fired {
		if is.TS.Before(at(start + 2*time.Minute).TS.Time) {
			continue // the short window still holds flat history
		}
		truth := full.Sub(is.TS.Time).Seconds()
		if eta := *is.ETASeconds; eta > 2*truth+60 {
			t.Errorf("at %v: eta %.0fs, truth %.0fs", is.TS.Sub(t0), eta, truth)
		}
	}
	// 8 minutes before full the latest record says about 8 minutes.
	var latest record.Issue
	for _, is := range fired {
		if is.TS.Before(full.Add(-8 * time.Minute)) {
			latest = is
		}
	}
	if latest.ETASeconds == nil || *latest.ETASeconds > 16*60 {
		t.Errorf("8m before full the latest record says %v", latest.Summary)
	}
}
