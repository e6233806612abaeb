#!/usr/bin/env bash
# `npm test`: installs what it needs, checks generated files and migrations for drift, typechecks,
# lints, then runs every test tier. PostgreSQL/Redis tiers run against the local services; when one
# is unreachable it is skipped LOUDLY — except under CI=true, where that is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export npm_config_loglevel=error
PNPM=(npx -y pnpm@10.34.9)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "install"
"${PNPM[@]}" install --frozen-lockfile --reporter=silent

step "generated files (pnpm generate --check)"
bash scripts/generate.sh --check

step "migrations drift (prisma/schema.prisma vs prisma/migrations)"
"${PNPM[@]}" --silent run db:drift

step "typecheck"
"${PNPM[@]}" exec tsc -p tsconfig.json --noEmit
"${PNPM[@]}" exec tsc -p apps/console/tsconfig.json --noEmit

step "lint (biome)"
"${PNPM[@]}" exec biome check .

step "service tiers"
probe() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
PG_HOST=127.0.0.1 PG_PORT=5432 REDIS_HOST=127.0.0.1 REDIS_PORT=6379
export TG_TIER_PG=1 TG_TIER_REDIS=1
if ! probe "$PG_HOST" "$PG_PORT"; then TG_TIER_PG=0; fi
if ! probe "$REDIS_HOST" "$REDIS_PORT"; then TG_TIER_REDIS=0; fi
for tier in PG REDIS; do
  var="TG_TIER_$tier"
  if [ "${!var}" = 0 ]; then
    if [ "${CI:-}" = "true" ]; then
      echo "!!! $tier is unreachable and CI=true: the $tier tier is mandatory. Failing." >&2
      exit 1
    fi
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    echo "!!! $tier is unreachable: SKIPPING the $tier test tier (see ../shared/ENVIRONMENT.md" >&2
    echo "!!! for the command that starts it). These results do NOT cover $tier." >&2
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
  fi
done
echo "PostgreSQL tier: $([ $TG_TIER_PG = 1 ] && echo on || echo SKIPPED) · Redis tier: $([ $TG_TIER_REDIS = 1 ] && echo on || echo SKIPPED)"

step "console build and browser"
bash scripts/console-build.sh
# The console's browser test drives Debian's Chromium (playwright-core; no browser download).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing chromium (apt-get)…"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ||
    echo "!!! could not install chromium" >&2
fi
if [ ! -x /usr/bin/chromium ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "!!! /usr/bin/chromium is missing and CI=true: the console browser test is mandatory. Failing." >&2
    exit 1
  fi
  echo "!!! /usr/bin/chromium is missing: the console browser test will be SKIPPED." >&2
fi

step "tests (vitest: unit, embedded PGlite, PostgreSQL, Redis, end-to-end)"
mkdir -p test-artifacts
status=0
"${PNPM[@]}" exec vitest run --reporter=default --reporter=json --outputFile.json=test-artifacts/vitest.json "$@" || status=$?
"${PNPM[@]}" exec node -e '
  const r = require("./test-artifacts/vitest.json");
  console.log(`Tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' || true
exit $status
