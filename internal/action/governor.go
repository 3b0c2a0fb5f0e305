package action

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
)

// set_cpu_governor takes either governor=NAME (every policy) or, to restore
// what an earlier call returned, policy=policy0:gov,policy1:gov.

var (
	governorRE = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)
	policyRE   = regexp.MustCompile(`^policy[0-9]{1,5}$`)
)

func checkGovernor(s string) error {
	if !governorRE.MatchString(s) {
		return errors.New("a governor name is 1-32 of [a-z0-9_]")
	}
	return nil
}

// parsePolicies parses "policy0:gov,policy1:gov".
func parsePolicies(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		pol, gov, ok := strings.Cut(item, ":")
		if !ok || !policyRE.MatchString(pol) || checkGovernor(gov) != nil {
			return nil, fmt.Errorf("item %q: want policyN:governor", clip(item))
		}
		if _, dup := out[pol]; dup {
			return nil, fmt.Errorf("policy %q given twice", pol)
		}
		out[pol] = gov
	}
	return out, nil
}

func checkPolicies(s string) error {
	_, err := parsePolicies(s)
	return err
}

func cpufreqDir(env Env) string {
	return filepath.Join(env.SysRoot, "devices/system/cpu/cpufreq")
}

// listPolicies returns the names of the cpufreq policy directories.
func listPolicies(env Env) ([]string, error) {
	ents, err := os.ReadDir(cpufreqDir(env))
	if err != nil {
		return nil, fmt.Errorf("cpufreq: %w", err)
	}
	var out []string
	for _, e := range ents {
		if policyRE.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cpufreq: no policy directories in %s", cpufreqDir(env))
	}
	sort.Strings(out)
	return out, nil
}

// readSmall reads a small sysfs or procfs file without following a final
// symlink.
func readSmall(name string) (string, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// writeSmall writes an existing sysfs or procfs file; it never creates one
// and never follows a final symlink.
func writeSmall(name, value string) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_TRUNC|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(value); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	return f.Close()
}

// wantedGovernors maps each policy to the governor requested for it.
func wantedGovernors(env Env, p map[string]string) (map[string]string, error) {
	gov, hasGov := p["governor"]
	spec, hasPol := p["policy"]
	if hasGov == hasPol {
		return nil, fmt.Errorf("%w: give exactly one of governor= or policy=", ErrInvalid)
	}
	if hasPol {
		return parsePolicies(spec)
	}
	pols, err := listPolicies(env)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, pol := range pols {
		out[pol] = gov
	}
	return out, nil
}

func validateGovernor(env Env, p map[string]string) error {
	want, err := wantedGovernors(env, p)
	if err != nil {
		return err
	}
	for _, pol := range slices.Sorted(mapKeys(want)) {
		avail, err := readSmall(filepath.Join(cpufreqDir(env), pol, "scaling_available_governors"))
		if err != nil {
			return fmt.Errorf("%w: policy %s: %w", ErrInvalid, pol, err)
		}
		if !slices.Contains(strings.Fields(avail), want[pol]) {
			return fmt.Errorf("%w: governor %q not in %s's scaling_available_governors (%s)", ErrInvalid, want[pol], pol, avail)
		}
	}
	return nil
}

func runGovernor(ctx context.Context, env Env, p map[string]string) (Result, error) {
	want, err := wantedGovernors(env, p)
	if err != nil {
		return Result{}, err
	}
	prev := map[string]string{}
	var changed []string
	for _, pol := range slices.Sorted(mapKeys(want)) {
		file := filepath.Join(cpufreqDir(env), pol, "scaling_governor")
		old, err := readSmall(file)
		if err == nil {
			err = writeSmall(file, want[pol]+"\n")
		}
		if err != nil {
			undo(env, changed, prev)
			return Result{}, fmt.Errorf("%s: %w", pol, err)
		}
		prev[pol] = old
		changed = append(changed, pol)
	}
	var parts []string
	for _, pol := range changed {
		parts = append(parts, fmt.Sprintf("%s: %s -> %s", pol, prev[pol], want[pol]))
	}
	return Result{Output: strings.Join(parts, "; "), Restore: prev}, nil
}

// undo puts back the governors of the policies already changed.
func undo(env Env, changed []string, prev map[string]string) {
	for _, pol := range changed {
		writeSmall(filepath.Join(cpufreqDir(env), pol, "scaling_governor"), prev[pol]+"\n")
	}
}

// RestoreRequest returns the request that undoes req given the Result it
// returned, for actions that report one (set_cpu_governor).
func RestoreRequest(req Request, res Result) (Request, bool) {
	if req.Action != "set_cpu_governor" || len(res.Restore) == 0 {
		return Request{}, false
	}
	var parts []string
	for _, pol := range slices.Sorted(mapKeys(res.Restore)) {
		parts = append(parts, pol+":"+res.Restore[pol])
	}
	return Request{Action: req.Action, Params: map[string]string{"policy": strings.Join(parts, ",")}}, true
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func governorCommand(env Env, p map[string]string) string {
	dir := cpufreqDir(env)
	if spec, ok := p["policy"]; ok {
		want, err := parsePolicies(spec)
		if err != nil {
			return ""
		}
		var cmds []string
		for _, pol := range slices.Sorted(mapKeys(want)) {
			cmds = append(cmds, "echo "+shellQuote(want[pol])+" > "+shellQuote(filepath.Join(dir, pol, "scaling_governor")))
		}
		return strings.Join(cmds, "; ")
	}
	return "echo " + shellQuote(p["governor"]) + " | tee " + shellQuote(dir) + "/policy*/scaling_governor"
}

func init() {
	register(&definition{
		spec: Spec{
			Name:    "set_cpu_governor",
			Timeout: 5 * time.Second,
			Doc:     "set the cpufreq governor of every policy (governor=) or of named policies (policy=policy0:gov,...); returns the previous ones in Restore",
			Params: []Param{
				{Name: "governor", Doc: "a governor every policy lists in scaling_available_governors", check: checkGovernor},
				{Name: "policy", Doc: "policyN:governor,... (the restore form)", check: checkPolicies},
			},
		},
		validate: validateGovernor,
		run:      runGovernor,
		target:   fixed("governor"),
		command:  governorCommand,
	})
}
