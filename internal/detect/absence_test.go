package detect

import (
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

func TestAbsenceFromRecordTime(t *testing.T) {
	e := NewEngine(rulesOf(t, `{"name":"gone","kind":"absence","intervals":3}`))
	got := feed(e, at(0), at(5*time.Second), at(15*time.Second), at(40*time.Second), at(45*time.Second))
	// The gap 15s→40s exceeds 3×5s: firing stamped when it became too
	// long (15s+15s), resolved by the sample that ended it.
	equalTrace(t, got, []string{
		"12:00:30 gone  firing warning",
		"12:00:40 gone  resolved warning",
	})
	is := NewEngine(rulesOf(t, `{"name":"gone","kind":"absence","intervals":3}`))
	is.Sample(at(0))
	is.Sample(at(5 * time.Second))
	is.Sample(at(10 * time.Second))
	out := is.Sample(at(70 * time.Second))
	if len(out) != 2 || out[0].Summary != "no sample for 15s, expected one every 5s" ||
		out[1].Summary != "samples arrive again after a gap of 1m" || out[0].Since.Time != t0.Add(10*time.Second) {
		t.Errorf("got %+v", out)
	}
}

func TestAbsenceIntervalOverride(t *testing.T) {
	// A timer running the collector once a minute: samples carry a short
	// interval_seconds, the rule says the real cadence.
	e := NewEngine(rulesOf(t, `{"name":"gone","kind":"absence","intervals":3,"interval":"1m"}`))
	got := feed(e, at(0), at(time.Minute), at(2*time.Minute), at(6*time.Minute))
	equalTrace(t, got, []string{"12:05:00 gone  firing warning", "12:06:00 gone  resolved warning"})
}

func TestSilence(t *testing.T) {
	e := NewEngine(rulesOf(t, `{"name":"gone","kind":"absence","intervals":3}`))
	if got := e.Silence(time.Hour); len(got) != 0 {
		t.Fatalf("silence before any sample: %v", trace(got))
	}
	e.Sample(at(0))
	e.Sample(at(5 * time.Second))
	if l := e.AbsenceLimit(); l != 0 {
		t.Fatalf("AbsenceLimit after one gap = %v, want 0 (cadence not known yet)", l)
	}
	e.Sample(at(10 * time.Second))
	if l := e.AbsenceLimit(); l != 15*time.Second {
		t.Fatalf("AbsenceLimit = %v, want 15s", l)
	}
	if got := e.Silence(10 * time.Second); len(got) != 0 {
		t.Fatalf("silence within the limit fired: %v", trace(got))
	}
	equalTrace(t, trace(e.Silence(16*time.Second)), []string{"12:00:26 gone  firing warning"})
	if got := e.Silence(30 * time.Second); len(got) != 0 {
		t.Fatalf("second silence fired again: %v", trace(got))
	}
	// The next sample resolves it and does not fire it a second time.
	equalTrace(t, feed(e, at(60*time.Second)), []string{"12:01:00 gone  resolved warning"})
}

// A collector run by a timer once a minute (--count 1) reports a short
// interval_seconds; the cadence is learnt from the gaps, so its samples do
// not read as absences, and a real outage still does.
func TestAbsenceLearnsTheCadence(t *testing.T) {
	e := NewEngine(rulesOf(t, `{"name":"gone","kind":"absence","intervals":3}`))
	oneShot := func(d time.Duration) *record.Sample {
		s := at(d)
		s.IntervalSeconds = 0.2
		return s
	}
	var got []string
	for i := range 10 {
		got = append(got, feed(e, oneShot(time.Duration(i)*time.Minute))...)
	}
	if len(got) != 0 {
		t.Fatalf("a sample a minute read as absence: %v", got)
	}
	got = feed(e, oneShot(20*time.Minute)) // the timer stopped for 11 minutes
	equalTrace(t, got, []string{"12:12:00 gone  firing warning", "12:20:00 gone  resolved warning"})
	// One outage does not teach a slower cadence: the median of the gaps
	// is still a minute.
	feed(e, oneShot(21*time.Minute))
	if l := e.AbsenceLimit(); l != 3*time.Minute {
		t.Errorf("AbsenceLimit after an outage = %v, want 3m", l)
	}
}
