package detect

import (
	"math"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// point is one value of a trend's window.
type point struct {
	T record.Time `json:"t"`
	V float64     `json:"v"`
}

// trendResolution is how many points a window keeps at most: a new value
// closer than window/trendResolution to the point before the last replaces
// the last point instead of adding one, so a day at 1 s keeps the state
// small and the fit cheap.
const trendResolution = 120

// addPoint adds (ts, v) to the window and drops points older than it.
func (st *subject) addPoint(ts time.Time, v float64, window time.Duration) {
	p := point{T: record.Time{Time: ts}, V: v}
	n := len(st.Points)
	spacing := window / trendResolution
	if n >= 2 && ts.Sub(st.Points[n-2].T.Time) < spacing {
		st.Points[n-1] = p
	} else {
		st.Points = append(st.Points, p)
	}
	cut := ts.Add(-window)
	k := 0
	for k < len(st.Points)-1 && st.Points[k].T.Before(cut) {
		k++
	}
	if k > 0 {
		st.Points = append(st.Points[:0], st.Points[k:]...)
		st.sums = fitSums{}
	}
}

// fit returns the least-squares line through the window's points as the
// value it gives at ts and its slope per second. ok is false with fewer
// than two distinct times.
func fit(points []point, ts time.Time) (at, slope float64, ok bool) {
	if len(points) < 2 {
		return 0, 0, false
	}
	var s fitSums
	for _, p := range points {
		s.add(p, points[0].T.Time)
	}
	return s.line(len(points), points[0].T.Time, ts)
}

// fitSums are the least-squares sums over points, with x in seconds since
// t0 (the window's first point).
type fitSums struct {
	n                int // how many points of the window they cover
	t0               time.Time
	sx, sy, sxx, sxy float64
}

func (s *fitSums) add(p point, t0 time.Time) {
	x := p.T.Sub(t0).Seconds()
	s.sx += x
	s.sy += p.V
	s.sxx += x * x
	s.sxy += x * p.V
}

func (s *fitSums) line(n int, t0, ts time.Time) (at, slope float64, ok bool) {
	fn := float64(n)
	den := fn*s.sxx - s.sx*s.sx
	if den <= 0 || math.IsNaN(den) {
		return 0, 0, false
	}
	slope = (fn*s.sxy - s.sx*s.sy) / den
	icept := (s.sy - slope*s.sx) / fn
	return icept + slope*ts.Sub(t0).Seconds(), slope, true
}

// fitWindow is fit(st.Points, ts) without going over the whole window each
// sample: all points but the last change only when the window moves on
// (addPoint then resets st.sums), so their sums are kept and extended in
// the same order fit adds them, which gives bit-identical results.
func (st *subject) fitWindow(ts time.Time) (at, slope float64, ok bool) {
	pts := st.Points
	if len(pts) < 2 {
		return 0, 0, false
	}
	c := &st.sums
	t0 := pts[0].T.Time
	if c.n > len(pts)-1 || !c.t0.Equal(t0) {
		*c = fitSums{t0: t0}
	}
	for _, p := range pts[c.n : len(pts)-1] {
		c.add(p, t0)
	}
	c.n = len(pts) - 1
	s := *c
	s.add(pts[len(pts)-1], t0)
	return s.line(len(pts), t0, ts)
}

// eta returns the seconds until the fitted line reaches limit, 0 when it
// already has; ok is false when it moves away from the limit or is flat.
func eta(at, slope, limit float64, above bool) (float64, bool) {
	if beyond(at, limit, above) {
		return 0, true
	}
	if above && slope <= 0 || !above && slope >= 0 {
		return 0, false
	}
	return (limit - at) / slope, true
}

// maxETA is the longest time to the limit worth writing down (a year).
const maxETA = 365 * 24 * 3600

// trend evaluates trend rule i on every subject of s.
func (e *Engine) trend(i int, s *record.Sample) {
	r := e.rules[i]
	ts := s.TS.Time
	window := r.Window.D()
	each(r, s, func(j int, name string) {
		v, ok := r.metric.value(s, j)
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		st := e.states[i][name]
		if st == nil {
			st = e.newSubject(i, name, r.subjectOf(s, j))
		}
		st.Seen = record.Time{Time: ts}
		st.addPoint(ts, v, window)
		secs, known := e.estimate(r, st, ts)
		horizon := r.Horizon.D()
		if st.Active {
			horizon = r.ClearHorizon.D()
		}
		past := known && secs <= horizon.Seconds() && condsHold(r.and, s, j, st.Active)
		st.advance(r.For, past, ts, e.tick)
		st.Value, st.Threshold, st.Clear = v, *r.Limit, *r.Limit
		st.ETA = nil
		if known && secs < maxETA {
			st.ETA = &secs
		}
		if st.Active && r.CriticalHorizon > 0 {
			crit := r.CriticalHorizon.D()
			if st.Critical {
				crit = crit * 3 / 2
			}
			st.Critical = secs <= crit.Seconds()
		}
		e.observe(i, st, ts)
		e.tidy(i, st, ts)
	})
	e.gone(i, s, window)
}

// estimate returns the trend's time to the limit, once the window holds at
// least min_history of points: the sooner of the fit over the window and,
// with short_window, the fit over its last short_window (so a disk that
// starts filling fast after an hour of flat history is seen within
// minutes, not diluted by the flat hour).
func (e *Engine) estimate(r *rule, st *subject, ts time.Time) (float64, bool) {
	if len(st.Points) < 2 || ts.Sub(st.Points[0].T.Time) < r.MinHistory.D() {
		return 0, false
	}
	secs, known := 0.0, false
	if at, slope, ok := st.fitWindow(ts); ok {
		secs, known = eta(at, slope, *r.Limit, r.above)
	}
	if short := shortTail(st.Points, ts, r.ShortWindow.D()); short != nil {
		if at, slope, ok := fit(short, ts); ok {
			if s, ok := eta(at, slope, *r.Limit, r.above); ok && (!known || s < secs) {
				secs, known = s, true
			}
		}
	}
	return math.Round(secs), known
}

// shortTail returns the points of the last d before ts, or nil when d is 0
// or they span less than half of d (too few to fit).
func shortTail(points []point, ts time.Time, d time.Duration) []point {
	if d <= 0 {
		return nil
	}
	cut := ts.Add(-d)
	k := len(points)
	for k > 0 && !points[k-1].T.Before(cut) {
		k--
	}
	tail := points[k:]
	if len(tail) < 3 || tail[len(tail)-1].T.Sub(tail[0].T.Time) < d/2 {
		return nil
	}
	return tail
}
