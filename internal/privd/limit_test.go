package privd

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/lmn-heal/lmn/internal/config"
)

func TestLimiterSlidingWindows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(RateLimits{
			Overall:   Limit{Max: 3, Window: config.Duration(5 * time.Minute)},
			PerTarget: Limit{Max: 1, Window: config.Duration(10 * time.Minute)},
			Actions:   map[string]Limit{"kill_process": {Max: 2, Window: config.Duration(time.Minute)}},
		})
		run := func(action, target string) (time.Duration, bool) {
			wait, _, ok := l.check(time.Now(), action, target)
			if ok {
				l.record(time.Now(), action, target)
			}
			return wait, ok
		}
		if _, ok := run("kill_process", "pid:1"); !ok {
			t.Fatal("first refused")
		}
		if wait, ok := run("kill_process", "pid:1"); ok || wait != 10*time.Minute {
			t.Errorf("same target: ok=%v wait=%v, want 10m", ok, wait)
		}
		time.Sleep(10 * time.Second)
		run("kill_process", "pid:2")
		if wait, ok := run("kill_process", "pid:3"); ok || wait != 50*time.Second {
			t.Errorf("per-action: ok=%v wait=%v, want 50s", ok, wait)
		}
		time.Sleep(time.Minute)
		if _, ok := run("restart_unit", "unit:a"); !ok {
			t.Error("third overall refused")
		}
		wait, ok := run("restart_unit", "unit:b")
		if ok || wait != 4*time.Minute-10*time.Second {
			t.Errorf("overall: ok=%v wait=%v, want 3m50s", ok, wait)
		}
		time.Sleep(wait)
		if _, ok := run("restart_unit", "unit:b"); !ok {
			t.Error("refused after the window slid")
		}
	})
}

func TestLimiterDisabled(t *testing.T) {
	l := newLimiter(RateLimits{})
	now := time.Unix(1e9, 0)
	for range 1000 {
		if _, _, ok := l.check(now, "drop_caches", "caches"); !ok {
			t.Fatal("a zero limit refused")
		}
		l.record(now, "drop_caches", "caches")
	}
}
