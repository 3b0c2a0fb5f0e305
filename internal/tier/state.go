package tier

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/heal"
)

// stateTimeout bounds one unit state query.
const stateTimeout = 15 * time.Second

// State answers a Check job: the ActiveState/SubState of the unit
// job.Params["unit"], read from the service manager of its scope with
// `systemctl show`, which any user may run. No tier is climbed and
// nothing acts; --tiers does not apply.
func (l *Runner) State(ctx context.Context, job heal.Job) heal.Result {
	start := l.clock()()
	env := l.Env
	if job.Scope == "user" {
		env = l.UserEnv
	}
	unit := job.Params["unit"]
	if err := action.CheckUnitName(unit); err != nil {
		return heal.Result{Err: fmt.Sprintf("unit %q: %v", unit, err)}
	}
	ctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	argv := append(slices.Clone(env.Systemctl), "show", "--property=ActiveState,SubState", "--", unit)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env.ExtraEnv...)
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	r := heal.Result{Duration: l.clock()().Sub(start)}
	if err != nil {
		r.Err = fmt.Sprintf("%s: %v", strings.Join(argv, " "), err)
		return r
	}
	r.State, err = parseShow(string(out))
	if err != nil {
		r.Err = fmt.Sprintf("%s: %v", strings.Join(argv, " "), err)
	}
	return r
}

// parseShow reads systemctl show's ActiveState= and SubState= lines as
// "active/sub".
func parseShow(out string) (string, error) {
	var active, sub string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "ActiveState":
			active = v
		case "SubState":
			sub = v
		}
	}
	if active == "" {
		return "", fmt.Errorf("no ActiveState in %q", clipOut(out))
	}
	return active + "/" + sub, nil
}

func clipOut(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
