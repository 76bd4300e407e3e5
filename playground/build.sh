#!/bin/sh
# Rebuilds playground/dist/ from scratch: installs the pinned packages of package-lock.json
# (`npm ci`), then bundles src/ with the pinned esbuild (build.mjs). Needs Node.js 20+ and
# npm; `cargo build` needs neither, since dist/ is committed.
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
npm run --silent build
