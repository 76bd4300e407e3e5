#!/usr/bin/env bash
# Live queries at scale (SPEC §9c, §10; run by hand, not by CI): 1,000 graphql-ws
# subscribers on 10 distinct live documents, `everySeconds: 1`, for 60 s, against the
# release binary on a demo database. Reports executions against documents × ticks (the
# floor: one execution per document per tick), pushes, the server's CPU (share of one
# core) and its peak RSS, and whether every subscriber was served.
#
#   bash bench/live.sh                      # 1,000 subscribers, 10 documents, 60 s
#   SUBSCRIBERS=500 DOCUMENTS=5 SECONDS_=30 bash bench/live.sh
#
# The client is tests/clients' pinned graphql-ws and ws (its package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin control-tower
(cd tests/clients && { [[ -d node_modules ]] || npm ci --no-audit --no-fund; })
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

BIN="$PWD/target/release/control-tower"
# One operator holds every connection; the tower is not cached, so every execution
# computes it anew and every tick changes every document (its `generatedAt`): a push per
# subscriber per tick.
export CONTROL_TOWER_SYSTEM_CONSOLE__SUBSCRIPTIONS__MAX_CONNECTIONS_PER_OPERATOR=100000
export CONTROL_TOWER_SYSTEM_CONSOLE__CACHE__CONTROL_TOWER_SECONDS=0
# shellcheck source=../tests/demo-server.sh
source tests/demo-server.sh
export SERVER_PID
node bench/live/subscribers.mjs
