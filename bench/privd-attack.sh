#!/bin/sh
# lmn-privd under attack (issue 19), after the fixes: each attack against
# the real daemon (the test binary as `lmn-privd serve`, a subprocess) over
# its real Unix socket, with a legitimate ping every 10 ms during it.
# Prints attempts, refused, executed, the daemon's VmRSS after the attack
# and the pings' p50/p99 (and refusals); then what verify-audit finds in a
# 10 000-line log, 100 trials per kind of tampering.
#
# As root for everything: the slowloris runs as uid 65534 in processes of
# its own, and kill_process aims at real processes placed in real cgroups
# (units sshd.service, dbus.service, systemd-journald.service, a session
# scope). Without root those two skip and say so.
#
# Usage: bench/privd-attack.sh     (run from anywhere; takes about 2 minutes)
set -eu
cd "$(dirname "$0")/.."
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -srm) $(nproc) cpus, $(go version), load $(cut -d' ' -f1-3 /proc/loadavg)"
go test -run '^$' -bench '^BenchmarkAttack' -benchtime 1x ./cmd/lmn-privd 2>&1 | grep -E '^(Benchmark|ok|FAIL|---|    )'
go test -run '^$' -bench '^BenchmarkTamperDetection$' -benchtime 1x ./internal/privd 2>&1 | grep -E '^(Benchmark|ok|FAIL|---|    )'
