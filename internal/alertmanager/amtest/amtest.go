// Package amtest runs a real Alertmanager (Debian's
// prometheus-alertmanager) for tests: on loopback, on ephemeral ports, with
// its storage in a temporary directory, stopped and reaped when the test
// ends. Peers can be clustered: the second learns the first's gossip
// address from its API, so no port is ever guessed.
package amtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Binary finds the Alertmanager binary, or says why there is none.
func Binary() (string, error) {
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Alertmanager on PATH (Debian package prometheus-alertmanager)")
}

// Options shape one Alertmanager.
type Options struct {
	// Config is alertmanager.yml.
	Config string
	// Cluster turns gossip on (on loopback, an ephemeral port); Join are
	// peers to join, each also started with Cluster.
	Cluster bool
	Join    []*Alertmanager
	// PeerTimeout is --cluster.peer-timeout: how long a peer waits per
	// position before it notifies too ("" keeps Alertmanager's 15s).
	PeerTimeout string
}

// Alertmanager is one running Alertmanager.
type Alertmanager struct {
	URL     string // http://127.0.0.1:PORT
	Cluster string // its gossip address, when clustered

	cmd  *exec.Cmd
	log  lockedBuffer
	done chan struct{}
}

// Start runs an Alertmanager for t and waits until it answers. It skips t
// when no Alertmanager is installed.
func Start(t testing.TB, o Options) *Alertmanager {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(o.Config), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config.file=" + cfg, "--storage.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:0", "--log.level=debug"}
	if o.Cluster || len(o.Join) > 0 {
		args = append(args, "--cluster.listen-address=127.0.0.1:0", "--cluster.advertise-address=127.0.0.1:0",
			"--cluster.gossip-interval=50ms", "--cluster.pushpull-interval=1s")
		for _, p := range o.Join {
			args = append(args, "--cluster.peer="+p.Cluster)
		}
		if o.PeerTimeout != "" {
			args = append(args, "--cluster.peer-timeout="+o.PeerTimeout)
		}
	} else {
		args = append(args, "--cluster.listen-address=")
	}
	am := &Alertmanager{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	am.cmd.Dir = dir
	stderr, err := am.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := am.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	addr := make(chan string, 1)
	go am.copyLog(stderr, addr)
	go func() { am.cmd.Wait(); close(am.done) }()
	t.Cleanup(func() { am.stop(t) })
	select {
	case a := <-addr:
		am.URL = "http://" + a
	case <-am.done:
		t.Fatalf("alertmanager exited at start:\n%s", am.Log())
	case <-time.After(20 * time.Second):
		t.Fatalf("alertmanager does not listen after 20s:\n%s", am.Log())
	}
	am.waitReady(t, o.Cluster || len(o.Join) > 0)
	return am
}

var listening = regexp.MustCompile(`msg="Listening on" address=(\S+)`)

func (am *Alertmanager) copyLog(r io.Reader, addr chan<- string) {
	sc := bufio.NewScanner(r)
	sent := false
	for sc.Scan() {
		line := sc.Text()
		am.log.Write([]byte(line + "\n"))
		if m := listening.FindStringSubmatch(line); m != nil && !sent {
			addr <- m[1]
			sent = true
		}
	}
}

// waitReady polls /-/ready and, when clustered, reads the gossip address.
func (am *Alertmanager) waitReady(t testing.TB, cluster bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for ; ; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager at %s not ready after 20s:\n%s", am.URL, am.Log())
		}
		resp, err := http.Get(am.URL + "/-/ready")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			continue
		}
		if !cluster {
			return
		}
		var st struct {
			Cluster struct {
				Name  string `json:"name"`
				Peers []struct {
					Address string `json:"address"`
					Name    string `json:"name"`
				} `json:"peers"`
			} `json:"cluster"`
		}
		if err := am.Get("/api/v2/status", &st); err != nil {
			continue
		}
		for _, p := range st.Cluster.Peers {
			if p.Name == st.Cluster.Name {
				am.Cluster = p.Address
				return
			}
		}
	}
}

// Peers is how many members this peer sees in its cluster, itself included.
func (am *Alertmanager) Peers(t testing.TB) int {
	t.Helper()
	var st struct {
		Cluster struct {
			Peers  []json.RawMessage `json:"peers"`
			Status string            `json:"status"`
		} `json:"cluster"`
	}
	if err := am.Get("/api/v2/status", &st); err != nil {
		t.Fatal(err)
	}
	return len(st.Cluster.Peers)
}

// Get decodes the JSON answer of GET path.
func (am *Alertmanager) Get(path string, out any) error {
	resp, err := http.Get(am.URL + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Post posts body (JSON) to path and fails the test unless it is accepted;
// it returns the answer.
func (am *Alertmanager) Post(t testing.TB, path, body string) []byte {
	t.Helper()
	resp, err := http.Post(am.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s: %s", path, resp.Status, b)
	}
	return b
}

// Silence posts a silence with the given matchers (name=value, equality)
// for d, and returns its id.
func (am *Alertmanager) Silence(t testing.TB, d time.Duration, comment string, matchers ...string) string {
	t.Helper()
	type matcher struct {
		Name    string `json:"name"`
		Value   string `json:"value"`
		IsRegex bool   `json:"isRegex"`
		IsEqual bool   `json:"isEqual"`
	}
	var ms []matcher
	for _, m := range matchers {
		k, v, _ := strings.Cut(m, "=")
		ms = append(ms, matcher{Name: k, Value: v, IsEqual: true})
	}
	now := time.Now().UTC()
	b, _ := json.Marshal(map[string]any{"matchers": ms, "startsAt": now, "endsAt": now.Add(d),
		"createdBy": "amtest", "comment": comment})
	var out struct {
		ID string `json:"silenceID"`
	}
	if err := json.Unmarshal(am.Post(t, "/api/v2/silences", string(b)), &out); err != nil || out.ID == "" {
		t.Fatalf("silence: %v", err)
	}
	return out.ID
}

// Log is what Alertmanager logged so far.
func (am *Alertmanager) Log() string { return am.log.String() }

func (am *Alertmanager) stop(t testing.TB) {
	select {
	case <-am.done:
	default:
		am.cmd.Process.Signal(os.Interrupt)
		select {
		case <-am.done:
		case <-time.After(10 * time.Second):
			am.cmd.Process.Kill()
			<-am.done
		}
	}
	if t.Failed() {
		t.Logf("alertmanager %s log:\n%s", am.URL, am.Log())
	}
}

// Wait polls cond every 50 ms until it holds or timeout passes; it returns
// whether it held.
func Wait(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
