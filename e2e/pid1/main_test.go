package pid1

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/privproto"
)

// Where the module puts the socket and the key (nix/module/units.nix,
// services.luminous-healing.hmacKeyFile's default).
const (
	socketPath = "/run/luminous/privd.sock"
	keyPath    = "/var/lib/luminous-healing/hmac.key"
)

// clientEnv makes this test binary, copied into the container and run as
// the client user, send one request and print the answer (see runClient).
const clientEnv = "LMN_PID1_CLIENT"

// privdBin is lmn-privd built for this run.
var privdBin string

func TestMain(m *testing.M) {
	if os.Getenv(clientEnv) == "1" {
		os.Exit(runClient(os.Args[1:]))
	}
	dir, err := os.MkdirTemp("", "lmn-pid1-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "pid1: temp dir:", err)
		os.Exit(1)
	}
	privdBin = filepath.Join(dir, "lmn-privd")
	build := exec.Command("go", "build", "-buildvcs=false", "-o", privdBin, "./cmd/lmn-privd")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "pid1: go build ./cmd/lmn-privd: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// answer is what runClient prints: the result, or the error's text.
type answer struct {
	Result action.Result `json:"result"`
	Error  string        `json:"error,omitempty"`
}

// runClient sends ACTION key=value… to the daemon at socketPath with the
// key at keyPath, as lmn-heal's privd tier does, and prints an answer.
func runClient(args []string) int {
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "usage: ACTION [key=value…]")
		return 2
	}
	req := action.Request{Action: args[0], Params: map[string]string{}}
	for _, kv := range args[1:] {
		k, v, _ := strings.Cut(kv, "=")
		req.Params[k] = v
	}
	key, err := privproto.LoadKey(keyPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c := privproto.Client{Socket: socketPath, Key: key}
	res, err := c.Do(context.Background(), req)
	a := answer{Result: res}
	if err != nil {
		a.Error = err.Error()
	}
	json.NewEncoder(os.Stdout).Encode(a)
	return 0
}
