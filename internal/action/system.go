package action

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The machine-wide actions: drop_caches, flush_dns, restart_network,
// nix_gc, journal_vacuum and noop.

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

var ageRE = regexp.MustCompile(`^[0-9]{1,5}d$`)

func checkAge(s string) error {
	if !ageRE.MatchString(s) {
		return errors.New("want a number of days, e.g. 14d")
	}
	if n, _ := strconv.Atoi(strings.TrimSuffix(s, "d")); n < 1 {
		return errors.New("at least 1d")
	}
	return nil
}

const defaultGCAge = "14d"

func runNixGC(ctx context.Context, env Env, p map[string]string) (Result, error) {
	state, err := runCommand(ctx, env, with(env.Systemctl, "show", "--property=LoadState", "--value", "--", "nix-gc.service"))
	if err == nil && strings.TrimSpace(state) == "loaded" {
		out, err := runCommand(ctx, env, with(env.Systemctl, "start", "--no-block", "--", "nix-gc.service"))
		return Result{Output: strings.TrimSpace("started nix-gc.service " + out)}, err
	}
	age := p["older_than"]
	if age == "" {
		age = defaultGCAge
	}
	out, err := runCommand(ctx, env, with(env.NixGC, "--delete-older-than", age))
	return Result{Output: out}, err
}

func nixGCCommand(env Env, p map[string]string) string {
	age := p["older_than"]
	if age == "" {
		age = defaultGCAge
	}
	return shellJoin(with(env.Systemctl, "start", "--", "nix-gc.service")...) + " || " +
		shellJoin(with(env.NixGC, "--delete-older-than", age)...)
}

var (
	sizeRE = regexp.MustCompile(`^([0-9]{1,6})([KMGT]?)$`)
	spanRE = regexp.MustCompile(`^([0-9]{1,5})(s|sec|m|min|h|hr|d|day|days|w|week|weeks|month|months|y|year|years)$`)
)

// minVacuumSize keeps journal_vacuum from emptying the journal.
const minVacuumSize = 16 << 20

func checkSize(s string) error {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return errors.New("want a size such as 500M (suffix K, M, G or T)")
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	shift := map[string]uint{"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[m[2]]
	if n<<shift < minVacuumSize {
		return fmt.Errorf("at least %dM", minVacuumSize>>20)
	}
	return nil
}

func checkSpan(s string) error {
	m := spanRE.FindStringSubmatch(s)
	if m == nil {
		return errors.New("want a time span such as 2weeks or 30d")
	}
	n, _ := strconv.Atoi(m[1])
	unit := map[string]time.Duration{"s": time.Second, "sec": time.Second, "m": time.Minute, "min": time.Minute,
		"h": time.Hour, "hr": time.Hour, "d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
		"w": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour, "weeks": 7 * 24 * time.Hour}[m[2]]
	if unit != 0 && time.Duration(n)*unit < 24*time.Hour {
		return errors.New("at least 1d")
	}
	if n < 1 {
		return errors.New("at least 1")
	}
	return nil
}

func journalArg(p map[string]string) string {
	if s, ok := p["size"]; ok {
		return "--vacuum-size=" + s
	}
	return "--vacuum-time=" + p["time"]
}

func validateJournal(env Env, p map[string]string) error {
	_, hasSize := p["size"]
	_, hasTime := p["time"]
	if hasSize == hasTime {
		return fmt.Errorf("%w: give exactly one of size= or time=", ErrInvalid)
	}
	return nil
}

func runJournalVacuum(ctx context.Context, env Env, p map[string]string) (Result, error) {
	out, err := runCommand(ctx, env, with(env.Journalctl, journalArg(p)))
	return Result{Output: out}, err
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
		spec: Spec{Name: "nix_gc", Timeout: 30 * time.Minute,
			Doc:    "start nix-gc.service if it exists, else nix-collect-garbage --delete-older-than AGE",
			Params: []Param{{Name: "older_than", Doc: "age in days, e.g. 14d (default 14d)", check: checkAge}}},
		run:     runNixGC,
		target:  fixed("nix-store"),
		command: nixGCCommand,
	})
	register(&definition{
		spec: Spec{Name: "journal_vacuum", Timeout: 5 * time.Minute,
			Doc: "journalctl --vacuum-size=SIZE or --vacuum-time=TIME (at least 16M / 1d)",
			Params: []Param{{Name: "size", Doc: "e.g. 500M", check: checkSize},
				{Name: "time", Doc: "e.g. 2weeks", check: checkSpan}}},
		validate: validateJournal,
		run:      runJournalVacuum,
		target:   fixed("journal"),
		command: func(env Env, p map[string]string) string {
			return shellJoin(with(env.Journalctl, journalArg(p))...)
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
