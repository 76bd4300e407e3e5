#!/usr/bin/env bash
# The build profiles side by side (run by hand, not by CI; issue #29): how long a fresh
# clone takes to build with the quick `release` profile (the README's first command) and
# with the `dist` profile (fat LTO, one codegen unit: shipped binaries, benchmarks), and
# the tenant board's requests per second under each, in one run on one machine.
#
#   bash bench/profiles.sh                 # 10 s rounds, rounds "release dist release dist"
#   DURATION=20 ROUNDS="dist release" bash bench/profiles.sh
#
# What it does
# - Clones the committed HEAD into a temporary directory and builds the binary there
#   twice, each from an empty target directory of its own (`--locked`; the crates are
#   taken from cargo's local registry cache, so downloads are not timed), timing each
#   build with the shell's clock.
# - Starts a private PostgreSQL (initdb, fsync off, on a free port), seeds it with
#   `control-tower seed` (its defaults), creates a console.view operator.
# - Rounds: each binary serves the board (50 tenants with workspace, connections and
#   permissions; bench/board.lua, 16 connections, 2 threads) for WARMUP s unmeasured,
#   then DURATION s measured. A round fails on any non-200, GraphQL error or socket
#   error. Prints each round, then each profile's best round and dist / release.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-3}"
ROUNDS="${ROUNDS:-release dist release dist}"
PGBIN="$(dirname "$(ls /usr/lib/postgresql/*/bin/pg_ctl | head -1)")"
for tool in wrk jq curl git; do
  command -v "$tool" >/dev/null || { echo "bench/profiles.sh: $tool is needed" >&2; exit 1; }
done
work="$(mktemp -d)"
chown postgres:postgres "$work" 2>/dev/null || true
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  as_pg "$PGBIN/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

git clone -q . "$work/src"
build() { # profile
  local started ended
  started=$(date +%s.%N)
  (cd "$work/src" && CARGO_TARGET_DIR="$work/target-$1" cargo build --quiet --locked --profile "$1" --bin control-tower)
  ended=$(date +%s.%N)
  awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.0f", b - a }'
}
build_release=$(build release)
echo "build release: ${build_release} s"
build_dist=$(build dist)
echo "build dist:    ${build_dist} s"
bin_release="$work/target-release/release/control-tower"
bin_dist="$work/target-dist/dist/control-tower"

port=$(free_port)
as_pg "$PGBIN/initdb" -D "$work/pg" -U postgres --auth=trust --no-sync -E UTF8 >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
  -o "-p $port -k $work -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
db="postgres://postgres@127.0.0.1:$port/postgres"
"$bin_dist" --database-url "$db" seed >/dev/null
echo bench-password-1 | "$bin_dist" --database-url "$db" operator create --email bench@ops.example \
  --name Bench --capability console.view --password-stdin >/dev/null
jq -nc '{query: "{ tenants(first: 50) { nodes { name workspace { name } providerConnections { provider status } permissions { key status } } } }"}' >"$work/board.json"

declare -A best
round() { # profile
  local profile="$1" bin port pid token result
  bin="$work/target-$profile/$profile/control-tower"
  port=$(free_port)
  RUST_LOG=warn "$bin" --database-url "$db" --listen "127.0.0.1:$port" serve >"$work/$profile.out" 2>"$work/$profile.err" &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 1 100); do grep -q "is ready" "$work/$profile.out" 2>/dev/null && break; sleep 0.2; done
  token=$(curl -sf -H 'Content-Type: application/json' \
    -d '{"query":"mutation { login(email: \"bench@ops.example\", password: \"bench-password-1\") { token } }"}' \
    "http://127.0.0.1:$port/graphql" | jq -r .data.login.token)
  BOARD_BODY="$work/board.json" BOARD_TOKEN="$token" wrk -t2 -c16 -d"${WARMUP}s" -s bench/board.lua \
    "http://127.0.0.1:$port/graphql" >/dev/null
  result=$(BOARD_BODY="$work/board.json" BOARD_TOKEN="$token" wrk -t2 -c16 -d"${DURATION}s" \
    -s bench/board.lua "http://127.0.0.1:$port/graphql" | grep '^RESULT')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$result" | grep -q 'non2xx=0 gql_errors=0 socket_errors=0' || { echo "round $profile failed: $result" >&2; cat "$work/$profile.err" >&2; exit 1; }
  local requests duration p50 p99 rps
  requests=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$result")
  duration=$(sed 's/.*duration_us=\([0-9]*\).*/\1/' <<<"$result")
  p50=$(sed 's/.*p50_us=\([0-9]*\).*/\1/' <<<"$result")
  p99=$(sed 's/.*p99_us=\([0-9]*\).*/\1/' <<<"$result")
  rps=$(awk -v r="$requests" -v d="$duration" 'BEGIN { printf "%.0f", r * 1e6 / d }')
  printf '%-8s %6s req/s  p50 %6.2f ms  p99 %6.2f ms\n' "$profile" "$rps" \
    "$(awk -v x="$p50" 'BEGIN{print x/1000}')" "$(awk -v x="$p99" 'BEGIN{print x/1000}')"
  if [ -z "${best[$profile]:-}" ] || [ "$rps" -gt "${best[$profile]}" ]; then best[$profile]=$rps; fi
}
for profile in $ROUNDS; do round "$profile"; done
echo "RESULT build_release_s=$build_release build_dist_s=$build_dist rps_release=${best[release]:-} rps_dist=${best[dist]:-}"
if [ -n "${best[release]:-}" ] && [ -n "${best[dist]:-}" ]; then
  awk -v a="${best[release]}" -v b="${best[dist]}" 'BEGIN { printf "dist / release requests per second: %.2f\n", b / a }'
fi
