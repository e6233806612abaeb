#!/usr/bin/env bash
# One-time setup of the benchmark: wrk (apt) and taskset. Everything else comes from the repo
# (Node 24, tsx and http-proxy-3 2.0.1 are installed by `pnpm install`).
set -euo pipefail
command -v wrk >/dev/null || { apt-get update && apt-get install -y wrk; }
command -v taskset >/dev/null || { echo "taskset (util-linux) is required" >&2; exit 1; }
command -v redis-cli >/dev/null || echo "note: redis-cli not found (run.sh uses it to check Redis)" >&2
echo "setup done: $(wrk -v 2>&1 | head -1)"
