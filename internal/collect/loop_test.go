package collect

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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
}

func runLoop(t *testing.T, ctx context.Context, interval time.Duration, count int) ([]emitted, error) {
	c := loopCollector(t)
	start := time.Now()
	var got []emitted
	err := Run(ctx, c, interval, count, func(s *record.Sample) error {
		got = append(got, emitted{time.Since(start), s.Seq, s.IntervalSeconds})
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
		want := []emitted{{200 * time.Millisecond, 1, 0.2}, {5200 * time.Millisecond, 2, 5}, {10200 * time.Millisecond, 3, 5}}
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
		err := Run(t.Context(), c, time.Second, 0, func(*record.Sample) error {
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
