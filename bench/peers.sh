#!/usr/bin/env bash
# bench/peers.sh: the cost of the whole lmn pipe next to its peers, all
# measured in ONE run on the same machine for the same time.
#
#   lmn:           lmn-collect (its default 30 s tick and events, unless LMN_INTERVAL)
#                  | lmn-detect | lmn-heal | lmn-dash --headless --listen 127.0.0.1:PORT
#   lmn-collect --events none, alone, at the same interval: what the events cost
#   node_exporter: prometheus-node-exporter (Debian defaults) on loopback, scraped every PERIOD s by curl
#   monit:         monit -I with a minimal monitrc at a PERIOD s cycle (system, filesystem /, one process)
#   glances:       glances -t PERIOD --stdout cpu.total,mem.percent,load (temporary config dir)
#
# CPU is utime+stime+cutime+cstime from /proc/PID/stat (children included)
# over the measured window, as a share of ONE core. RSS is VmRSS from
# /proc/PID/status, sampled every second; the table shows the last sample
# and the maximum. The lmn row sums its four processes.
#
# Usage: bench/peers.sh [SECONDS]      (default 600; WARMUP=5 seconds before)
# Environment: SKIP_LMN=1 measures only the peers; LMN_UNITS=system|user|none
# is passed to lmn-collect --units (default: lmn-collect's own default);
# LMN_INTERVAL=1s sets lmn-collect's --interval; PERIOD=30 is the peers'
# cycle (default: 30, lmn's tick). The samples lmn-collect wrote are
# counted by trigger at the end.
#
# lmn-heal runs with --tiers advise, so on this machine it can only advise:
# the benchmark never changes the host. Loopback only; every loop is bounded.
set -euo pipefail

duration=${1:-600}
warmup=${WARMUP:-5}
period=${PERIOD:-30}
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

have() { command -v "$1" >/dev/null 2>&1; }

# free_port prints a loopback TCP port nothing listens on (bounded tries).
free_port() {
	local p i
	for i in $(seq 1 50); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "no free port found" >&2
	return 1
}

# cpu_ticks PID: utime+stime+cutime+cstime (fields 14-17; comm may hold spaces).
cpu_ticks() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	s=${s##*) }
	awk '{print $12 + $13 + $14 + $15}' <<<"$s"
}

rss_kib() {
	awk '/^VmRSS:/ {print $2; f=1} END {if (!f) print 0}' "/proc/$1/status" 2>/dev/null || echo 0
}

declare -A group_pids # name -> "pid pid ..."
names=()
add() { names+=("$1"); group_pids[$1]="${*:2}"; }

if [[ "${SKIP_LMN:-0}" != 1 ]]; then
	echo "building lmn binaries..." >&2
	go build -o "$tmp/bin/" ./cmd/lmn-collect ./cmd/lmn-detect ./cmd/lmn-heal ./cmd/lmn-dash
	mkfifo "$tmp/p1" "$tmp/p1b" "$tmp/p2" "$tmp/p3"
	dash_port=$(free_port)
	opts=()
	[[ -n "${LMN_UNITS:-}" ]] && opts+=(--units "$LMN_UNITS")
	[[ -n "${LMN_INTERVAL:-}" ]] && opts+=(--interval "$LMN_INTERVAL")
	"$tmp/bin/lmn-collect" "${opts[@]}" >"$tmp/p1" 2>"$tmp/collect.err" &
	c=$!
	# tee keeps lmn-collect's samples to count them by trigger; not measured.
	tee "$tmp/samples.ndjson" <"$tmp/p1" >"$tmp/p1b" &
	pids+=("$!")
	"$tmp/bin/lmn-detect" <"$tmp/p1b" >"$tmp/p2" 2>"$tmp/detect.err" &
	d=$!
	"$tmp/bin/lmn-heal" --tiers advise --sudo never --privd-socket "$tmp/no-privd.sock" \
		<"$tmp/p2" >"$tmp/p3" 2>"$tmp/heal.err" &
	h=$!
	"$tmp/bin/lmn-dash" --headless --listen "127.0.0.1:$dash_port" <"$tmp/p3" >/dev/null 2>"$tmp/dash.err" &
	s=$!
	pids+=("$c" "$d" "$h" "$s")
	add lmn-pipe "$c" "$d" "$h" "$s"
	add "  lmn-collect" "$c"
	add "  lmn-detect" "$d"
	add "  lmn-heal" "$h"
	add "  lmn-dash" "$s"
	"$tmp/bin/lmn-collect" "${opts[@]}" --events none >/dev/null 2>"$tmp/collect-none.err" &
	n=$!
	pids+=("$n")
	add "lmn-collect --events none" "$n"
fi

if have prometheus-node-exporter && have curl; then
	ne_port=$(free_port)
	prometheus-node-exporter --web.listen-address="127.0.0.1:$ne_port" >"$tmp/ne.log" 2>&1 &
	ne=$!
	pids+=("$ne")
	# The scraper stands in for Prometheus; its own cost is not counted.
	(
		for _ in $(seq 1 $(((duration + warmup) / period + 2))); do
			curl -s -o /dev/null "http://127.0.0.1:$ne_port/metrics" || true
			sleep "$period"
		done
	) &
	pids+=("$!")
	add "node_exporter (1 scrape/${period}s)" "$ne"
else
	echo "prometheus-node-exporter or curl missing: skipped" >&2
fi

if have monit; then
	mkdir -p "$tmp/monit"
	sleep $((duration + warmup + 30)) &
	sleeper=$!
	pids+=("$sleeper")
	echo "$sleeper" >"$tmp/monit/sleeper.pid"
	cat >"$tmp/monit/monitrc" <<EOF
set daemon $period
set pidfile $tmp/monit/monit.pid
set idfile $tmp/monit/monit.id
set statefile $tmp/monit/monit.state
set log $tmp/monit/monit.log
check system \$HOST
check filesystem rootfs with path /
check process sleeper with pidfile $tmp/monit/sleeper.pid
EOF
	chmod 600 "$tmp/monit/monitrc"
	monit -I -c "$tmp/monit/monitrc" >/dev/null 2>&1 &
	m=$!
	pids+=("$m")
	add "monit (${period} s cycle)" "$m"
else
	echo "monit missing: skipped" >&2
fi

if have glances; then
	mkdir -p "$tmp/glances"
	HOME="$tmp/glances" XDG_CONFIG_HOME="$tmp/glances" \
		glances -t "$period" --stdout cpu.total,mem.percent,load >/dev/null 2>"$tmp/glances.err" &
	g=$!
	pids+=("$g")
	add "glances (-t $period)" "$g"
else
	echo "glances missing: skipped" >&2
fi

sleep "$warmup"
declare -A t0 maxrss lastrss
for n in "${names[@]}"; do
	sum=0
	for p in ${group_pids[$n]}; do sum=$((sum + $(cpu_ticks "$p"))); done
	t0[$n]=$sum
	maxrss[$n]=0
done
start=$(date +%s.%N)
for _ in $(seq 1 "$duration"); do
	sleep 1
	for n in "${names[@]}"; do
		r=0
		for p in ${group_pids[$n]}; do r=$((r + $(rss_kib "$p"))); done
		lastrss[$n]=$r
		((r > maxrss[$n])) && maxrss[$n]=$r
	done
done
end=$(date +%s.%N)
hz=$(getconf CLK_TCK)

for p in ${group_pids[lmn-pipe]:-}; do
	kill -0 "$p" 2>/dev/null || echo "warning: lmn process $p exited during the run" >&2
done

printf '\n%s, %s CPUs, %s s measured after %s s warm-up, load %s, %s\n' \
	"$(uname -sr)" "$(nproc)" "$duration" "$warmup" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(date -u +%FT%TZ)"
printf '%-28s %14s %14s %14s\n' "process" "CPU % of core" "RSS MiB (end)" "RSS MiB (max)"
for n in "${names[@]}"; do
	sum=0
	for p in ${group_pids[$n]}; do sum=$((sum + $(cpu_ticks "$p"))); done
	awk -v n="$n" -v d=$((sum - t0[$n])) -v hz="$hz" -v s="$start" -v e="$end" \
		-v r="${lastrss[$n]}" -v m="${maxrss[$n]}" \
		'BEGIN { printf "%-28s %14.3f %14.1f %14.1f\n", n, 100 * d / hz / (e - s), r / 1024, m / 1024 }'
done
if [[ -s "${tmp}/samples.ndjson" ]]; then
	echo
	echo "lmn-collect's samples by trigger (warm-up included), and its event sources:"
	grep -o '"trigger":"[a-z]*"' "$tmp/samples.ndjson" | sort | uniq -c
	grep -o '"events_active":\[[^]]*\]' "$tmp/samples.ndjson" || true
fi
