#!/usr/bin/env bash
# Builds the ops console (apps/console/dist, served by the control plane at `/`) when it is missing
# or older than its sources; a no-op otherwise, so `npm start` and `npm test` stay fast.
set -euo pipefail
cd "$(dirname "$0")/.."
out=apps/console/dist/index.html
srcs=(apps/console/src apps/console/index.html apps/console/vite.config.ts apps/console/package.json)
if [ -f "$out" ] && [ -z "$(find "${srcs[@]}" -newer "$out" -print -quit)" ]; then
  exit 0
fi
echo "building the console (apps/console/dist)…"
# NODE_ENV=production: a test runner (vitest sets NODE_ENV=test) must not get a development React.
NODE_ENV=production npx -y pnpm@10.34.9 --silent --filter @tollgate/console exec vite build --logLevel warn
