#!/usr/bin/env bash
# bench/collect.sh: lmn-collect's CPU cost per sample, measured side by side
# in one run with (a) node_exporter's CPU per scrape with the comparable
# collectors, (b) lmn-collect itself (the binary, and the Go benchmark of
# one sample) and (c) the floors: the same files read with open/read/close
# and re-read through kept-open descriptors with pread. Then (d) resident
# memory and idle cost at a 1 s interval.
#
# Usage: bench/collect.sh        (from anywhere; needs go, curl and
#        prometheus-node-exporter; touches nothing outside a temp dir)
# Knobs: SCRAPES=200 SAMPLES=2000 BENCHTIME=3s IDLE_SECONDS=60 PORT=19173
set -euo pipefail
cd "$(dirname "$0")/.."

SCRAPES=${SCRAPES:-200}
SAMPLES=${SAMPLES:-2000}
BENCHTIME=${BENCHTIME:-3s}
IDLE_SECONDS=${IDLE_SECONDS:-60}
PORT=${PORT:-19173}
HZ=$(getconf CLK_TCK)

for tool in go curl prometheus-node-exporter; do
	command -v "$tool" >/dev/null || { echo "bench/collect.sh: $tool is not installed" >&2; exit 2; }
done

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# cputicks PID: utime+stime of a live process, in clock ticks. The fields
# are counted after the ")" that ends the command name.
cputicks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

echo "# lmn-collect benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
go build -o "$tmp/lmn-collect" ./cmd/lmn-collect

# (a) node_exporter, comparable collectors only, scraped over loopback.
prometheus-node-exporter --web.listen-address="127.0.0.1:$PORT" --collector.disable-defaults \
	--collector.cpu --collector.meminfo --collector.loadavg --collector.pressure \
	--collector.filesystem --collector.diskstats --collector.netdev \
	--collector.thermal_zone --collector.hwmon >"$tmp/ne.log" 2>&1 &
ne=$!
pids+=("$ne")
for _ in $(seq 100); do
	curl -sf -o /dev/null "http://127.0.0.1:$PORT/metrics" && break
	sleep 0.1
done
for _ in $(seq 5); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/metrics"; done # warm up
before=$(cputicks "$ne")
for _ in $(seq "$SCRAPES"); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/metrics"; done
after=$(cputicks "$ne")
kill "$ne"
ne_us=$(awk -v t=$((after - before)) -v n="$SCRAPES" -v hz="$HZ" 'BEGIN{printf "%.0f", t / hz / n * 1e6}')
echo "node_exporter:          ${ne_us} us CPU per scrape ($SCRAPES scrapes, $((after - before)) ticks)"

# (b) lmn-collect, the binary: SAMPLES samples at a 1 ms interval minus a
# one-sample run, so start-up is not counted; CPU from wait4's rusage.
cpu_of() { # cpu_of COUNT -> CPU seconds of one run
	/usr/bin/time -f "%U %S" -o "$tmp/time" "$tmp/lmn-collect" --interval 1ms --count "$1" --units none >/dev/null 2>"$tmp/err"
	awk '{print $1 + $2}' "$tmp/time"
}
one=$(cpu_of 1)
many=$(cpu_of "$SAMPLES")
bin_us=$(awk -v a="$many" -v b="$one" -v n="$SAMPLES" 'BEGIN{printf "%.0f", (a - b) / (n - 1) * 1e6}')
echo "lmn-collect binary:     ${bin_us} us CPU per sample ($SAMPLES samples: ${many}s, 1 sample: ${one}s)"

# (b, c) the Go benchmarks: one sample, and the two floors over the same files.
go test -run '^$' -bench 'BenchmarkSample$|BenchmarkSampleNoJSON|BenchmarkFloor|BenchmarkEncode|BenchmarkSystemctl' -benchtime "$BENCHTIME" \
	./internal/collect/ >"$tmp/bench"
grep '^Benchmark' "$tmp/bench"
metric() { awk -v b="$1" '$1 ~ "^"b"-" {for (i = 1; i < NF; i++) if ($(i+1) == "cpu-ns/op") printf "%.0f", $i / 1000}' "$tmp/bench"; }
sample_us=$(metric BenchmarkSample)
nojson_us=$(metric BenchmarkSampleNoJSON)
open_us=$(metric BenchmarkFloorOpenRead)
pread_us=$(metric BenchmarkFloorPread)
tick_us=$(metric BenchmarkFloorPreadTick)
systemctl_us=$(metric BenchmarkSystemctl)
echo "Go benchmark, CPU per op: sample ${sample_us} us, sample without JSON ${nojson_us} us, floor open/read/close ${open_us} us, floor pread ${pread_us} us, floor pread of the files one sample reads ${tick_us} us; systemctl call ${systemctl_us} us (reported apart)"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }
echo
echo "node_exporter / lmn-collect binary:  $(ratio "$ne_us" "$bin_us")x  (target >= 30x)"
echo "node_exporter / lmn-collect sample:  $(ratio "$ne_us" "$sample_us")x  (Go benchmark)"
echo "lmn-collect sample / pread floor:    $(ratio "$sample_us" "$pread_us")x  (target <= 2x; all files a sample may read)"
echo "lmn-collect sample / pread, per tick: $(ratio "$sample_us" "$tick_us")x  (only the files one sample read here)"
echo "open/read/close floor / pread floor: $(ratio "$open_us" "$pread_us")x"

# (d) resident memory and idle cost at a 1 s interval.
"$tmp/lmn-collect" --interval 1s --units none >/dev/null 2>"$tmp/idle.err" &
lc=$!
pids+=("$lc")
sleep 2
t0=$(cputicks "$lc")
# Context switches of all the process's threads: how often it wakes.
switches() { cat /proc/"$1"/task/*/status | awk '/^voluntary_ctxt_switches/{s += $2} END{print s}'; }
cs0=$(switches "$lc")
max_rss=0
for _ in $(seq "$IDLE_SECONDS"); do
	sleep 1
	rss=$(awk '/^VmRSS/{print $2}' "/proc/$lc/status")
	((rss > max_rss)) && max_rss=$rss
done
t1=$(cputicks "$lc")
cs1=$(switches "$lc")
kill -TERM "$lc"
wait "$lc" || true
echo
echo "at --interval 1s over ${IDLE_SECONDS}s: VmRSS max ${max_rss} kB, last ${rss} kB; CPU $(awk -v t=$((t1 - t0)) -v hz="$HZ" -v s="$IDLE_SECONDS" 'BEGIN{printf "%.2f ms/s", t / hz / s * 1000}'); voluntary context switches $(awk -v c=$((cs1 - cs0)) -v s="$IDLE_SECONDS" 'BEGIN{printf "%.1f/s", c / s}')"
