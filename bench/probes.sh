#!/usr/bin/env bash
# bench/probes.sh: service health (issue 13), measured side by side.
#
# 1. A hung redis (SIGSTOP), lmn against Monit at the same probe period,
#    in one run: e2e's BenchmarkHungRedis (needs root, systemd, redis-server
#    and monit; it skips and says so elsewhere). RUNS stops, PERIOD apart.
# 2. 20 probes at a 5 s interval, the CPU and RSS lmn-collect adds against
#    Monit doing the same 20 checks: e2e's BenchmarkProbeCost (needs
#    redis-server, nginx-light and monit), for COST_FOR.
# 3. The watched units' own cgroups with 100 services, per sample
#    (internal/collect BenchmarkMemUnits100), next to one whole sample of
#    this machine and the 10 s rescan of 100 services, in one run.
#
# See docs/PERFORMANCE.md (Service health).
# Usage: bench/probes.sh     knobs: RUNS=5 PERIOD=2s COST_FOR=60s BENCHTIME=2s
set -euo pipefail
cd "$(dirname "$0")/.."
filter='^(Benchmark|goos|cpu|ok|FAIL|---)|^    [a-z_]+_test\.go:[0-9]+: '

echo "== load: $(uptime)"
go test ./e2e/ -run '^$' -bench '^BenchmarkHungRedis$' -benchtime "${RUNS:-5}x" -probe-period "${PERIOD:-2s}" 2>&1 | grep -E "$filter" || true
echo "== load: $(uptime)"
go test ./e2e/ -run '^$' -bench '^BenchmarkProbeCost$' -benchtime 1x -probe-cost-for "${COST_FOR:-60s}" 2>&1 | grep -E "$filter" || true
echo "== load: $(uptime)"
go test ./internal/collect/ -run '^$' -bench '^Benchmark(MemUnits100|TopUnits100|Sample)$' -benchtime "${BENCHTIME:-2s}" -count 3 2>&1 | grep -E "$filter" || true
