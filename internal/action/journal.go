package action

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// journal_vacuum deletes archived journal files, never below a minimum
// the journal keeps (keep=, default 256M).

var (
	sizeRE  = regexp.MustCompile(`^([0-9]{1,6})([KMGT]?)$`)
	spanRE  = regexp.MustCompile(`^([0-9]{1,5})(s|sec|m|min|h|hr|d|day|days|w|week|weeks|month|months|y|year|years)$`)
	usageRE = regexp.MustCompile(`take up ([0-9.]+)([BKMGTPE])`)
)

const (
	// minVacuumSize is the least keep= or size= may ask for.
	minVacuumSize = 16 << 20
	// defaultJournalKeep is what the journal keeps when keep= is not
	// given.
	defaultJournalKeep = "256M"
)

// parseSize reads a size such as 500M; ok is false for another form.
func parseSize(s string) (int64, bool) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	shift := map[string]uint{"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[m[2]]
	return n << shift, true
}

func checkSize(s string) error {
	n, ok := parseSize(s)
	if !ok {
		return errors.New("want a size such as 500M (suffix K, M, G or T)")
	}
	if n < minVacuumSize {
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

// journalKeep is the keep= size in bytes and as written.
func journalKeep(p map[string]string) (int64, string) {
	s := p["keep"]
	if s == "" {
		s = defaultJournalKeep
	}
	n, _ := parseSize(s)
	return n, s
}

// journalArg is the vacuum option: size= raised to keep= when below it,
// or time=.
func journalArg(p map[string]string) string {
	if s, ok := p["size"]; ok {
		n, _ := parseSize(s)
		if keep, ks := journalKeep(p); n < keep {
			s = ks
		}
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

// parseUsage reads journalctl --disk-usage: "Archived and active journals
// take up 1.2G in the file system."
func parseUsage(out string) (int64, bool) {
	m := usageRE.FindStringSubmatch(out)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	shift := strings.Index("BKMGTPE", m[2]) * 10
	return int64(v * float64(int64(1)<<shift)), true
}

// runJournalVacuum vacuums the journal. A journal already at or below
// keep= is left alone. With size= journalctl never goes below the (raised)
// size, so keep= is a hard minimum; with time= journalctl deletes by age
// alone, and a journal larger than keep= may end below it.
func runJournalVacuum(ctx context.Context, env Env, p map[string]string) (Result, error) {
	keep, ks := journalKeep(p)
	out, err := runCommand(ctx, env, with(env.Journalctl, "--disk-usage"))
	if err != nil {
		return Result{Output: out}, err
	}
	if used, ok := parseUsage(out); ok && used <= keep {
		return Result{Output: fmt.Sprintf("the journal takes up %d bytes, within keep=%s: nothing deleted", used, ks)}, nil
	}
	out, err = runCommand(ctx, env, with(env.Journalctl, journalArg(p)))
	return Result{Output: out}, err
}

func init() {
	register(&definition{
		spec: Spec{Name: "journal_vacuum", Timeout: 5 * time.Minute, Destructive: true,
			Doc: "journalctl --vacuum-size=SIZE or --vacuum-time=TIME, never below KEEP (default 256M; sizes at least 16M, times 1d)",
			Params: []Param{{Name: "size", Doc: "e.g. 500M; raised to keep= when below it", check: checkSize},
				{Name: "time", Doc: "e.g. 2weeks", check: checkSpan},
				{Name: "keep", Doc: "the least the journal keeps, e.g. 256M (default 256M)", check: checkSize}}},
		validate: validateJournal,
		run:      runJournalVacuum,
		target:   fixed("journal"),
		command: func(env Env, p map[string]string) string {
			return shellJoin(with(env.Journalctl, journalArg(p))...)
		},
	})
}
