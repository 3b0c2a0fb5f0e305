package sdtest_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/lmn-heal/lmn/internal/systemd/sdtest"
)

// A small program (a benchmark driver, the end-to-end suite) can run the
// sandbox without the testing package. The directory must be short: the
// manager's socket lives at DIR/run/systemd/private.
func ExampleStartManager() {
	if err := sdtest.Available(); err != nil {
		log.Fatal(err) // not root, no systemd, no cgroup2...
	}
	dir, err := os.MkdirTemp("", "lmn-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	m, err := sdtest.StartManager(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := m.Close(); err != nil { // also reports anything left behind
			log.Print(err)
		}
	}()
	ctx := context.Background()
	if err := m.InstallUnit(ctx, "demo.service", "[Service]\nExecStart=/bin/sleep 60\n"); err != nil {
		log.Fatal(err)
	}
	if _, err := m.Output(ctx, "start", "demo.service"); err != nil {
		log.Fatal(err)
	}
	st, err := m.UnitState(ctx, "demo.service")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Active, st.Sub)
	// Other programs reach the manager with m.Systemctl() and m.Env():
	// nsenter -t PID -m -- systemctl --user ... with XDG_RUNTIME_DIR set.
}
