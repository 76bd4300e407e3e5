#!/usr/bin/env bash
# The performance harness (run by hand, not by CI): seeds the SPEC §10 scale into
# PostgreSQL once (1M runs; BENCH_SCALE=10m seeds 10M runs into a database of its own),
# starts the service twice (snapshot cache off, and at its default), and reports the
# cold Control Tower per window next to the floor measured in psql; then, unless
# BOARD=0, the tenant board against PostGraphile 4.14.1 (bench/board.sh).
#
#   bash bench/run.sh                    # postgres://postgres@127.0.0.1:5432/ct_bench
#   BENCH_SCALE=10m bash bench/run.sh    # postgres://postgres@127.0.0.1:5432/ct_bench_10m
#   BENCH_DATABASE_URL=postgres://… bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

case "${BENCH_SCALE:-1m}" in
  1m) runs=1000000 default_url=postgres://postgres@127.0.0.1:5432/ct_bench ;;
  10m) runs=10000000 default_url=postgres://postgres@127.0.0.1:5432/ct_bench_10m ;;
  *) echo "BENCH_SCALE is 1m or 10m" >&2; exit 2 ;;
esac
url="${BENCH_DATABASE_URL:-$default_url}"
admin="${url%/*}/postgres"
name="${url##*/}"
binary="${BIN:-target/dist/control-tower}"
email=bench@ops.example
password=bench-password-not-secret

cargo build --profile dist --quiet
psql -X -q "$admin" -tc "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1 \
  || psql -X -q "$admin" -c "CREATE DATABASE \"$name\""

if [ "$(psql -X -qtA "$url" -c "SELECT to_regclass('operation_runs') IS NOT NULL AND EXISTS (SELECT 1 FROM operation_runs)" 2>/dev/null)" != "t" ]; then
  echo "seeding the SPEC §10 scale with $runs runs…"
  start=$(date +%s)
  "$binary" --database-url "$url" seed --workspaces 50 --tenants 5000 --runs "$runs" --audit-logs 200000 --seed 10
  echo "seeded in $(( $(date +%s) - start )) s"
  echo "$password" | "$binary" --database-url "$url" operator create --email "$email" --name Bench \
    --capability console.view --capability audit.view --password-stdin
  psql -X -q "$url" -c "VACUUM ANALYZE"
fi

CONTROL_TOWER_SYSTEM_CONSOLE__CACHE__CONTROL_TOWER_SECONDS=0 \
  "$binary" --database-url "$url" --listen 127.0.0.1:18091 serve >/tmp/ct-bench-cold.log 2>&1 &
cold=$!
"$binary" --database-url "$url" --listen 127.0.0.1:18092 serve >/tmp/ct-bench-cached.log 2>&1 &
cached=$!
# Both servers may be gone already (the board stops them first): that is not a failure.
trap 'kill $cold $cached 2>/dev/null || true' EXIT
for port in 18091 18092; do
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
done

# An hour not yet rolled up is read from the runs: measure once the service has caught up.
for _ in $(seq 600); do
  [ "$(psql -X -qtA "$url" -c "SELECT COUNT(*) FROM run_rollup_dirty")" = 0 ] && break
  sleep 1
done
psql -X -q "$url" -c "VACUUM ANALYZE run_rollups, audit_logs"

python3 bench/driver.py --cold http://127.0.0.1:18091/graphql --cached http://127.0.0.1:18092/graphql \
  --database-url "$url" --email "$email" --password "$password" "$@"

echo
echo "query plans of the aggregates (EXPLAIN ANALYZE, LAST_24H): bench/explain.txt"
psql -X -q "$url" -v window="'24 hours'" -f bench/floor.sql -o /dev/null
sed -e 's/^SELECT/EXPLAIN (ANALYZE, BUFFERS) SELECT/' -e '/^\\timing/d' bench/floor.sql \
  | psql -X -q "$url" -v window="'24 hours'" > bench/explain.txt

if [ "${BOARD:-1}" != 0 ]; then
  kill $cold $cached 2>/dev/null || true
  echo
  BENCH_DATABASE_URL="$url" bash bench/board.sh
fi
