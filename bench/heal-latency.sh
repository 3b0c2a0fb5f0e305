#!/usr/bin/env bash
# bench/heal-latency.sh: time to heal, lmn against what its peers' shipped
# defaults allow.
#
# lmn: e2e's BenchmarkTimeToHeal fails a user unit of a private systemd
# manager (internal/systemd/sdtest) RUNS times at a random point of the
# collection interval, and times the whole pipe
# (lmn-collect --interval INTERVAL --units user | lmn-detect | lmn-heal | lmn-dash):
# failure -> restart issued (lmn-heal's `started` record), -> restart done,
# -> unit running again, -> `recovered`. Needs root and systemd; it skips
# (says so) elsewhere.
#
# Peers: computed from their defaults, read from this machine's installed
# configuration where there is one; see docs/PERFORMANCE.md for the sources.
#
# Usage: bench/heal-latency.sh [RUNS] [INTERVAL]     (default 10 1s)
set -euo pipefail

runs=${1:-10}
interval=${2:-1s}
cd "$(dirname "$0")/.."

go test ./e2e/ -run '^$' -bench '^BenchmarkTimeToHeal$' -benchtime "${runs}x" -heal-interval "$interval" 2>&1 |
	grep -E '^(Benchmark|goos|cpu|ok|FAIL|---)|^    [a-z_]+_test\.go:[0-9]+: ' || true

# Monit: a failed check is acted on at the next poll cycle (`set daemon N`),
# and seen running again one cycle later.
monitrc=/etc/monit/monitrc
cycle=$(awk '/^[[:space:]]*set[[:space:]]+daemon/ {print $3; exit}' "$monitrc" 2>/dev/null || true)
echo
echo "Peers, from their defaults (worst case; a failure lands at a random point, so about half on average):"
if [[ -n "$cycle" ]]; then
	printf '  monit (%s: set daemon %s): restart issued within %s s, seen running within %s s\n' \
		"$monitrc" "$cycle" "$cycle" $((2 * cycle))
else
	echo "  monit: no $monitrc here; upstream's monitrc sets 'set daemon 30': restart within 30 s"
fi
# Prometheus: scrape_interval and evaluation_interval default to 1m; the
# node-mixin's NodeSystemdServiceFailed alert has for: 5m; Alertmanager's
# group_wait defaults to 30s. Prometheus and Alertmanager only notify: a
# person or a webhook receiver still has to restart the unit.
scrape=60 eval=60 hold=300 group_wait=30
printf '  Prometheus + Alertmanager (scrape %ss, eval %ss, for %ss, group_wait %ss): notification after %s to %s s, no restart\n' \
	"$scrape" "$eval" "$hold" "$group_wait" $((hold + group_wait)) $((scrape + eval + hold + group_wait))
