#!/usr/bin/env bash
# bench/detect.sh: lmn-detect's throughput, measured side by side in one run
# with its floor. (a) the Go benchmarks: samples/s through run() with the
# default rules, a bare json.Unmarshal of the same lines into record.Sample,
# and the pass-through alone (record.Reader + Writer); (b) a day at 1 s:
# 86 400 samples derived from a real sample of this machine (lmn-collect,
# falling back to a built-in one) replayed through the whole binary, next to
# a bare decode of the same file.
#
# Usage: bench/detect.sh        (from anywhere; needs go; hyperfine is used
#        when installed; touches nothing outside a temp dir)
# Knobs: SAMPLES=86400 BENCHTIME=3x RUNS=3
set -euo pipefail
cd "$(dirname "$0")/.."

SAMPLES=${SAMPLES:-86400}
BENCHTIME=${BENCHTIME:-3x}
RUNS=${RUNS:-3}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "# lmn-detect benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"

# (a) In-process: detect vs bare decode vs pass-through, and the two
# interleaved block by block (the ratio to read on a busy machine).
go test -run '^$' -bench 'Detect|DecodeFloor|PassThrough' -benchtime "$BENCHTIME" ./cmd/lmn-detect | grep '^Benchmark'
# The sample decoder alone: for the default rules' fields, in full, and
# json.Unmarshal, over the same real-looking lines.
go test -run '^$' -bench 'SampleDecoder' -benchtime 100x ./internal/detect | grep '^Benchmark'

# (b) A day at 1 s through the whole binary.
go build -o "$tmp/lmn-detect" ./cmd/lmn-detect
go build -o "$tmp/lmn-collect" ./cmd/lmn-collect 2>/dev/null && \
	timeout 30 "$tmp/lmn-collect" --interval 1s --count 2 >"$tmp/real.ndjson" 2>/dev/null || true
go build -o "$tmp/detectgen" ./bench/detectgen
echo '{"rules": []}' >"$tmp/none.json"
template=()
if grep -q '"kind":"sample"' "$tmp/real.ndjson" 2>/dev/null; then
	template=(-template "$tmp/real.ndjson")
	echo "template: a real sample of this machine"
else
	echo "template: the built-in sample (lmn-collect did not run)"
fi
"$tmp/detectgen" "${template[@]}" -n "$SAMPLES" -step 1s >"$tmp/day.ndjson"
echo "day: $SAMPLES samples, $(du -m "$tmp/day.ndjson" | cut -f1) MB, $(head -c 1000000 "$tmp/day.ndjson" | head -n 1 | wc -c) bytes a line"

# CPU seconds (user+sys) say more than wall time on a busy shared machine.
cpu() { /usr/bin/time -f "%U %S %e" -o "$tmp/time" "$@" && awk '{printf "%.2fs CPU, %.2fs wall", $1 + $2, $3}' "$tmp/time"; }
for _ in $(seq "$RUNS"); do
	echo "bare decode of the day (floor):  $(cpu sh -c "'$tmp/detectgen' -decode '$tmp/day.ndjson' >/dev/null")"
	echo "lmn-detect over the day:         $(cpu sh -c "'$tmp/lmn-detect' <'$tmp/day.ndjson' >'$tmp/out.ndjson'")"
	echo "lmn-detect, no rules (passing): $(cpu sh -c "'$tmp/lmn-detect' --rules '$tmp/none.json' <'$tmp/day.ndjson' >/dev/null")"
done
if command -v hyperfine >/dev/null; then
	hyperfine --runs "$RUNS" --warmup 0 \
		"$tmp/lmn-detect < $tmp/day.ndjson > $tmp/out.ndjson" \
		"$tmp/lmn-detect --only-issues < $tmp/day.ndjson > $tmp/out.ndjson"
else
	for _ in $(seq "$RUNS"); do
		/usr/bin/time -f "lmn-detect: %es elapsed, %Us user, %MkB max RSS" "$tmp/lmn-detect" <"$tmp/day.ndjson" >"$tmp/out.ndjson"
	done
fi
echo "issues in the day: $(grep -c '"kind":"issue"' "$tmp/out.ndjson" || true)"
