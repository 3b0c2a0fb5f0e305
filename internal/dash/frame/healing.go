package frame

import (
	"fmt"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/dash"
	"github.com/lmn-heal/lmn/internal/record"
)

func (r *renderer) issues(width int) panel {
	p := panel{title: "Firing issues", min: 3}
	m := r.m
	for _, is := range m.FiringIssues() {
		lvl := dash.SeverityLevel(is.Severity)
		sev := "WARN"
		if lvl == dash.LevelCritical {
			sev = "CRIT"
		}
		l := line{{s: r.g.mark[lvl] + " " + sev, st: levelStyle[lvl]}, {s: " " + r.clean(is.Rule), st: bold}}
		if s := dash.SubjectString(is.Subject); s != "" {
			l = append(l, span{s: " " + r.clean(s)})
		}
		l = append(l, span{s: " " + age(m.LastTS.Sub(is.Since.Time)), st: dim})
		if is.ETASeconds != nil {
			l = append(l, span{s: " eta " + age(time.Duration(*is.ETASeconds*float64(time.Second))), st: warn})
		}
		if is.Flapping {
			l = append(l, span{s: " flapping", st: warn})
		}
		if is.Summary != "" {
			l = append(l, span{s: "  " + r.clean(is.Summary)})
		}
		p.lines = append(p.lines, l)
	}
	if len(p.lines) == 0 {
		text := "no firing issues"
		// lmn-detect writes issue records only when something fires; its
		// start record says it is in the pipe.
		if _, detect := m.Sources["lmn-detect"]; !m.IssueSeen && !detect {
			text = "no issue records yet (is lmn-detect in the pipe?)"
		}
		p.lines = []line{{{s: r.g.mark[0] + " " + text, st: good}}}
	}
	return p
}

func (r *renderer) healing(width int) panel {
	p := panel{title: "Healing", min: 3}
	m := r.m
	if len(m.ByAction) == 0 && len(m.Breakers) == 0 {
		p.lines = []line{{{s: "no heal records yet", st: dim}}}
		return p
	}
	col := max(10, min(20, width-19))
	p.lines = append(p.lines, line{{s: fmt.Sprintf("%-*s %7s %5s %4s", col, "action", "ok/att", "recov", "adv"), st: dim}})
	var planned []string
	for _, a := range dash.SortedKeys(m.ByAction) {
		p.lines = append(p.lines, r.stat(a, col, m.ByAction[a]))
		if n := m.ByAction[a].Planned; n > 0 {
			planned = append(planned, fmt.Sprintf("%s %d", a, n))
		}
	}
	if len(planned) > 0 { // lmn-heal --dry-run: steps it would have run
		p.lines = append(p.lines, line{{s: "planned, not run ", st: warn}, {s: r.clean(strings.Join(planned, "  "))}})
	}
	var tiers []string
	for _, t := range dash.SortedKeys(m.ByTier) {
		s := m.ByTier[t]
		txt := fmt.Sprintf("%s %d/%d", t, s.Succeeded, s.Attempts())
		if s.Advised > 0 {
			txt += fmt.Sprintf(" adv %d", s.Advised)
		}
		tiers = append(tiers, txt)
	}
	if len(tiers) > 0 {
		p.lines = append(p.lines, line{{s: "tiers ", st: dim}, {s: r.clean(strings.Join(tiers, "  "))}})
	}
	for _, b := range m.OpenBreakers() {
		wait := "retry due"
		if d := b.RetryAt.Sub(m.LastTS); d > 0 {
			wait = "retry in " + age(d)
		}
		l := line{{s: "breaker ", st: crit}, {s: r.clean(b.Action)}, {s: " " + wait, st: warn}, {s: " " + r.clean(dash.SubjectString(b.Subject))}}
		if b.Error != "" {
			l = append(l, span{s: ": " + r.clean(b.Error), st: dim})
		}
		p.lines = append(p.lines, l)
	}
	return p
}

func (r *renderer) stat(action string, col int, s *dash.HealStat) line {
	rate, st := "-", dim
	if s.Verified > 0 {
		rate = pct(s.RecoveryRate())
		st = levelStyle[dash.LevelOK]
		switch {
		case s.RecoveryRate() < 0.5:
			st = crit
		case s.RecoveryRate() < 1:
			st = warn
		}
	}
	return line{
		{s: fmt.Sprintf("%-*s %7s ", col, r.clean(action), fmt.Sprintf("%d/%d", s.Succeeded, s.Attempts()))},
		{s: fmt.Sprintf("%5s", rate), st: st},
		{s: fmt.Sprintf(" %4d", s.Advised)},
	}
}

// advice shows each open piece of advice whole, wrapped to the panel: a
// command cut at the edge cannot be copied. Without advice the panel is
// left out.
func (r *renderer) advice(width int) panel {
	p := panel{title: "Advice", min: 2}
	for _, a := range r.m.OpenAdvice() {
		head := line{{s: r.g.mark[dash.LevelWarning] + " ", st: warn}, {s: r.clean(a.Rule), st: bold}}
		if s := dash.SubjectString(a.Subject); s != "" {
			head = append(head, span{s: " " + r.clean(s)})
		}
		head = append(head, span{s: fmt.Sprintf(" %s step %d %s", strings.ReplaceAll(a.Phase, "_", " "), a.Step, r.clean(a.Action)), st: dim})
		p.lines = append(p.lines, head)
		for _, l := range wrap(r.clean(a.Text), width-2) {
			p.lines = append(p.lines, line{{s: "  " + l}})
		}
	}
	return p
}

// naturalEvents is how many events a frame without a fixed height shows.
const naturalEvents = 12

func (r *renderer) events(width int) panel {
	p := panel{title: "Events", min: 1}
	ev := r.m.Events
	if r.o.Height == 0 && len(ev) > naturalEvents {
		ev = ev[len(ev)-naturalEvents:]
	}
	for i := len(ev) - 1; i >= 0; i-- {
		e := ev[i]
		st := levelStyle[e.Level]
		if e.Kind == record.KindHeal && e.Level == dash.LevelOK {
			st = plain
		}
		if e.Kind == record.KindHeal && strings.HasPrefix(e.Text, "PLAN ") {
			st = dim
		}
		p.lines = append(p.lines, line{{s: e.TS.UTC().Format("15:04:05") + " ", st: dim}, {s: r.clean(e.Text), st: st}})
	}
	if len(p.lines) == 0 {
		p.lines = []line{{{s: "no issue or heal events yet", st: dim}}}
	}
	return p
}
