#!/usr/bin/env bash
# Live queries at scale (SPEC §9c, §10; run by hand, not by CI): 1,000 graphql-ws
# subscribers on 10 distinct live documents, `everySeconds: 1`, for 60 s, against the
# dist binary on a demo database. Reports executions against documents × ticks (the
# floor: one execution per document per tick), pushes, the server's CPU (share of one
# core) and its peak RSS, and whether every subscriber was served.
#
#   bash bench/live.sh                      # 1,000 subscribers, 10 documents, 60 s
#   SUBSCRIBERS=500 DOCUMENTS=5 SECONDS_=30 bash bench/live.sh
#   DENSE=1 bash bench/live.sh              # on a copy of bench/dense.sh's PostgreSQL
#                                           # profile (1M runs written by plain SQL)
#
# The client is tests/clients' pinned graphql-ws and ws (its package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
cargo build --profile dist --quiet --bin control-tower
(cd tests/clients && { [[ -d node_modules ]] || npm ci --no-audit --no-fund; })
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

BIN="$PWD/target/dist/control-tower"
# One operator holds every connection; the tower is not cached, so every execution
# computes it anew and every tick changes every document (its `generatedAt`): a push per
# subscriber per tick.
export CONTROL_TOWER_SYSTEM_CONSOLE__SUBSCRIPTIONS__MAX_CONNECTIONS_PER_OPERATOR=100000
export CONTROL_TOWER_SYSTEM_CONSOLE__CACHE__CONTROL_TOWER_SECONDS=0
if [[ "${DENSE:-0}" == 1 ]]; then
  # The dense profile, loaded once by plain SQL into a template (as bench/dense.sh does),
  # copied fresh; the service builds its roll-ups before the measurement.
  admin=postgres://postgres@127.0.0.1:5432/postgres
  template=ct_dense_1m_loaded
  if [[ "$(psql -X -qtA "$admin" -c "SELECT 1 FROM pg_database WHERE datname = '$template'")" != 1 ]]; then
    echo "loading the dense profile with 1000000 runs into $template…"
    psql -X -q "$admin" -c "CREATE DATABASE \"$template\""
    "$BIN" --database-url "${admin%/*}/$template" migrate >/dev/null
    psql -X -q -v runs=1000000 -f bench/dense/postgres.sql "${admin%/*}/$template" >/dev/null
  fi
  psql -X -q "$admin" -c "DROP DATABASE IF EXISTS ct_live_dense WITH (FORCE)" \
    -c "CREATE DATABASE ct_live_dense TEMPLATE \"$template\""
  export DEMO_DATABASE_URL="${admin%/*}/ct_live_dense"
fi
# shellcheck source=../tests/demo-server.sh
source tests/demo-server.sh
if [[ -n "${DEMO_DATABASE_URL:-}" ]]; then
  for _ in $(seq 1800); do
    [[ "$(psql -X -qtA "$DEMO_DATABASE_URL" -c "SELECT COUNT(*) FROM run_rollup_dirty")" == 0 ]] && break
    sleep 1
  done
  echo "roll-ups built; measuring"
fi
export SERVER_PID
node bench/live/subscribers.mjs
