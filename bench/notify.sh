#!/usr/bin/env bash
# bench/notify.sh: what lmn-notify adds to the pipe at one record per second,
# beside lmn-dash measured in the same run.
#
# Feeds lmn-notify (a webhook channel to a local HTTP server) and
# lmn-dash --headless --listen the same stream, one record a second (the
# recorded samples, issues and heal steps of internal/dash/testdata/stream.ndjson,
# over and over), side by side for DURATION seconds (default 60) after a 5 s
# warm-up. For each it reports CPU over the window as a share of one core,
# from utime+stime (10 ms ticks) and from the nanosecond run times of every
# thread in /proc/PID/task/*/schedstat, and resident memory; then the ratio
# lmn-notify / lmn-dash.
# Then it runs the Go benchmark of record → message delivered, the first
# attempt of every message answered 500 (BenchmarkRecordToMessage).
#
# Targets: lmn-notify's CPU ≤ lmn-dash's; delivery p99 ≤ 2 s.
# Usage: bench/notify.sh            (from the repository root)
#        DURATION=20 bench/notify.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-60}
WARMUP=5
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/" ./cmd/lmn-notify ./cmd/lmn-dash
grep -v '"kind":"start"' internal/dash/testdata/stream.ndjson >"$tmp/records.ndjson"
cat >"$tmp/feed.sh" <<'FEED'
#!/usr/bin/env bash
# One record a second, forever.
while :; do
	while IFS= read -r line; do
		printf '%s\n' "$line" || exit 0
		sleep 1
	done <"$1"
done
FEED
chmod +x "$tmp/feed.sh"
# A webhook that takes every message: python's standard library, port 0.
cat >"$tmp/hook.py" <<'HOOK'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
HOOK
python3 "$tmp/hook.py" >"$tmp/port" &
pids+=($!)
for _ in $(seq 50); do [[ -s $tmp/port ]] && break; sleep 0.1; done

hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/^VmRSS:/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
runns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%d", s}'; }

mkfifo "$tmp/a" "$tmp/b"
"$tmp/feed.sh" "$tmp/records.ndjson" >"$tmp/a" &
pids+=($!)
"$tmp/feed.sh" "$tmp/records.ndjson" >"$tmp/b" &
pids+=($!)
"$tmp/lmn-notify" --webhook "http://127.0.0.1:$(cat "$tmp/port")/hook" <"$tmp/a" >"$tmp/notify.out" 2>/dev/null &
npid=$!
pids+=($npid)
"$tmp/lmn-dash" --headless --listen 127.0.0.1:0 <"$tmp/b" 2>/dev/null &
dpid=$!
pids+=($dpid)

echo "lmn-notify and lmn-dash side by side at 1 record/s, ${DURATION}s window after ${WARMUP}s warm-up, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
sleep "$WARMUP"
n0=$(ticks "$npid") d0=$(ticks "$dpid") nn0=$(runns "$npid") dn0=$(runns "$dpid") s0=$(date +%s.%N)
sleep "$DURATION"
n1=$(ticks "$npid") d1=$(ticks "$dpid") nn1=$(runns "$npid") dn1=$(runns "$dpid") s1=$(date +%s.%N)
awk -v n="$((n1 - n0))" -v d="$((d1 - d0))" -v nn="$((nn1 - nn0))" -v dn="$((dn1 - dn0))" -v s="$s0" -v e="$s1" \
	-v hz="$hz" -v nr="$(rss "$npid")" -v dr="$(rss "$dpid")" 'BEGIN {
	w = e - s
	printf "lmn-notify --webhook         cpu %.4f%% of one core (schedstat %.1f ms; %d ticks) in %.1f s  VmRSS %s MiB\n", nn/1e9/w*100, nn/1e6, n, w, nr
	printf "lmn-dash --headless --listen cpu %.4f%% of one core (schedstat %.1f ms; %d ticks) in %.1f s  VmRSS %s MiB\n", dn/1e9/w*100, dn/1e6, d, w, dr
	printf "ratio lmn-notify / lmn-dash (schedstat): %.2f\n", nn/dn
}'
echo "messages delivered in the window and warm-up: $(grep -c '"phase":"sent"' "$tmp/notify.out" || true)"

echo
echo "go test -run '^\$' -bench RecordToMessage -benchtime 40x ./cmd/lmn-notify"
go test -run '^$' -bench RecordToMessage -benchtime 40x ./cmd/lmn-notify | grep -E '^Benchmark'
