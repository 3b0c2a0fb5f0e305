package collect

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lmn-heal/lmn/internal/collect/collecttest"
	"github.com/lmn-heal/lmn/internal/record"
	"golang.org/x/sys/unix"
)

// loopCollector is a Collector over the fixture machine using the bubble's
// clock (Now is left nil, so time.Now, which synctest fakes).
func loopCollector(t *testing.T) *Collector {
	root := collecttest.Root(t)
	c := New(Config{ProcRoot: root + "/proc", SysRoot: root + "/sys", Units: UnitsNone, Statfs: collecttest.Statfs(t)})
	t.Cleanup(func() { c.Close() })
	return c
}

type emitted struct {
	at       time.Duration // since the start of the run
	seq      uint64
	interval float64
	trigger  string
}

func runLoop(t *testing.T, ctx context.Context, interval time.Duration, count int) ([]emitted, error) {
	return runEvents(t, ctx, interval, count, nil)
}

func runEvents(t *testing.T, ctx context.Context, interval time.Duration, count int, wake *Wake) ([]emitted, error) {
	c := loopCollector(t)
	start := time.Now()
	var got []emitted
	err := Run(ctx, c, interval, count, wake, func(s *record.Sample) error {
		got = append(got, emitted{time.Since(start), s.Seq, s.IntervalSeconds, s.Trigger})
		return nil
	})
	return got, err
}

func TestRunTicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got, err := runLoop(t, t.Context(), 5*time.Second, 3)
		if err != nil {
			t.Fatal(err)
		}
		want := []emitted{{200 * time.Millisecond, 1, 0.2, "tick"}, {5200 * time.Millisecond, 2, 5, "tick"}, {10200 * time.Millisecond, 3, 5, "tick"}}
		if len(got) != len(want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("sample %d: got %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}

func TestRunShortIntervalFirstDelta(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got, err := runLoop(t, t.Context(), 50*time.Millisecond, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].at != 50*time.Millisecond || got[0].interval != 0.05 || got[1].at != 100*time.Millisecond {
			t.Errorf("got %+v, want samples at 50ms and 100ms", got)
		}
	})
}

func TestRunStopsOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(7*time.Second, cancel)
		got, err := runLoop(t, ctx, 5*time.Second, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Samples at 0.2 s and 5.2 s; cancelled at 7 s while waiting: no
		// further sample, and Run returns at once.
		if len(got) != 2 {
			t.Errorf("got %+v, want two samples", got)
		}
	})
}

func TestRunEmitError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := loopCollector(t)
		boom := errors.New("boom")
		n := 0
		err := Run(t.Context(), c, time.Second, 0, nil, func(*record.Sample) error {
			n++
			if n == 2 {
				return boom
			}
			return nil
		})
		if !errors.Is(err, boom) || n != 2 {
			t.Errorf("Run = %v after %d samples, want boom after 2", err, n)
		}
	})
}

// TestHungNetworkStatfs: statfs on an NFS mount that never answers leaves
// that mount out after StatfsTimeout, later samples skip it at once while
// the call is still in flight, and it comes back when the call returns.
func TestHungNetworkStatfs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := collecttest.CopyRoot(t)
		mi, err := os.ReadFile(filepath.Join(root, "proc/self/mountinfo"))
		if err != nil {
			t.Fatal(err)
		}
		mi = append(mi, "90 27 0:90 / /srv/nfs rw - nfs4 server:/export rw\n"...)
		if err := os.WriteFile(filepath.Join(root, "proc/self/mountinfo"), mi, 0o644); err != nil {
			t.Fatal(err)
		}
		fixture := collecttest.Statfs(t)
		release := make(chan struct{})
		var calls atomic.Int32
		statfs := func(path string, st *unix.Statfs_t) error {
			if path != "/srv/nfs" {
				return fixture(path, st)
			}
			calls.Add(1)
			<-release
			*st = unix.Statfs_t{Bsize: 4096, Frsize: 4096, Blocks: 100, Bfree: 50, Bavail: 50}
			return nil
		}
		c := New(Config{ProcRoot: root + "/proc", SysRoot: root + "/sys", Units: UnitsNone, Statfs: statfs})
		defer c.Close()
		c.Prime()
		hasNFS := func(s *record.Sample) bool { return indexMount(s.Disks.Mounts, "/srv/nfs") >= 0 }

		start := time.Now()
		if s := c.Sample(t.Context()); hasNFS(s) {
			t.Error("hung mount reported")
		}
		if d := time.Since(start); d != StatfsTimeout {
			t.Errorf("first sample took %v, want StatfsTimeout", d)
		}
		start = time.Now()
		if s := c.Sample(t.Context()); hasNFS(s) || time.Since(start) != 0 || calls.Load() != 1 {
			t.Errorf("second sample: nfs %v, waited %v, %d calls; want skipped at once with no new call", hasNFS(s), time.Since(start), calls.Load())
		}
		close(release)
		synctest.Wait()
		if s := c.Sample(t.Context()); !hasNFS(s) {
			t.Error("mount not back after statfs returned")
		}
	})
}

// at runs f after d of the bubble's time.
func at(d time.Duration, f func()) { time.AfterFunc(d, f) }

// TestRunEventSampledAtOnce: an event is sampled the moment it fires, its
// rates cover the time since the previous sample, and the ticks keep their
// phase.
func TestRunEventSampledAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wake := NewWake()
		at(5*time.Second, func() { wake.Fire(TriggerUnit) })
		got, err := runEvents(t, t.Context(), 30*time.Second, 3, wake)
		if err != nil {
			t.Fatal(err)
		}
		want := []emitted{{200 * time.Millisecond, 1, 0.2, "tick"}, {5 * time.Second, 2, 4.8, "unit"}, {30200 * time.Millisecond, 3, 25.2, "tick"}}
		if len(got) != len(want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("sample %d: got %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}

// TestRunCoalescesABurst: an event every millisecond for a second gives
// one sample at once and then one per Coalesce, never two closer; when the
// burst ends, nothing more.
func TestRunCoalescesABurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wake := NewWake()
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			time.Sleep(time.Second)
			for range 1000 {
				wake.Fire(TriggerUnit)
				time.Sleep(time.Millisecond)
			}
			time.Sleep(5 * time.Second)
			cancel()
		}()
		got, err := runEvents(t, ctx, time.Minute, 0, wake)
		if err != nil {
			t.Fatal(err)
		}
		events := got[1:]
		if n := len(events); n < 30 || n > int(time.Second/Coalesce)+1 {
			t.Fatalf("%d event samples for a 1 s burst, want about %d: %+v", n, time.Second/Coalesce, events)
		}
		if events[0].at != time.Second || events[len(events)-1].at > 2*time.Second {
			t.Errorf("burst sampled from %v to %v, want from 1s to within 2s", events[0].at, events[len(events)-1].at)
		}
		for i, e := range events {
			if e.trigger != TriggerUnit {
				t.Errorf("sample %+v: trigger %q", e, e.trigger)
			}
			if i > 0 && e.at-events[i-1].at < Coalesce {
				t.Errorf("samples at %v and %v, closer than %v", events[i-1].at, e.at, Coalesce)
			}
		}
	})
}

// TestRunTickFoldsEvents: events that fire in the coalescing window right
// before a tick are folded into the tick, which stays a tick; several
// sources in one window stamp the sample with the most urgent.
func TestRunTickFoldsEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wake := NewWake()
		at(time.Second, func() { wake.Fire(TriggerPSI) })                    // sampled at once
		at(time.Second+5*time.Millisecond, func() { wake.Fire(TriggerPSI) }) // held...
		at(time.Second+6*time.Millisecond, func() { wake.Fire(TriggerLink) })
		at(2190*time.Millisecond, func() { wake.Fire(TriggerPSI) }) // sampled at once
		at(2195*time.Millisecond, func() { wake.Fire(TriggerPSI) }) // held, then folded into the tick at 2.2s
		got, err := runEvents(t, t.Context(), 2*time.Second, 6, wake)
		if err != nil {
			t.Fatal(err)
		}
		want := []emitted{
			{200 * time.Millisecond, 1, 0.2, "tick"},
			{time.Second, 2, 0.8, "psi"},
			{time.Second + Coalesce, 3, Coalesce.Seconds(), "link"},
			{2190 * time.Millisecond, 4, 1.19 - Coalesce.Seconds(), "psi"},
			{2200 * time.Millisecond, 5, 0.01, "tick"},
			{4200 * time.Millisecond, 6, 2, "tick"},
		}
		if len(got) != len(want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		for i := range want {
			if got[i].at != want[i].at || got[i].trigger != want[i].trigger || got[i].seq != want[i].seq ||
				math.Abs(got[i].interval-want[i].interval) > 1e-9 {
				t.Errorf("sample %d: got %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}

func TestParseEvents(t *testing.T) {
	for in, want := range map[string][]string{
		"all": Sources, "none": {}, "unit": {"unit"}, "oom,unit,psi,unit": {"unit", "psi", "oom"}, " link , psi": {"psi", "link"},
	} {
		got, err := ParseEvents(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseEvents(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "units", "all,unit", "unit,,psi"} {
		if _, err := ParseEvents(in); err == nil || !strings.Contains(err.Error(), "unit, psi, link, oom") {
			t.Errorf("ParseEvents(%q): %v, want an error listing the sources", in, err)
		}
	}
}
