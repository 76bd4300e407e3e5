#!/usr/bin/env bash
# Scale-out figures (SPEC §9d; run by hand, not by CI): the tenant board's requests per
# second against the primary alone, against the primary with one streaming replica
# taking the reads, and through PgBouncer (transaction mode) in front of the primary, in
# one run on this machine, every server started here.
#
#   bash bench/scale.sh                     # target/debug/control-tower, 10 s rounds
#   BIN=target/dist/control-tower DURATION=20 bash bench/scale.sh
#
# - A private primary (initdb on a free port, fsync off, as `postgres` when root), seeded
#   with `control-tower seed` (SEED_ARGS, default the seed's defaults: 5 workspaces, 50
#   tenants, 10,000 runs), a replica made with `pg_basebackup -R`, and Debian's
#   PgBouncer (pool_mode = transaction, default_pool_size 10).
# - Each configuration: one `serve` (RUST_LOG=warn), an operator logged in, a warm-up of
#   WARMUP s, then DURATION s of wrk (bench/board.lua, 16 connections, 2 threads). A
#   round fails on any non-200 answer, GraphQL error or socket error.
# - Prints requests per second and p50/p99 for each, the replica's ratio to the primary
#   alone, and the pooler's extra p50 latency.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
BIN="${BIN:-target/debug/control-tower}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-3}"
SEED_ARGS="${SEED_ARGS:-}"
PGBIN="$(dirname "$(ls /usr/lib/postgresql/*/bin/pg_ctl | head -1)")"
for tool in wrk jq curl pgbouncer; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || { echo "bench/scale.sh: $tool is needed (apt-get install $tool)" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "bench/scale.sh: build $BIN first" >&2; exit 1; }
work="$(mktemp -d)"
chown postgres:postgres "$work" 2>/dev/null || true
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  as_pg "$PGBIN/pg_ctl" -D "$work/replica" -m immediate stop >/dev/null 2>&1 || true
  as_pg "$PGBIN/pg_ctl" -D "$work/primary" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
start_pg() { # dir port
  as_pg "$PGBIN/pg_ctl" -D "$work/$1" -l "$work/$1.log" -w \
    -o "-p $2 -k $work -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
}
pport=$(free_port); rport=$(free_port); bport=$(free_port)
as_pg "$PGBIN/initdb" -D "$work/primary" -U postgres --auth=trust --no-sync -E UTF8 >/dev/null
start_pg primary "$pport"
primary="postgres://postgres@127.0.0.1:$pport/postgres"
# shellcheck disable=SC2086
"$BIN" --database-url "$primary" seed $SEED_ARGS
as_pg "$PGBIN/pg_basebackup" -D "$work/replica" -h 127.0.0.1 -p "$pport" -U postgres -R -X stream -c fast --no-sync
start_pg replica "$rport"
replica="postgres://postgres@127.0.0.1:$rport/postgres"
cat >"$work/pgbouncer.ini" <<INI
[databases]
primary = host=127.0.0.1 port=$pport dbname=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
unix_socket_dir =
auth_type = trust
auth_file = $work/users.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 10
logfile = $work/pgbouncer.log
INI
echo '"postgres" ""' >"$work/users.txt"
chown postgres:postgres "$work/pgbouncer.ini" "$work/users.txt" 2>/dev/null || true
as_pg pgbouncer "$work/pgbouncer.ini" >/dev/null 2>&1 &
pids+=($!)
sleep 1
echo bench-password-1 | "$BIN" --database-url "$primary" operator create --email bench@ops.example \
  --name Bench --capability console.view --password-stdin >/dev/null
jq -nc '{query: "{ tenants(first: 50) { nodes { name workspace { name } providerConnections { provider status } permissions { key status } } } }"}' >"$work/board.json"

round() { # name, then env assignments for serve
  local name="$1"; shift
  local port; port=$(free_port)
  env "$@" RUST_LOG=warn "$BIN" --listen "127.0.0.1:$port" serve >"$work/$name.out" 2>"$work/$name.err" &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 1 100); do grep -q "is ready" "$work/$name.out" 2>/dev/null && break; sleep 0.2; done
  if [ "$name" = replica ]; then
    for _ in $(seq 1 100); do
      curl -s "http://127.0.0.1:$port/metrics" | grep -q 'control_tower_db_replica_serving{.*} 1' && break; sleep 0.2
    done
  fi
  local token
  token=$(curl -sf -H 'Content-Type: application/json' \
    -d '{"query":"mutation { login(email: \"bench@ops.example\", password: \"bench-password-1\") { token } }"}' \
    "http://127.0.0.1:$port/graphql" | jq -r .data.login.token)
  BOARD_BODY="$work/board.json" BOARD_TOKEN="$token" wrk -t2 -c16 -d"${WARMUP}s" -s bench/board.lua \
    "http://127.0.0.1:$port/graphql" >/dev/null
  local result
  result=$(BOARD_BODY="$work/board.json" BOARD_TOKEN="$token" wrk -t2 -c16 -d"${DURATION}s" \
    -s bench/board.lua "http://127.0.0.1:$port/graphql" | grep '^RESULT')
  local reads
  reads=$(curl -s "http://127.0.0.1:$port/metrics" | grep '^control_tower_db_reads_total' | tr '\n' ' ' || true)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$result" | grep -q 'non2xx=0 gql_errors=0 socket_errors=0' || { echo "round $name failed: $result" >&2; cat "$work/$name.err" >&2; exit 1; }
  local requests duration p50 p99
  requests=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$result")
  duration=$(sed 's/.*duration_us=\([0-9]*\).*/\1/' <<<"$result")
  p50=$(sed 's/.*p50_us=\([0-9]*\).*/\1/' <<<"$result")
  p99=$(sed 's/.*p99_us=\([0-9]*\).*/\1/' <<<"$result")
  rps=$(awk -v r="$requests" -v d="$duration" 'BEGIN { printf "%.0f", r * 1e6 / d }')
  printf '%-8s %6s req/s  p50 %6.2f ms  p99 %6.2f ms  %s\n' "$name" "$rps" "$(awk -v x="$p50" 'BEGIN{print x/1000}')" "$(awk -v x="$p99" 'BEGIN{print x/1000}')" "$reads"
  eval "rps_$name=$rps; p50_$name=$p50"
}

round primary CONTROL_TOWER_DATABASE_URL="$primary"
round replica CONTROL_TOWER_DATABASE_URL="$primary" CONTROL_TOWER_DATABASE_REPLICA_URLS="$replica"
round pooler CONTROL_TOWER_DATABASE_URL="postgres://postgres@127.0.0.1:$bport/primary" CONTROL_TOWER_DATABASE_DIRECT_URL="$primary"
awk -v a="$rps_primary" -v b="$rps_replica" 'BEGIN { printf "primary + replica / primary alone: %.2f\n", b / a }'
awk -v a="$p50_primary" -v b="$p50_pooler" -v ra="$rps_primary" -v rb="$rps_pooler" \
  'BEGIN { printf "pooler: p50 +%.2f ms, requests per second x%.2f\n", (b - a) / 1000, rb / ra }'
