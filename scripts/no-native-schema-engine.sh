#!/usr/bin/env sh
# Prisma's CLI wants a native schema engine it cannot download here. Generation does not need it;
# migrations go through the Wasm engine instead. Fail loudly so nobody mistakes this for a migration.
echo "tollgate: the native Prisma schema engine is not available; use 'pnpm db:migrate' (Wasm engine) instead" >&2
exit 1
