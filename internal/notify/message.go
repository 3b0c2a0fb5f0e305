package notify

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/config"
)

// Message is one notification, the same for every channel: each channel
// renders it in its own form.
type Message struct {
	Event string
	Host  string
	// TS is the record time of the record that caused the message.
	TS time.Time
	// Read is when that record was read (wall clock), for the latency.
	Read time.Time

	// The issue, from its issue records.
	Issue    string
	Rule     string
	Subject  map[string]string
	Summary  string
	Severity string

	// What lmn did: the heal record that caused the message, and the
	// ladder's steps so far.
	Action  string
	Tier    string
	Outcome string
	Error   string
	Advice  string
	Steps   []string
	// HeldBack counts events of this issue held back by the per-issue
	// limit since the last message about it.
	HeldBack int

	// A digest folds many messages: Count of them, by event, a few of
	// them in Items.
	Count  int
	Counts map[string]int
	Items  []*Message

	// Pause and PerIssue say how to pause healing and how long repeats
	// are held back.
	Pause    string
	PerIssue time.Duration
}

// Issues lists the ids of the issues the message tells about.
func (m *Message) Issues() []string {
	if m.Event != EventDigest {
		if m.Issue == "" {
			return nil
		}
		return []string{m.Issue}
	}
	ids := make([]string, 0, len(m.Items))
	for _, it := range m.Items {
		ids = append(ids, it.Issue)
	}
	return ids
}

// Title is a one-line title: "[web1] lmn gave up: nginx.service (system)
// has failed".
func (m *Message) Title() string {
	ev, _ := lookup(m.Event)
	what := m.Summary
	switch {
	case m.Event == EventDigest:
		what = fmt.Sprintf("%d events (%s)", m.Count, countsText(m.Counts))
	case what == "":
		what = strings.TrimSpace(m.Rule + " " + subjectText(m.Subject))
	}
	return oneLine(fmt.Sprintf("[%s] %s: %s", m.Host, ev.Title, what))
}

// Text is the body: what is wrong, what lmn did, what to do, how to
// pause.
func (m *Message) Text() string {
	var b strings.Builder
	if m.Event == EventDigest {
		fmt.Fprintf(&b, "%d events on %s within a short time: %s.\n", m.Count, m.Host, countsText(m.Counts))
		for _, it := range m.Items {
			fmt.Fprintf(&b, "- %s: %s\n", it.Event, it.what())
			if it.Advice != "" {
				fmt.Fprintf(&b, "  do: %s\n", it.Advice)
			}
		}
		if n := m.Count - len(m.Items); n > 0 {
			fmt.Fprintf(&b, "- and %d more: the stream has them all (kind heal).\n", n)
		}
	} else {
		m.issueText(&b)
	}
	fmt.Fprintf(&b, "\nPause all healing: luminous-pause (or create %s); remove it to resume.", m.Pause)
	if m.Event != EventDigest && m.Event != EventRecovered {
		if m.PerIssue > 0 {
			fmt.Fprintf(&b, " Repeats about this issue are held back for %s.", config.Duration(m.PerIssue))
		}
		fmt.Fprintf(&b, " Silence it: add %q (or its rule) to mute in lmn-notify's configuration.", m.Issue)
	}
	return b.String()
}

// issueText says it all but the summary, which every channel shows in
// its title.
func (m *Message) issueText(b *strings.Builder) {
	fmt.Fprintf(b, "Host: %s. Issue %s", m.Host, m.Issue)
	if m.Rule != "" {
		fmt.Fprintf(b, " (rule %s", m.Rule)
		if m.Severity != "" {
			fmt.Fprintf(b, ", %s", m.Severity)
		}
		b.WriteString(")")
	}
	b.WriteString(".\n")
	if len(m.Steps) > 0 {
		fmt.Fprintf(b, "lmn did: %s.\n", strings.Join(m.Steps, "; "))
	}
	if m.Error != "" {
		fmt.Fprintf(b, "Error: %s\n", m.Error)
	}
	if m.Advice != "" {
		fmt.Fprintf(b, "What to do: %s\n", m.Advice)
	}
	if m.HeldBack > 0 {
		fmt.Fprintf(b, "(%d earlier events about this issue were held back.)\n", m.HeldBack)
	}
}

// what says what is wrong: the summary, or the rule and subject.
func (m *Message) what() string {
	if m.Summary != "" {
		return m.Summary
	}
	return strings.TrimSpace(m.Rule + " " + subjectText(m.Subject))
}

func subjectText(s map[string]string) string {
	keys := slices.Sorted(maps.Keys(s))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+s[k])
	}
	return strings.Join(parts, " ")
}

func countsText(c map[string]int) string {
	keys := slices.Sorted(maps.Keys(c))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", c[k], k))
	}
	return strings.Join(parts, ", ")
}

// oneLine replaces line breaks and other control characters with spaces,
// so a summary from the stream cannot start a new header line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' || r == '\u0085' {
			return ' '
		}
		return r
	}, s)
}
