#!/usr/bin/env bash
# bench/fleet.sh: lmn as Alertmanager's webhook receiver.
#
# 1. cmd/lmn-detect's BenchmarkReceiverLatency: receipt -> 2xx of ALERTS
#    alerts posted at 100 a second, with samples on stdin at a live rate and
#    with a replay saturating both cores. Runs anywhere.
# 2. e2e's BenchmarkFleetScrapeToRestart: real Prometheus and Alertmanager
#    with the test's short intervals (scrape and evaluation 1s, resend
#    delay 1s, group_wait 0s, group_interval 1s); nginx, a unit of a
#    sandboxed manager, killed RUNS times: kill -> firing webhook -> lmn-heal's
#    restart issued -> restart done. Needs root, systemd, prometheus,
#    prometheus-alertmanager and nginx-light; it skips (says so) elsewhere.
# 3. What default Prometheus and Alertmanager settings take to notify.
#
# Usage: bench/fleet.sh [ALERTS] [RUNS]     (default 1000 10)
set -euo pipefail

alerts=${1:-1000}
runs=${2:-10}
cd "$(dirname "$0")/.."
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"

go test ./cmd/lmn-detect/ -run '^$' -bench '^BenchmarkReceiverLatency$' -benchtime "${alerts}x" 2>&1 |
	grep -E '^(Benchmark|goos|cpu|ok|FAIL|---)' || true
nice go test ./e2e/ -run '^$' -bench '^BenchmarkFleetScrapeToRestart$' -benchtime "${runs}x" 2>&1 |
	grep -E '^(Benchmark|goos|cpu|ok|FAIL|---)|^    [a-z_]+_test\.go:[0-9]+: ' || true

# Defaults: scrape_interval and evaluation_interval 1m, a rule's for: 5m
# (node-mixin's NodeSystemdServiceFailed), Alertmanager's group_wait 30s.
scrape=60 eval=60 hold=300 group_wait=30
echo
printf 'Prometheus + Alertmanager defaults (scrape %ss, eval %ss, for %ss, group_wait %ss): notification after %s to %s s\n' \
	"$scrape" "$eval" "$hold" "$group_wait" $((hold + group_wait)) $((scrape + eval + hold + group_wait))
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
