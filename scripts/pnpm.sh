#!/usr/bin/env bash
# pnpm pinned to the version in package.json, fetched by npx (only Node and npm are assumed).
exec npx -y pnpm@10.34.9 "$@"
