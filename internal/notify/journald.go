package notify

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// journaldChannel writes one journal entry per message over journald's
// native protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL): a datagram on
// /run/systemd/journal/socket holding KEY=value lines, a value with a
// line break written as KEY, a newline, its length as 64-bit little
// endian, the value and a newline. An entry too large for one datagram
// goes in a sealed memfd passed with SCM_RIGHTS. Each event has its own
// MESSAGE_ID, explained by lmn.catalog for journalctl -x.
type journaldChannel struct {
	socket string
}

func (c *journaldChannel) name() string { return "journald" }

func (c *journaldChannel) send(_ context.Context, m *Message) error {
	// A socket of its own for each entry, unconnected and non-blocking:
	// a journald too busy to take it is an error to retry, never a wait.
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("journald: socket: %w", err)
	}
	defer unix.Close(fd)
	to := &unix.SockaddrUnix{Name: c.socket}
	entry := journalEntry(m)
	err = unix.Sendmsg(fd, entry, nil, to, 0)
	if errors.Is(err, unix.EMSGSIZE) || errors.Is(err, unix.ENOBUFS) {
		err = sendMemfd(fd, to, entry)
	}
	if err != nil {
		return fmt.Errorf("journald %s: %w", c.socket, err)
	}
	return nil
}

// sendMemfd passes entry in a sealed memfd, as journald asks of entries
// larger than a datagram.
func sendMemfd(sock int, to *unix.SockaddrUnix, entry []byte) error {
	fd, err := unix.MemfdCreate("lmn-notify-journal", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return fmt.Errorf("memfd_create: %w", err)
	}
	defer unix.Close(fd)
	for rest := entry; len(rest) > 0; {
		n, err := unix.Write(fd, rest)
		if err != nil {
			return fmt.Errorf("write memfd: %w", err)
		}
		rest = rest[n:]
	}
	seals := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		return fmt.Errorf("seal memfd: %w", err)
	}
	return unix.Sendmsg(sock, nil, unix.UnixRights(fd), to, 0)
}

// journalEntry is m as native protocol fields: MESSAGE, MESSAGE_ID,
// PRIORITY, SYSLOG_IDENTIFIER and the LMN_* fields.
func journalEntry(m *Message) []byte {
	ev, _ := lookup(m.Event)
	fields := [][2]string{
		{"MESSAGE", m.Title() + "\n" + m.Text()},
		{"MESSAGE_ID", ev.MessageID},
		{"PRIORITY", strconv.Itoa(ev.Syslog)},
		{"SYSLOG_IDENTIFIER", "lmn-notify"},
		{"LMN_EVENT", m.Event},
		{"LMN_HOST", m.Host},
		{"LMN_ISSUE", m.Issue},
		{"LMN_RULE", m.Rule},
		{"LMN_SUMMARY", m.Summary},
		{"LMN_SEVERITY", m.Severity},
		{"LMN_ACTION", m.Action},
		{"LMN_TIER", m.Tier},
		{"LMN_OUTCOME", m.Outcome},
		{"LMN_ERROR", m.Error},
		{"LMN_ADVICE", m.Advice},
		{"LMN_STEPS", strings.Join(m.Steps, "\n")},
		{"LMN_PAUSE_FILE", m.Pause},
		{"LMN_TS", m.TS.UTC().Format(time.RFC3339Nano)},
	}
	if m.Event == EventDigest {
		fields = append(fields, [2]string{"LMN_COUNT", strconv.Itoa(m.Count)},
			[2]string{"LMN_ISSUES", strings.Join(m.Issues(), " ")})
	}
	used := map[string]bool{}
	for _, f := range fields {
		used[f[0]] = true
	}
	for _, k := range slices.Sorted(maps.Keys(m.Subject)) {
		if name, ok := subjectField(k); ok && !used[name] {
			fields = append(fields, [2]string{name, m.Subject[k]})
		}
	}
	var b bytes.Buffer
	for _, f := range fields {
		if f[1] != "" {
			appendJournalField(&b, f[0], f[1])
		}
	}
	return b.Bytes()
}

// subjectField names a subject key as a journal field: unit is LMN_UNIT,
// mount LMN_MOUNT, … A key that would not make a valid field name (A–Z,
// 0–9, _, at most 64 bytes) is left out, and so is one that would take the
// name of a field the entry already has.
func subjectField(k string) (string, bool) {
	name := "LMN_" + strings.ToUpper(k)
	if len(name) > 64 || k == "" {
		return "", false
	}
	for _, r := range name {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return "", false
		}
	}
	return name, true
}

// appendJournalField writes one field in the native protocol.
func appendJournalField(b *bytes.Buffer, k, v string) {
	if !strings.ContainsRune(v, '\n') {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
		b.WriteByte('\n')
		return
	}
	b.WriteString(k)
	b.WriteByte('\n')
	b.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(v))))
	b.WriteString(v)
	b.WriteByte('\n')
}
