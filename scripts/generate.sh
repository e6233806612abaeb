#!/usr/bin/env bash
# `pnpm generate`: every generated artefact, from its source. `--check` fails when that changes
# anything committed (CI runs it: generated files must never drift from the code).
set -euo pipefail
cd "$(dirname "$0")/.."
GENERATED=(packages/db/src/generated apps/control-plane/src/generated schema apps/console/src/generated)
# turbo runs each package's `generate` in dependency order (turbo.json): @tollgate/db (Prisma client
# and Pothos types) → @tollgate/control-plane (SDL and wire-format JSON schemas, printed from the code)
# → @tollgate/console (typed operations, from the SDL just printed). Never cached: a drift check must
# see what the sources produce now.
TURBO_TELEMETRY_DISABLED=1 npx -y pnpm@10.34.9 exec turbo run generate --output-logs=errors-only >/dev/null
if [ "${1:-}" = "--check" ]; then
  if [ -n "$(git status --porcelain -- "${GENERATED[@]}")" ]; then
    echo "generated files drifted from the code; run 'pnpm generate' and commit:" >&2
    git status --porcelain -- "${GENERATED[@]}" >&2
    git --no-pager diff --stat -- "${GENERATED[@]}" >&2
    exit 1
  fi
  echo "generated files: no drift"
fi
