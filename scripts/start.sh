#!/usr/bin/env bash
# `npm start`: install what is needed (once), then run both planes on the embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
export npm_config_loglevel=error
if [ ! -x node_modules/.bin/tsx ] || [ pnpm-lock.yaml -nt node_modules/.modules.yaml ]; then
  bash scripts/pnpm.sh install --frozen-lockfile --reporter=silent
fi
bash scripts/console-build.sh
exec bash scripts/pnpm.sh --silent run tollgate start "$@"
