#!/usr/bin/env bash
# Builds the ops console (apps/console/dist, served by the control plane at `/`) through turbo: its
# `build` task is cached on the content of the console's sources (turbo.json), so when nothing changed
# `npm start` and `npm test` restore dist/ from .turbo/cache instead of running vite.
set -euo pipefail
cd "$(dirname "$0")/.."
# NODE_ENV=production: a test runner (vitest sets NODE_ENV=test) must not get a development React.
NODE_ENV=production TURBO_TELEMETRY_DISABLED=1 npx -y pnpm@10.34.9 exec turbo run build \
  --filter=@tollgate/console --output-logs=errors-only --log-prefix=none >/dev/null
