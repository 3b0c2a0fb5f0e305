package notify

import (
	"bufio"
	"context"
	"io"
	"mime"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mailServer starts a real SMTP server (aiosmtpd) delivering to a Maildir, and
// an msmtp configuration sending to it. It skips where either is missing.
// msmtp is the machine's sendmail (Debian's msmtp-mta): exim4, which can
// deliver to a local mailbox by itself, conflicts with it, so the mail
// goes through msmtp over SMTP on loopback to a mailbox instead.
func mailServer(t *testing.T) (sendmail []string, maildir string) {
	t.Helper()
	const python = "/usr/bin/python3" // Debian's, where python3-aiosmtpd installs
	if err := exec.Command(python, "-c", "import aiosmtpd").Run(); err != nil {
		t.Skip("no aiosmtpd (apt-get install python3-aiosmtpd): no SMTP server to deliver to")
	}
	const sendmailPath = "/usr/sbin/sendmail"
	if real, err := filepath.EvalSymlinks(sendmailPath); err != nil || filepath.Base(real) != "msmtp" {
		t.Skipf("%s is not msmtp (apt-get install msmtp-mta), whose -C points it at the test's server", sendmailPath)
	}
	dir := t.TempDir()
	maildir = filepath.Join(dir, "Maildir")
	cmd := exec.Command(python, "testdata/smtpd.py", maildir)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	port, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("smtpd gave no port: %v", err)
	}
	rc := filepath.Join(dir, "msmtprc")
	conf := "account default\nhost 127.0.0.1\nport " + strings.TrimSpace(port) + "\nfrom lmn@test.invalid\nauth off\ntls off\n"
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// As the configuration would give it: sendmail, with its own file.
	return []string{sendmailPath, "-C", rc}, maildir
}

// readMaildir returns the messages delivered to a Maildir once there are
// want of them.
func readMaildir(t *testing.T, dir string, want int) []*mail.Message {
	t.Helper()
	var msgs []*mail.Message
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(dir, "new", "*"))
		msgs = msgs[:0]
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			m, err := mail.ReadMessage(strings.NewReader(string(data)))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			msgs = append(msgs, m)
		}
		if len(msgs) >= want {
			return msgs
		}
	}
	t.Fatalf("maildir has %d messages, want %d", len(msgs), want)
	return nil
}

func TestMailThroughSendmail(t *testing.T) {
	argv, maildir := mailServer(t)
	ch := &mailChannel{to: []string{"ops@test.invalid"}, argv: argv}
	m := advisedMessage(t)
	// A summary from the stream must not become a header: no Bcc here.
	m.Summary = "café.service (system) has failed\nBcc: evil@test.invalid"
	if err := ch.send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := readMaildir(t, maildir, 1)[0]
	if rcpt := got.Header.Get("X-RcptTo"); rcpt != "ops@test.invalid" {
		t.Errorf("envelope recipients %q, want only ops@test.invalid", rcpt)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(got.Header.Get("Subject"))
	if subject != "[web1] needs a person: café.service (system) has failed Bcc: evil@test.invalid" {
		t.Errorf("subject %q", subject)
	}
	if got.Header.Get("Auto-Submitted") != "auto-generated" || got.Header.Get("X-Lmn-Issue") != "a" {
		t.Errorf("headers %v", got.Header)
	}
	body, _ := io.ReadAll(got.Body)
	for _, want := range []string{"What to do: run as root: systemctl restart -- a.service", "luminous-pause"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
}

func TestMailFailures(t *testing.T) {
	ch := &mailChannel{to: []string{"ops@test.invalid"}, argv: []string{filepath.Join(t.TempDir(), "no-sendmail")}}
	if err := ch.send(context.Background(), advisedMessage(t)); !isPermanent(err) {
		t.Errorf("missing sendmail: %v, want a permanent error", err)
	}
	ch.argv = []string{"sh", "-c", "cat >/dev/null; echo 'sendmail: cannot connect to relay' >&2; exit 75", "sendmail"}
	err := ch.send(context.Background(), advisedMessage(t))
	if err == nil || isPermanent(err) || !strings.Contains(err.Error(), "cannot connect to relay") {
		t.Errorf("sendmail exiting 75: %v, want a retryable error with its message", err)
	}
}

func TestComposeKeepsHeadersOneLine(t *testing.T) {
	ch := &mailChannel{to: []string{"a@b.invalid"}, from: "lmn@b.invalid"}
	m := advisedMessage(t)
	m.Issue = "x\r\nBcc: evil@test.invalid"
	m.Summary = "y\nTo: evil@test.invalid"
	msg, err := mail.ReadMessage(strings.NewReader(string(ch.compose(m, t0))))
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Header["To"]) != 1 || msg.Header.Get("To") != "a@b.invalid" || msg.Header.Get("Bcc") != "" {
		t.Errorf("headers %v", msg.Header)
	}
}
