#!/usr/bin/env bash
# The dense profile (issue #26; run by hand, not by CI): data unlike the seed's, made by
# plain SQL (bench/dense/*.sql), measured twice — right after the bulk load (ANALYZE
# only, as a restore or a big import leaves a database) and after VACUUM ANALYZE:
#
#   bash bench/dense.sh                                   # PostgreSQL, 1M runs
#   BENCH_SCALE=10m bash bench/dense.sh                   # PostgreSQL, 10M runs
#   BENCH_BACKEND=sqlite bash bench/dense.sh              # SQLite, 1M runs
#   STATES="vacuumed" bash bench/dense.sh                 # one state only
#
# What it does
# - Loads the profile once into a database kept as a template (PostgreSQL
#   ct_dense_<scale>_loaded; SQLite $BENCH_DIR/ct_dense_1m_loaded.db), migrated by the
#   service first, then filled by psql or sqlite3 alone. Each state then starts from a
#   fresh copy of it (CREATE DATABASE … TEMPLATE copies the files: visibility map and
#   hint bits stay as the load left them), so "right after the bulk load" is that for
#   every run.
# - Per state: starts the service on the copy with the Control Tower cache off, asks the
#   first Control Tower of each window at once — while the roll-ups are being built —
#   and reports its time and that it was answered; waits until the roll-ups have caught
#   up; then reports each window cold, next to the one-scan floor measured in psql or
#   sqlite3 in the same run (bench/driver.py).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

backend="${BENCH_BACKEND:-postgres}"
scale="${BENCH_SCALE:-1m}"
states="${STATES:-loaded vacuumed}"
dir="${BENCH_DIR:-/tmp}"
port="${PORT:-18095}"
binary="${BIN:-target/dist/control-tower}"
email=bench@ops.example
password=bench-password-not-secret
case "$scale" in
  1m) runs=1000000 ;;
  10m) runs=10000000 ;;
  *) echo "BENCH_SCALE is 1m or 10m" >&2; exit 2 ;;
esac
admin=postgres://postgres@127.0.0.1:5432/postgres

[ "${BUILD:-1}" = 0 ] || cargo build --profile dist --quiet

operator() {
  echo "$password" | "$binary" --database-url "$1" operator create --email "$email" --name Bench \
    --capability console.view --capability audit.view --password-stdin >/dev/null
}

case "$backend" in
  postgres)
    template="ct_dense_${scale}_loaded"
    if [ "$(psql -X -qtA "$admin" -c "SELECT 1 FROM pg_database WHERE datname = '$template'")" != 1 ]; then
      echo "loading the dense profile with $runs runs into $template…"
      psql -X -q "$admin" -c "CREATE DATABASE \"$template\""
      "$binary" --database-url "${admin%/*}/$template" migrate >/dev/null
      start=$(date +%s)
      psql -X -q -v runs="$runs" -f bench/dense/postgres.sql "${admin%/*}/$template" >/dev/null
      echo "loaded in $(( $(date +%s) - start )) s"
      operator "${admin%/*}/$template"
    fi
    target_name="ct_dense_${scale}"
    url="${admin%/*}/$target_name"
    floor_target="$url"
    fresh_copy() {
      psql -X -q "$admin" -c "DROP DATABASE IF EXISTS \"$target_name\" WITH (FORCE)" -c "CREATE DATABASE \"$target_name\" TEMPLATE \"$template\""
    }
    vacuum() { psql -X -q "$url" -c "VACUUM ANALYZE"; }
    dirty() { psql -X -qtA "$url" -c "SELECT COUNT(*) FROM run_rollup_dirty"; }
    ;;
  sqlite)
    [ "$scale" = 1m ] || { echo "SQLite is measured at 1M runs" >&2; exit 2; }
    template="$dir/ct_dense_${scale}_loaded.db"
    if [ ! -s "$template" ]; then
      echo "loading the dense profile with $runs runs into $template…"
      "$binary" --database-url "sqlite://$template?mode=rwc" migrate >/dev/null
      start=$(date +%s)
      sqlite3 "$template" ".param set :runs $runs" ".read bench/dense/sqlite.sql" >/dev/null
      echo "loaded in $(( $(date +%s) - start )) s"
      operator "sqlite://$template"
      sqlite3 "$template" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
    fi
    target="$dir/ct_dense_${scale}.db"
    url="sqlite://$target"
    floor_target="$target"
    fresh_copy() { rm -f "$target" "$target-wal" "$target-shm"; cp "$template" "$target"; }
    vacuum() { sqlite3 "$target" "VACUUM; ANALYZE;"; }
    dirty() { sqlite3 "$target" "SELECT COUNT(*) FROM run_rollup_dirty"; }
    ;;
  *) echo "BENCH_BACKEND is postgres or sqlite" >&2; exit 2 ;;
esac

server=
trap '[ -n "$server" ] && kill $server 2>/dev/null || true' EXIT
for state in $states; do
  echo
  echo "== $backend, $scale runs, dense, $state"
  fresh_copy
  operator "$url" 2>/dev/null || true  # the template may predate the operator
  [ "$state" = vacuumed ] && vacuum
  CONTROL_TOWER_SYSTEM_CONSOLE__CACHE__CONTROL_TOWER_SECONDS=0 RUST_LOG=warn \
    "$binary" --database-url "$url" --listen "127.0.0.1:$port" serve >"$dir/ct-dense-$state.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  python3 bench/driver.py --first --cold "http://127.0.0.1:$port/graphql" --database-url "$floor_target" \
    --email "$email" --password "$password"
  start=$(date +%s)
  for _ in $(seq 1800); do [ "$(dirty)" = 0 ] && break; sleep 1; done
  echo "roll-ups built $(( $(date +%s) - start )) s after the first requests"
  python3 bench/driver.py --cold "http://127.0.0.1:$port/graphql" --database-url "$floor_target" \
    --email "$email" --password "$password" --rounds "${ROUNDS:-10}"
  kill $server; wait $server 2>/dev/null || true
  server=
done
