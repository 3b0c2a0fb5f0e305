package action

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// The machine-wide actions: drop_caches, flush_dns, restart_network and
// noop. nix_gc is in nix.go, journal_vacuum in journal.go.

func dropCachesFile(env Env) string { return filepath.Join(env.ProcRoot, "sys/vm/drop_caches") }

func checkLevel(s string) error {
	if s != "1" && s != "2" && s != "3" {
		return errors.New("level is 1 (page cache), 2 (slab) or 3 (both)")
	}
	return nil
}

func runDropCaches(ctx context.Context, env Env, p map[string]string) (Result, error) {
	if err := writeSmall(dropCachesFile(env), p["level"]+"\n"); err != nil {
		return Result{}, err
	}
	return Result{Output: "dropped caches (level " + p["level"] + ")"}, nil
}

func runFlushDNS(ctx context.Context, env Env, p map[string]string) (Result, error) {
	out, err := runCommand(ctx, env, with(env.Resolvectl, "flush-caches"))
	if err == nil {
		return Result{Output: strings.TrimSpace("resolved: flushed caches " + out)}, nil
	}
	out2, err2 := runCommand(ctx, env, with(env.Nscd, "-i", "hosts"))
	if err2 == nil {
		return Result{Output: strings.TrimSpace("nscd: invalidated hosts " + out2)}, nil
	}
	return Result{}, fmt.Errorf("no DNS cache flushed: %w; %w", err, err2)
}

// networkServices are tried in order by restart_network.
var networkServices = []string{"NetworkManager.service", "systemd-networkd.service"}

func runRestartNetwork(ctx context.Context, env Env, p map[string]string) (Result, error) {
	for _, svc := range networkServices {
		// is-active exits non-zero for inactive units: that is an answer,
		// not a failure.
		if _, err := runCommand(ctx, env, with(env.Systemctl, "is-active", "--quiet", "--", svc)); err != nil {
			if ctx.Err() != nil {
				return Result{}, err
			}
			continue
		}
		out, err := runCommand(ctx, env, with(env.Systemctl, "restart", "--", svc))
		return Result{Output: strings.TrimSpace("restarted " + svc + " " + out)}, err
	}
	return Result{}, fmt.Errorf("neither %s is active", strings.Join(networkServices, " nor "))
}

func init() {
	register(&definition{
		spec: Spec{Name: "drop_caches", Timeout: time.Minute, Disruptive: true,
			Doc:    "write LEVEL to /proc/sys/vm/drop_caches",
			Params: []Param{{Name: "level", Required: true, Doc: "1, 2 or 3", check: checkLevel}}},
		run:    runDropCaches,
		target: fixed("caches"),
		command: func(env Env, p map[string]string) string {
			return "sync; echo " + shellQuote(p["level"]) + " > " + shellQuote(dropCachesFile(env))
		},
	})
	register(&definition{
		spec: Spec{Name: "flush_dns", Timeout: 15 * time.Second,
			Doc: "flush systemd-resolved's cache (resolvectl flush-caches), else nscd's hosts cache"},
		run:    runFlushDNS,
		target: fixed("dns"),
		command: func(env Env, p map[string]string) string {
			return shellJoin(with(env.Resolvectl, "flush-caches")...) + " || " + shellJoin(with(env.Nscd, "-i", "hosts")...)
		},
	})
	register(&definition{
		spec: Spec{Name: "restart_network", Timeout: 2 * time.Minute, Disruptive: true,
			Doc: "restart whichever of NetworkManager.service and systemd-networkd.service is active"},
		run:    runRestartNetwork,
		target: fixed("network"),
		command: func(env Env, p map[string]string) string {
			sc := shellJoin(env.Systemctl...)
			return sc + " is-active --quiet NetworkManager.service && " + sc + " restart NetworkManager.service || " +
				sc + " restart systemd-networkd.service"
		},
	})
	register(&definition{
		spec: Spec{Name: "noop", Timeout: time.Second, Doc: "do nothing (ping, tests)"},
		run: func(context.Context, Env, map[string]string) (Result, error) {
			return Result{Output: "ok"}, nil
		},
		target:  fixed("noop"),
		command: func(Env, map[string]string) string { return "true" },
	})
}
