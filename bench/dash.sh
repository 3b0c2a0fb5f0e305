#!/usr/bin/env bash
# bench/dash.sh: what lmn-dash costs at one sample per second.
#
# Feeds lmn-dash one sample a second (the recorded samples of
# internal/dash/testdata/stream.ndjson, over and over) for DURATION seconds
# (default 60) in two ways: --headless with /metrics scraped every 5 s, and
# the full rich dashboard in a 200x60 tmux pane (a real terminal; private
# tmux socket). For each it reports CPU (utime+stime over the window, as a
# share of one core) and resident memory (VmRSS at the end, VmHWM peak).
# Then it runs the frame benchmarks (one 200x60 frame, target < 1 ms).
#
# Targets: < 0.5 % of one core, < 15 MiB resident.
# Usage: bench/dash.sh            (from the repository root)
#        DURATION=20 bench/dash.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-60}
WARMUP=5
tmp=$(mktemp -d)
cleanup() {
	[[ -S $tmp/tmux.sock ]] && tmux -S "$tmp/tmux.sock" kill-server 2>/dev/null || true
	[[ -n ${hpid:-} ]] && kill "$hpid" 2>/dev/null || true
	[[ -n ${fpid:-} ]] && kill "$fpid" 2>/dev/null || true
	[[ -n ${spid:-} ]] && kill "$spid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/lmn-dash" ./cmd/lmn-dash
grep '"kind":"sample"' internal/dash/testdata/stream.ndjson >"$tmp/samples.ndjson"
cat >"$tmp/feed.sh" <<'FEED'
#!/usr/bin/env bash
# One sample a second, forever.
while :; do
	while IFS= read -r line; do
		printf '%s\n' "$line" || exit 0
		sleep 1
	done <"$1"
done
FEED
chmod +x "$tmp/feed.sh"

hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
mem() { awk '/^(VmRSS|VmHWM):/ {printf "%s %.1f MiB  ", $1, $2/1024}' "/proc/$1/status"; }

# measure NAME PID: CPU share over DURATION seconds after WARMUP.
measure() {
	local name=$1 pid=$2
	sleep "$WARMUP"
	local t0 s0 t1 s1
	t0=$(ticks "$pid")
	s0=$(date +%s.%N)
	sleep "$DURATION"
	t1=$(ticks "$pid")
	s1=$(date +%s.%N)
	awk -v n="$name" -v a="$t0" -v b="$t1" -v s="$s0" -v e="$s1" -v hz="$hz" \
		'BEGIN {printf "%-28s cpu %.3f%% of one core (%d ticks in %.1f s)  ", n, (b-a)/hz/(e-s)*100, b-a, e-s}'
	mem "$pid"
	echo
}

echo "lmn-dash at 1 sample/s, ${DURATION}s window after ${WARMUP}s warm-up, $(nproc) cores, $(date -u +%FT%TZ)"

# Headless, scraped every 5 s.
port=$((20000 + RANDOM % 20000))
mkfifo "$tmp/in"
"$tmp/feed.sh" "$tmp/samples.ndjson" >"$tmp/in" &
fpid=$!
"$tmp/lmn-dash" --headless --listen "127.0.0.1:$port" <"$tmp/in" 2>/dev/null &
hpid=$!
scrape() { # GET /metrics with bash's /dev/tcp, no curl needed
	exec 3<>"/dev/tcp/127.0.0.1/$port" || return 0
	printf 'GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
	cat <&3 >/dev/null
	exec 3<&-
}
( sleep 1; while kill -0 "$hpid" 2>/dev/null; do scrape; sleep 5; done ) &
spid=$!
measure "headless + scrape every 5s" "$hpid"
kill "$hpid" "$fpid" "$spid" 2>/dev/null || true
wait "$hpid" "$fpid" "$spid" 2>/dev/null || true
hpid= fpid=

# The rich dashboard in a real 200x60 terminal.
tmux -S "$tmp/tmux.sock" new-session -d -x 200 -y 60 -s bench \
	"sh -c '\"$tmp/feed.sh\" \"$tmp/samples.ndjson\" | env -u NO_COLOR TERM=tmux-256color \"$tmp/lmn-dash\" & echo \$! >\"$tmp/pid\"; wait'"
for _ in $(seq 50); do [[ -s $tmp/pid ]] && break; sleep 0.1; done
measure "rich 200x60 in tmux" "$(cat "$tmp/pid")"

echo
echo "go test -run '^\$' -bench Render -benchmem ./internal/dash/frame"
go test -run '^$' -bench Render -benchmem -count 3 ./internal/dash/frame | grep -E '^Benchmark'
