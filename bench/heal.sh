#!/bin/sh
# lmn-heal throughput: the whole filter in --dry-run over a realistic
# stream (10 000 samples of a small machine, issues firing and resolving),
# against a bare decode of the same lines into record.Sample, alternated in
# one run. See docs/PERFORMANCE.md (lmn-heal).
set -eu
cd "$(dirname "$0")/.."
exec go test -run '^$' -bench '^BenchmarkHeal$' -benchtime "${BENCHTIME:-5x}" -count "${COUNT:-3}" ./cmd/lmn-heal
