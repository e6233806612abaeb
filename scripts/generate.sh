#!/usr/bin/env bash
# `pnpm generate`: every generated artefact, from its source. `--check` fails when that changes
# anything committed (CI runs it: generated files must never drift from the code).
set -euo pipefail
cd "$(dirname "$0")/.."
GENERATED=(packages/db/src/generated apps/control-plane/src/generated schema apps/console/src/generated)
npx -y pnpm@10.34.9 exec prisma generate >/dev/null
npx -y pnpm@10.34.9 exec tsx apps/control-plane/src/graphql/print-schema.ts
npx -y pnpm@10.34.9 exec tsx apps/control-plane/src/wire-schemas/print.ts >/dev/null
# The console's typed operations, from the SDL just printed.
npx -y pnpm@10.34.9 exec tsx apps/console/scripts/codegen.ts >/dev/null
if [ "${1:-}" = "--check" ]; then
  if [ -n "$(git status --porcelain -- "${GENERATED[@]}")" ]; then
    echo "generated files drifted from the code; run 'pnpm generate' and commit:" >&2
    git status --porcelain -- "${GENERATED[@]}" >&2
    git --no-pager diff --stat -- "${GENERATED[@]}" >&2
    exit 1
  fi
  echo "generated files: no drift"
fi
