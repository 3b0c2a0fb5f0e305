#!/usr/bin/env bash
# bench/heal-latency.sh: time to heal and to detect, lmn (events on, at its
# 30 s tick) next to systemd's own Restart= and Monit, measured in one run.
#
# e2e benchmarks, each against real parts (see e2e/events_bench_test.go):
#   BenchmarkTimeToHeal       a user unit of a private systemd manager
#                             (internal/systemd/sdtest) crashes RUNS times at
#                             a random point of the interval; the whole pipe
#                             (lmn-collect --interval INTERVAL --units user |
#                             lmn-detect | lmn-heal | lmn-dash): failure ->
#                             restart issued (lmn-heal's `started`), -> done,
#                             -> unit running again, -> `recovered`
#   BenchmarkSystemdRestart   the same unit with Restart=on-failure
#                             (RestartSec= default 100 ms): exit -> next start
#   BenchmarkMonitRestart     the same script under Monit (`set daemon
#                             MONIT_CYCLE`, pid file check): exit -> next start
#   BenchmarkLinkDownToIssue  a veth set down in lmn-collect's own network
#                             namespace -> interface_down issue
#   BenchmarkOOMToIssue       a unit's main process OOM-killed in a 16 MiB v1
#                             memory cgroup -> unit_failed issue
#   BenchmarkOOMEvent         an OOM kill in a watched service's cgroup -> the
#                             sample it causes
#   BenchmarkPressureToIssue  memory load in a 32 MiB cgroup -> an issue on the
#                             machine's memory pressure, PRESSURE_RUNS times
#
# Needs root, systemd (not as PID 1), iproute2 and monit; a benchmark whose
# part is missing skips and says so.
#
# Usage: bench/heal-latency.sh [RUNS] [INTERVAL]     (default 20 30s)
# Environment: MONIT_CYCLE=30 MONIT_RUNS=RUNS PRESSURE_RUNS=5 ONLY=regexp
set -euo pipefail

runs=${1:-20}
interval=${2:-30s}
cycle=${MONIT_CYCLE:-30}
monit_runs=${MONIT_RUNS:-$runs}
pressure_runs=${PRESSURE_RUNS:-5}
only=${ONLY:-.}
cd "$(dirname "$0")/.."

printf '%s, %s CPUs, load %s, %s\n' "$(uname -sr)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(date -u +%FT%TZ)"

bench() { # name benchtime [flags...]
	local name=$1 n=$2
	shift 2
	[[ $name =~ $only ]] || return 0
	nice go test ./e2e/ -run '^$' -bench "^$name\$" -benchtime "${n}x" "$@" 2>&1 |
		grep -E '^(Benchmark|ok|FAIL|---)|^    [a-z_]+_test\.go:[0-9]+: .*runs:|skip' | grep -v ' 1 runs:' || true
}

bench BenchmarkTimeToHeal "$runs" -heal-interval="$interval"
bench BenchmarkSystemdRestart "$runs"
bench BenchmarkMonitRestart "$monit_runs" -monit-cycle="$cycle"
bench BenchmarkLinkDownToIssue "$runs"
bench BenchmarkOOMToIssue "$runs"
bench BenchmarkOOMEvent "$runs"
bench BenchmarkPressureToIssue "$pressure_runs"

# Prometheus: scrape_interval and evaluation_interval default to 1m; the
# node-mixin's NodeSystemdServiceFailed alert has for: 5m; Alertmanager's
# group_wait defaults to 30s. Prometheus and Alertmanager only notify: a
# person or a webhook receiver still has to restart the unit.
scrape=60 eval=60 hold=300 group_wait=30
echo
printf 'Prometheus + Alertmanager, from their defaults (scrape %ss, eval %ss, for %ss, group_wait %ss): notification after %s to %s s, no restart\n' \
	"$scrape" "$eval" "$hold" "$group_wait" $((hold + group_wait)) $((scrape + eval + hold + group_wait))
