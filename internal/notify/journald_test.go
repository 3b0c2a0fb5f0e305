package notify

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// parseNative reads one entry of journald's native protocol.
func parseNative(b []byte) (map[string]string, error) {
	fields := map[string]string{}
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			return nil, errors.New("field without a newline")
		}
		head := string(b[:nl])
		b = b[nl+1:]
		var k, v string
		if eq := strings.IndexByte(head, '='); eq >= 0 {
			k, v = head[:eq], head[eq+1:]
		} else {
			if len(b) < 8 {
				return nil, fmt.Errorf("%s: no length", head)
			}
			n := binary.LittleEndian.Uint64(b)
			b = b[8:]
			if n > uint64(len(b)) || n == uint64(len(b)) || b[n] != '\n' {
				return nil, fmt.Errorf("%s: bad length %d", head, n)
			}
			k, v = head, string(b[:n])
			b = b[n+1:]
		}
		if k == "" || strings.Trim(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" || k[0] == '_' {
			return nil, fmt.Errorf("bad field name %q", k)
		}
		if _, dup := fields[k]; dup {
			return nil, fmt.Errorf("field %s twice", k)
		}
		fields[k] = v
	}
	return fields, nil
}

func TestJournalEntryFields(t *testing.T) {
	m := advisedMessage(t)
	f, err := parseNative(journalEntry(m))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"MESSAGE_ID": "d51aa83a71b4407b933439b74dad83d1", "PRIORITY": "4", "SYSLOG_IDENTIFIER": "lmn-notify",
		"LMN_ISSUE": "a", "LMN_UNIT": "a.service", "LMN_SCOPE": "system", "LMN_ACTION": "advise",
		"LMN_OUTCOME": "advised", "LMN_TIER": "advise", "LMN_RULE": "unit_failed", "LMN_EVENT": "advised",
		"LMN_ADVICE": "run as root: systemctl restart -- a.service", "LMN_HOST": "web1",
	} {
		if f[k] != want {
			t.Errorf("%s = %q, want %q", k, f[k], want)
		}
	}
	if !strings.HasPrefix(f["MESSAGE"], "[web1] needs a person: a.service (system) has failed\n") {
		t.Errorf("MESSAGE %q", f["MESSAGE"])
	}
}

// FuzzJournalEntry holds the encoder to the protocol: whatever the stream
// puts in a summary, advice or subject, the entry parses back to the same
// values and gains no field.
func FuzzJournalEntry(f *testing.F) {
	f.Add("a.service has failed", "systemctl restart a", "unit", "a.service")
	f.Add("x\nMESSAGE_ID=00000000000000000000000000000000", "two\nlines", "scope", "user\n")
	f.Add("", "", "", "")
	f.Add("=", "\x00\xff", "issue", "shadow")
	f.Fuzz(func(t *testing.T, summary, advice, key, value string) {
		m := &Message{Event: "gave_up", Host: "h", Issue: "i", Summary: summary, Advice: advice,
			Subject: map[string]string{key: value}, Pause: DefaultPauseFile}
		fields, err := parseNative(journalEntry(m))
		if err != nil {
			t.Fatalf("entry does not parse: %v", err)
		}
		if fields["MESSAGE_ID"] != "75ba04f1b6d04031bd4cb8708283fe52" || fields["LMN_ISSUE"] != "i" {
			t.Errorf("fields changed: %q", fields)
		}
		if summary != "" && fields["LMN_SUMMARY"] != summary || advice != "" && fields["LMN_ADVICE"] != advice {
			t.Errorf("values changed: %q", fields)
		}
		if name, ok := subjectField(key); ok && value != "" && fields[name] != value && name != "LMN_ISSUE" && name != "LMN_SUMMARY" && name != "LMN_ADVICE" && name != "LMN_HOST" && name != "LMN_EVENT" && name != "LMN_PAUSE_FILE" && name != "LMN_TS" {
			t.Errorf("subject %s=%q is %q", name, value, fields[name])
		}
	})
}

// journalSocket is a datagram socket that reads entries as journald
// does: a datagram, or an empty one carrying a memfd.
type journalSocket struct {
	conn *net.UnixConn
	path string
}

func listenJournal(t *testing.T) *journalSocket {
	path := filepath.Join(t.TempDir(), "socket")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &journalSocket{conn: conn, path: path}
}

func (s *journalSocket) read(t *testing.T) (map[string]string, bool) {
	t.Helper()
	buf := make([]byte, 1<<20)
	oob := make([]byte, unix.CmsgSpace(4))
	s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, oobn, _, _, err := s.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatal(err)
	}
	data, viaMemfd := buf[:n], false
	if oobn > 0 {
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			t.Fatalf("control message: %v %v", fds, err)
		}
		seals, _ := unix.FcntlInt(uintptr(fds[0]), unix.F_GET_SEALS, 0)
		if seals&unix.F_SEAL_WRITE == 0 {
			t.Errorf("memfd not sealed against writes (seals %#x): journald refuses it", seals)
		}
		f := os.NewFile(uintptr(fds[0]), "memfd")
		defer f.Close()
		f.Seek(0, 0)
		var b bytes.Buffer
		b.ReadFrom(f)
		data, viaMemfd = b.Bytes(), true
	}
	fields, err := parseNative(data)
	if err != nil {
		t.Fatal(err)
	}
	return fields, viaMemfd
}

func TestJournaldDatagramAndMemfd(t *testing.T) {
	sock := listenJournal(t)
	ch := &journaldChannel{socket: sock.path}
	m := advisedMessage(t)
	if err := ch.send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if f, memfd := sock.read(t); memfd || f["LMN_ISSUE"] != "a" {
		t.Errorf("small entry: memfd %v, fields %q", memfd, f)
	}
	big := strings.Repeat("advice that does not fit a datagram ", 12000) // about 430 KB
	m.Advice = big
	if err := ch.send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if f, memfd := sock.read(t); !memfd || f["LMN_ADVICE"] != big {
		t.Errorf("large entry: memfd %v, advice of %d bytes", memfd, len(f["LMN_ADVICE"]))
	}
}

// startJournald runs the machine's systemd-journald in a mount namespace
// of its own, where /run/systemd/journal, /run/log/journal and
// /var/log/journal are directories of the test, so it touches nothing of
// the host: it runs without systemd as PID 1 (this machine's PID 1 is
// not systemd). It returns the socket path and the directory journalctl reads.
func startJournald(t *testing.T) (socket, journal string) {
	t.Helper()
	const journald = "/lib/systemd/systemd-journald"
	switch {
	case os.Geteuid() != 0:
		t.Skip("a private systemd-journald needs root (mount namespace)")
	case !exists(journald):
		t.Skip("no " + journald)
	}
	for _, tool := range []string{"unshare", "journalctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip("no " + tool)
		}
	}
	dir := t.TempDir()
	for _, d := range []string{"sock", "run", "var"} {
		os.Mkdir(filepath.Join(dir, d), 0o755)
	}
	// Fresh tmpfs over /run and /var/log (in the namespace only), so every
	// directory made here is made in them, never on the host.
	script := `set -e
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/log
mkdir -p /run/systemd/journal /run/log/journal /var/log/journal
mount --bind "$1/sock" /run/systemd/journal
mount --bind "$1/run" /run/log/journal
mount --bind "$1/var" /var/log/journal
exec ` + journald
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Skipf("unshare: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	socket = filepath.Join(dir, "sock", "socket")
	for deadline := time.Now().Add(10 * time.Second); !exists(socket); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			t.Skipf("systemd-journald did not start in a private mount namespace: %s", out.String())
		}
	}
	return socket, filepath.Join(dir, "run")
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// journalEntries reads the entries of MESSAGE_ID id with journalctl.
func journalEntries(t *testing.T, dir, id string, want int) []map[string]any {
	t.Helper()
	var entries []map[string]any
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		sub, _ := filepath.Glob(filepath.Join(dir, "*"))
		if len(sub) == 0 {
			continue
		}
		out, err := exec.Command("journalctl", "--directory="+sub[0], "MESSAGE_ID="+id, "-o", "json", "--all", "--no-pager").Output()
		if err != nil {
			continue
		}
		entries = entries[:0]
		sc := bufio.NewScanner(bytes.NewReader(out))
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			var e map[string]any
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				entries = append(entries, e)
			}
		}
		if len(entries) >= want {
			return entries
		}
	}
	t.Fatalf("journalctl found %d entries of MESSAGE_ID=%s, want %d", len(entries), id, want)
	return nil
}

func TestRealJournaldStoresTheEntries(t *testing.T) {
	socket, dir := startJournald(t)
	ch := &journaldChannel{socket: socket}
	m := advisedMessage(t)
	if err := ch.send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	big := *m
	big.Event, big.Advice = "gave_up", strings.Repeat("a long advice ", 30000) // 420 KB: through a memfd
	if err := ch.send(context.Background(), &big); err != nil {
		t.Fatal(err)
	}
	e := journalEntries(t, dir, "d51aa83a71b4407b933439b74dad83d1", 1)[0]
	for k, want := range map[string]string{"LMN_ISSUE": "a", "LMN_UNIT": "a.service", "LMN_ACTION": "advise",
		"LMN_OUTCOME": "advised", "LMN_TIER": "advise", "PRIORITY": "4", "SYSLOG_IDENTIFIER": "lmn-notify"} {
		if e[k] != want {
			t.Errorf("journal %s = %v, want %q", k, e[k], want)
		}
	}
	if msg, _ := e["MESSAGE"].(string); !strings.Contains(msg, "What to do: run as root: systemctl restart -- a.service") {
		t.Errorf("journal MESSAGE %q", msg)
	}
	g := journalEntries(t, dir, "75ba04f1b6d04031bd4cb8708283fe52", 1)[0]
	if adv, _ := g["LMN_ADVICE"].(string); adv != big.Advice {
		t.Errorf("the memfd entry's advice is %d bytes, want %d", len(adv), len(big.Advice))
	}
}

func TestCatalogCoversEveryEventAndCompiles(t *testing.T) {
	data, err := os.ReadFile("lmn.catalog")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		if id, ok := strings.CutPrefix(l, "-- "); ok {
			ids[id] = true
		}
	}
	for _, e := range events {
		if !ids[e.MessageID] {
			t.Errorf("lmn.catalog has no entry for %s (%s)", e.Name, e.MessageID)
		}
		delete(ids, e.MessageID)
	}
	if len(ids) > 0 {
		t.Errorf("lmn.catalog has entries for no event: %v", ids)
	}
	if _, err := exec.LookPath("journalctl"); err != nil {
		t.Skip("journalctl not installed: the catalog is not compiled")
	}
	root := t.TempDir()
	cat := filepath.Join(root, "usr/lib/systemd/catalog")
	os.MkdirAll(cat, 0o755)
	os.WriteFile(filepath.Join(cat, "lmn.catalog"), data, 0o644)
	if out, err := exec.Command("journalctl", "--root="+root, "--update-catalog").CombinedOutput(); err != nil {
		t.Fatalf("journalctl --update-catalog: %v: %s", err, out)
	}
	out, err := exec.Command("journalctl", "--root="+root, "--list-catalog").CombinedOutput()
	if err != nil {
		t.Fatalf("journalctl --list-catalog: %v: %s", err, out)
	}
	for _, e := range events {
		if !strings.Contains(string(out), e.MessageID) {
			t.Errorf("compiled catalog lacks %s:\n%s", e.MessageID, out)
		}
	}
}
