#!/bin/sh
# lmn-privd performance: authenticated ping round trips (p50/p99 over a
# loop of 10 000, in-process server on a real Unix socket) and the
# daemon's resident memory before/after 100 000 pings (subprocess daemon).
# Targets: p50 < 200 µs; RSS < 15 MiB with no growth.
# Usage: bench/privd.sh [count]   (run from the repository root)
set -eu
cd "$(dirname "$0")/.."
count=${1:-1}
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -srm) $(nproc) cpus, $(go version)"
go test -run '^$' -bench '^BenchmarkPing$' -benchtime 10000x -count "$count" ./internal/privd
go test -run '^$' -bench '^BenchmarkDaemonRSS$' -benchtime 1x -count "$count" ./cmd/lmn-privd
