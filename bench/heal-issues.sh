#!/bin/sh
# lmn-heal's cost against the number of issues it tracks: N distinct units
# fail at once (a forged or real storm), then 1 000 samples follow, one a
# second; lmn-heal --dry-run --tiers advise reads the whole stream. The
# binary of this checkout and one built from BASE (a git revision, default
# main; `git archive`, no worktree) run alternately, RUNS times each, for
# each N. Prints seconds per run. See docs/PERFORMANCE.md (lmn-heal).
#   bench/heal-issues.sh [N...]     default: 1000 10000 20000
set -eu
cd "$(dirname "$0")/.."
base=${BASE:-main}
runs=${RUNS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/new/" ./cmd/lmn-heal
mkdir -p "$tmp/src"
git archive "$base" | tar -x -C "$tmp/src"
(cd "$tmp/src" && go build -o "$tmp/old/" ./cmd/lmn-heal)
stream() {
	awk -v n="$1" 'BEGIN {
		for (i = 0; i < n; i++)
			printf "{\"kind\":\"issue\",\"v\":1,\"ts\":\"2026-11-26T00:00:00Z\",\"host\":\"h\",\"src\":\"lmn-detect\",\"id\":\"u%d\",\"rule\":\"unit_failed\",\"subject\":{\"unit\":\"u%d.service\",\"scope\":\"system\"},\"state\":\"firing\",\"severity\":\"warning\",\"value\":1,\"threshold\":1,\"since\":\"2026-11-26T00:00:00Z\",\"summary\":\"u%d failed\"}\n", i, i, i
		for (s = 1; s <= 1000; s++)
			printf "{\"kind\":\"sample\",\"v\":1,\"ts\":\"2026-11-26T00:%02d:%02dZ\",\"host\":\"h\",\"src\":\"lmn-collect\",\"seq\":%d,\"interval_seconds\":1}\n", s / 60, s % 60, s
	}'
}
seconds() { # binary file
	start=$(date +%s.%N)
	"$1" --dry-run --tiers advise --sudo never <"$2" >/dev/null 2>&1
	end=$(date +%s.%N)
	echo "$end - $start" | bc
}
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in ${*:-1000 10000 20000}; do
	stream "$n" >"$tmp/stream.ndjson"
	for r in $(seq "$runs"); do
		echo "N=$n run=$r new=$(seconds "$tmp/new/lmn-heal" "$tmp/stream.ndjson")s base($base)=$(seconds "$tmp/old/lmn-heal" "$tmp/stream.ndjson")s"
	done
done
