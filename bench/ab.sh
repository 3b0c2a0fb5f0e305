#!/usr/bin/env bash
# bench/ab.sh: two builds measured side by side in one run, interleaved
# A/B/A/B (each round alternates which goes first), so the drift of a
# shared machine's load falls on both alike. A is REV (default main), B is
# the working tree. Per measure it prints both medians, the median of the
# rounds' B/A ratios (each round's pair ran back to back) and their
# quartiles: a ratio whose quartiles straddle 1 is noise.
#
#   (a) lmn-collect, the binary: CPU per sample (SAMPLES at a 1 ms
#       interval, minus a one-sample run), as bench/collect.sh takes it;
#   (b) the Go benchmarks of bench/collect.sh and bench/detect.sh:
#       internal/collect BenchmarkSample and BenchmarkEncodeAppend (CPU per
#       op), internal/detect BenchmarkSampleDecoder (defaults, full) and
#       cmd/lmn-detect BenchmarkDetect (ns per sample);
#   (c) a bench/detectgen day (DAY samples at 1 s) through lmn-detect, and
#       a bare pass-through of it (--rules with no rules): CPU seconds.
#
# Usage: bench/ab.sh [REV]   (needs go and git; touches nothing outside a temp dir)
# Knobs: ROUNDS=5 SAMPLES=2000 DAY=86400
set -euo pipefail
cd "$(dirname "$0")/.."

REV=${1:-main}
ROUNDS=${ROUNDS:-5}
SAMPLES=${SAMPLES:-2000}
DAY=${DAY:-86400}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/A/src" "$tmp/B"
git archive "$REV" | tar -x -C "$tmp/A/src"

echo "# bench/ab.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "A: $REV ($(git rev-parse --short "$REV")), B: the working tree ($(git rev-parse --short HEAD)$(git diff --quiet || echo ', modified'))"

build() { # build DIR SRC
	(cd "$2" && go build -o "$1/" ./cmd/lmn-collect ./cmd/lmn-detect ./bench/detectgen &&
		go test -c -o "$1/collect.test" ./internal/collect &&
		go test -c -o "$1/detect.test" ./internal/detect &&
		go test -c -o "$1/cmddetect.test" ./cmd/lmn-detect)
}
build "$tmp/A" "$tmp/A/src"
build "$tmp/B" .
"$tmp/B/detectgen" -n "$DAY" -step 1s >"$tmp/day.ndjson"
echo '{"rules": []}' >"$tmp/none.json"

cpu() { # cpu CMD... -> CPU seconds (user+sys) of one run, its output discarded
	/usr/bin/time -f "%U %S" -o "$tmp/time" "$@" >/dev/null 2>&1 && awk '{printf "%.4f", $1 + $2}' "$tmp/time"
}
# bench BIN DIR PATTERN UNIT -> one "name value" line per benchmark
bench() {
	(cd "$2" && "$1" -test.run '^$' -test.bench "$3" -test.benchtime "${5:-1x}") |
		awk -v u="$4" '/^Benchmark/ {for (i = 2; i < NF; i++) if ($(i+1) == u) print $1, $i}'
}
measure() { # measure X: every measure of build X, one "name value" line each
	local d=$tmp/$1 src=$tmp/$1/src
	[ "$1" = B ] && src=.
	one=$(cpu "$d/lmn-collect" --interval 1ms --count 1 --units none)
	many=$(cpu "$d/lmn-collect" --interval 1ms --count "$SAMPLES" --units none)
	awk -v a="$many" -v b="$one" -v n="$SAMPLES" 'BEGIN{printf "collect-binary-us/sample %.1f\n", (a - b) / (n - 1) * 1e6}'
	bench "$d/collect.test" "$src/internal/collect" 'BenchmarkSample$|BenchmarkEncodeAppend$' cpu-ns/op 3000x
	bench "$d/detect.test" "$src/internal/detect" 'BenchmarkSampleDecoder/(defaults|full)$' ns/op 300x
	bench "$d/cmddetect.test" "$src/cmd/lmn-detect" 'BenchmarkDetect$' ns/op 10x
	echo "detect-day-cpu-s $(cpu "$d/lmn-detect" <"$tmp/day.ndjson")"
	echo "detect-day-passthrough-cpu-s $(cpu "$d/lmn-detect" --rules "$tmp/none.json" <"$tmp/day.ndjson")"
}
for r in $(seq "$ROUNDS"); do
	order="A B"
	[ $((r % 2)) = 0 ] && order="B A"
	for x in $order; do
		measure "$x" | sed "s/^/$x $r /" >>"$tmp/results"
	done
	echo "round $r of $ROUNDS done, load $(cut -d' ' -f1 /proc/loadavg)" >&2
done
echo
printf "%-36s %12s %12s %8s  %s\n" measure "A median" "B median" "B/A" "(quartiles of the rounds' B/A)"
awk '{print $3}' "$tmp/results" | sort -u | while read -r name; do
	vals() { awk -v x="$1" -v n="$name" '$1 == x && $3 == n {print $2, $4}' "$tmp/results" | sort; }
	q() { sort -g | awk -v p="$1" '{a[NR] = $1} END {i = 1 + (NR - 1) * p; j = int(i); f = i - j; print (j < NR) ? a[j] + f * (a[j+1] - a[j]) : a[j]}'; }
	a=$(vals A | awk '{print $2}' | q 0.5) b=$(vals B | awk '{print $2}' | q 0.5)
	join <(vals A) <(vals B) | awk '{if ($2 > 0) print $3 / $2}' >"$tmp/ratios"
	printf "%-36s %12s %12s %8.3f  (%.3f–%.3f)\n" "$name" "$a" "$b" "$(q 0.5 <"$tmp/ratios")" "$(q 0.25 <"$tmp/ratios")" "$(q 0.75 <"$tmp/ratios")"
done
