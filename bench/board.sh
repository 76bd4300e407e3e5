#!/usr/bin/env bash
# The "tenant board" benchmark (run by hand, not by CI): the same page of 50 tenants,
# each with its workspace's name, its provider connections and its permissions, asked
# of Control Tower and of PostGraphile 4.14.1, both on the same PostgreSQL database.
#
#   bash bench/board.sh                      # postgres://postgres@127.0.0.1:5432/ct_bench, 15 s rounds
#   DURATION=10 BENCH_DATABASE_URL=postgres://… bash bench/board.sh
#
# Both servers connect with the same URL. Unless it names an `sslmode`, `sslmode=disable`
# is added: PostGraphile's driver (node-postgres) speaks plain TCP unless told otherwise,
# while ours (sqlx) prefers TLS whenever the server offers it, as Debian's PostgreSQL
# does; on loopback, TLS would only charge encryption to one side.
#
# What it does
# - Uses the existing dist binary (`cargo build --profile dist`; BIN= names another)
#   and no cargo build, and an already seeded database
#   (bench/run.sh seeds it); refuses to start while `control-tower … seed` runs.
# - ANALYZEs the four tables the board reads, so both servers get the same plans.
# - Creates the operator bench@ops.example (console.view, audit.view) unless it exists,
#   as bench/run.sh does, logs in once and sends `Authorization: Bearer …` with every
#   request. PostGraphile runs without authentication (it has none configured).
# - Installs PostGraphile from bench/postgraphile/package-lock.json with `npm ci` into
#   a temporary directory (or uses POSTGRAPHILE_DIR if given) and runs its CLI with
#   `node` directly, NODE_ENV=production, no watch, no GraphiQL, no query log, a pool of
#   10 (Control Tower's default `database_max_connections`).
# - Starts Control Tower at its default configuration, except RUST_LOG=warn (its access
#   log is one line per request at `info`; PostGraphile's query log is off too). Set
#   OURS_RUST_LOG= (empty) to keep its default log. Waits until its background roll-up
#   refresh has drained `run_rollup_dirty`, so that work does not land in a round.
# - Pre-flight: asks both servers once and fails unless neither answer has `errors` and
#   both hold the same 50 tenants in the same order, with the same workspace names,
#   connections and permissions (statuses compared case-insensitively: our enums are
#   upper case, PostGraphile returns the text column). Ours sorts tenants by name then
#   id, connections default-first then by provider, permissions by key; PostGraphile is
#   asked for the same orders explicitly.
# - Rounds A B A B (ROUNDS="ours theirs ours theirs"): each has an unmeasured warm-up of
#   WARMUP seconds, then DURATION seconds of wrk (bench/board.lua, CONNECTIONS=16
#   connections on THREADS=2 threads, POST with a JSON body). A round fails on any
#   non-200 answer, any answer with GraphQL `errors`, or any socket error.
#
# What it reports, per round
#   req/s          completed requests / wrk's measured duration
#   p50, p99 ms    wrk's latency percentiles (from board.lua's done() hook)
#   service CPU    delta of utime+stime (all threads) of the server process, from
#                  /proc/PID/stat, per completed request
#   PostgreSQL CPU delta of utime+stime of every child of the postmaster plus the
#                  postmaster's own utime+stime+cutime+cstime (so backends that exit
#                  during the round still count), per completed request; this includes
#                  PostgreSQL's background processes
#   RSS MB         the highest VmRSS of the server process, sampled every 0.2 s
# and then the ratio of ours' mean req/s to PostGraphile's. wrk, both servers and
# PostgreSQL share this machine's cores; the host's busy share per round is printed
# below the table, split into the server, PostgreSQL, wrk and everything else, so that
# outside load (a compiler, another benchmark) is visible: rerun if "other" is large.
# Raw wrk outputs, both answers and the server logs stay in the directory printed first.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

url="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/ct_bench}"
duration="${DURATION:-15}"
warmup="${WARMUP:-3}"
connections="${CONNECTIONS:-16}"
threads="${THREADS:-2}"
ours_port="${OURS_PORT:-18094}"
theirs_port="${THEIRS_PORT:-18093}"
rounds="${ROUNDS:-ours theirs ours theirs}"
ours_log_filter="${OURS_RUST_LOG-warn}"
rollup_wait="${ROLLUP_WAIT:-900}"
binary="${BIN:-target/dist/control-tower}"
email=bench@ops.example
password=bench-password-not-secret
postgraphile_version=4.14.1
hz=$(getconf CLK_TCK)

case "$url" in
  *sslmode=*) server_url="$url" ;;
  *\?*) server_url="$url&sslmode=disable" ;;
  *) server_url="$url?sslmode=disable" ;;
esac

psql_q() { psql -X -q -tA -v ON_ERROR_STOP=1 "$url" -c "$1"; }
die() { echo "board.sh: $*" >&2; exit 1; }

# --- prerequisites ----------------------------------------------------------------

for tool in curl jq psql node npm; do
  command -v "$tool" >/dev/null || die "$tool is required"
done
if ! command -v wrk >/dev/null; then
  echo "installing wrk from Debian…"
  apt-get install -y wrk >/dev/null
fi
[ -x "$binary" ] || die "$binary is missing (this script does not build it)"
if pgrep -f 'control-tower.*seed' >/dev/null; then
  die "a 'control-tower … seed' is still running; wait for it to finish"
fi
[ "$(psql_q "SELECT count(*) > 0 FROM tenants")" = t ] || die "no tenants in $url; seed it first (bench/run.sh)"

logs=$(mktemp -d /tmp/ct-board-bench.XXXXXX)
work=$(mktemp -d)
ours_pid="" theirs_pid="" sampler_pid=""
cleanup() {
  for pid in $sampler_pid $ours_pid $theirs_pid; do kill "$pid" 2>/dev/null || true; done
  for pid in $ours_pid $theirs_pid; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
echo "logs and raw wrk output: $logs"

psql_q "ANALYZE workspaces, tenants, provider_connections, tenant_permissions"

if [ "$(psql_q "SELECT count(*) FROM platform_users WHERE email = '$email'")" = 0 ]; then
  echo "$password" | "$binary" --database-url "$url" operator create --email "$email" --name Bench \
    --capability console.view --capability audit.view --password-stdin
fi

# --- PostGraphile, pinned ---------------------------------------------------------

if [ -n "${POSTGRAPHILE_DIR:-}" ]; then
  pg_dir="$POSTGRAPHILE_DIR"
else
  pg_dir="$work/postgraphile"
  mkdir -p "$pg_dir"
  cp bench/postgraphile/package.json bench/postgraphile/package-lock.json "$pg_dir/"
  echo "installing PostGraphile $postgraphile_version (npm ci)…"
  (cd "$pg_dir" && npm ci --no-audit --no-fund --omit=dev --loglevel=error >/dev/null)
fi
installed=$(node -p "require('$pg_dir/node_modules/postgraphile/package.json').version")
[ "$installed" = "$postgraphile_version" ] || die "PostGraphile $installed installed, want $postgraphile_version"

# --- servers ------------------------------------------------------------------------

if [ -n "$ours_log_filter" ]; then
  RUST_LOG="$ours_log_filter" "$binary" --database-url "$server_url" --listen "127.0.0.1:$ours_port" serve \
    >"$logs/ours.log" 2>&1 &
else
  "$binary" --database-url "$server_url" --listen "127.0.0.1:$ours_port" serve >"$logs/ours.log" 2>&1 &
fi
ours_pid=$!
# `node` itself (not npx), so $! is the process that serves.
NODE_ENV=production node "$pg_dir/node_modules/postgraphile/cli.js" \
  --connection "$server_url" --schema public --host 127.0.0.1 --port "$theirs_port" \
  --disable-graphiql --disable-query-log --no-setof-functions-contain-nulls --max-pool-size 10 \
  >"$logs/theirs.log" 2>&1 &
theirs_pid=$!

ready=""
for _ in $(seq 150); do
  curl -sf "http://127.0.0.1:$ours_port/readyz" >/dev/null && { ready=1; break; }
  kill -0 "$ours_pid" 2>/dev/null || break
  sleep 0.2
done
[ -n "$ready" ] || { tail -20 "$logs/ours.log" >&2; die "Control Tower did not become ready"; }
ready=""
for _ in $(seq 300); do
  curl -sf -H 'Content-Type: application/json' -d '{"query":"{__typename}"}' \
    "http://127.0.0.1:$theirs_port/graphql" >/dev/null && { ready=1; break; }
  kill -0 "$theirs_pid" 2>/dev/null || break
  sleep 0.2
done
[ -n "$ready" ] || { tail -20 "$logs/theirs.log" >&2; die "PostGraphile did not become ready"; }
[ "$(cat "/proc/$theirs_pid/comm")" = node ] || die "PID $theirs_pid is not node"

# The roll-up refresh (every 10 s) rebuilds whatever the last writer left dirty; let it
# finish before measuring so its CPU is not charged to the board.
if [ "$(psql_q "SELECT to_regclass('run_rollup_dirty') IS NOT NULL")" = t ]; then
  waited=0
  while [ "$(psql_q "SELECT count(*) FROM run_rollup_dirty")" != 0 ]; do
    [ "$waited" -lt "$rollup_wait" ] || die "run_rollup_dirty did not drain in ${rollup_wait} s"
    [ $((waited % 30)) -eq 0 ] && echo "waiting for the roll-up refresh ($(psql_q "SELECT count(*) FROM run_rollup_dirty") dirty rows)…"
    sleep 5; waited=$((waited + 5))
  done
fi

# --- the documents, and the pre-flight check ----------------------------------------

ours_query='{ tenants(first: 50) { nodes { name workspace { name } providerConnections { provider status } permissions { key status } } } }'
theirs_query='{ allTenants(first: 50, orderBy: [NAME_ASC, ID_ASC]) { nodes { name workspaceByWorkspaceId { name } providerConnectionsByTenantId(orderBy: [IS_DEFAULT_DESC, PROVIDER_ASC, ID_ASC]) { nodes { provider status } } tenantPermissionsByTenantId(orderBy: [KEY_ASC, ID_ASC]) { nodes { key status } } } } }'
jq -nc --arg q "$ours_query" '{query: $q}' >"$work/ours.json"
jq -nc --arg q "$theirs_query" '{query: $q}' >"$work/theirs.json"

token=$(jq -nc --arg e "$email" --arg p "$password" \
    '{query: "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }", variables: {e: $e, p: $p}}' \
  | curl -sSf -H 'Content-Type: application/json' --data-binary @- "http://127.0.0.1:$ours_port/graphql" \
  | jq -r '.data.login.token // empty')
[ -n "$token" ] || die "logging in as $email failed"

curl -sSf -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
  --data-binary @"$work/ours.json" "http://127.0.0.1:$ours_port/graphql" >"$logs/ours-answer.json"
curl -sSf -H 'Content-Type: application/json' \
  --data-binary @"$work/theirs.json" "http://127.0.0.1:$theirs_port/graphql" >"$logs/theirs-answer.json"
for side in ours theirs; do
  if jq -e 'has("errors")' "$logs/$side-answer.json" >/dev/null; then
    jq -c .errors "$logs/$side-answer.json" >&2
    die "$side answered the board with errors"
  fi
done
jq '[.data.tenants.nodes[] | {name, workspace: .workspace.name,
      connections: [.providerConnections[] | {provider, status: (.status | ascii_downcase)}],
      permissions: [.permissions[] | {key, status: (.status | ascii_downcase)}]}]' \
  "$logs/ours-answer.json" >"$logs/ours-board.json"
jq '[.data.allTenants.nodes[] | {name, workspace: .workspaceByWorkspaceId.name,
      connections: [.providerConnectionsByTenantId.nodes[] | {provider, status: (.status | ascii_downcase)}],
      permissions: [.tenantPermissionsByTenantId.nodes[] | {key, status: (.status | ascii_downcase)}]}]' \
  "$logs/theirs-answer.json" >"$logs/theirs-board.json"
[ "$(jq length "$logs/ours-board.json")" = 50 ] || die "ours returned $(jq length "$logs/ours-board.json") tenants, not 50"
if ! diff -u "$logs/ours-board.json" "$logs/theirs-board.json" >"$logs/board.diff"; then
  head -40 "$logs/board.diff" >&2
  die "the two boards differ (full diff: $logs/board.diff)"
fi
echo "pre-flight: both answers hold the same 50 tenants ($(jq -r '.[0].name' "$logs/ours-board.json") … $(jq -r '.[-1].name' "$logs/ours-board.json")), connections and permissions"

# --- measuring ------------------------------------------------------------------------

# utime+stime of a process (all its threads), in clock ticks; with "all", also the
# time of its reaped children (cutime+cstime).
ticks() {
  local stat f
  stat=$(<"/proc/$1/stat") || return 1
  read -ra f <<<"${stat##*) }"
  if [ "${2:-}" = all ]; then
    echo $((f[11] + f[12] + f[13] + f[14]))
  else
    echo $((f[11] + f[12]))
  fi
}

postmaster=""
data_dir=$(psql_q "SHOW data_directory" 2>/dev/null || true)
if [ -n "$data_dir" ] && [ -r "$data_dir/postmaster.pid" ]; then
  postmaster=$(head -1 "$data_dir/postmaster.pid")
fi
[ -n "$postmaster" ] || postmaster=$(pgrep -o -x postgres || true)
[ -n "$postmaster" ] && [ -e "/proc/$postmaster" ] || die "cannot find the postmaster's PID (is PostgreSQL local?)"

# The CPU of PostgreSQL: its live children, then the postmaster with its reaped ones.
pg_ticks() {
  local total=0 child t
  for child in $(pgrep -P "$postmaster"); do
    t=$(ticks "$child" 2>/dev/null) && total=$((total + t))
  done
  echo $((total + $(ticks "$postmaster" all)))
}

# CPU of this shell's reaped children (wrk, once it has exited), in clock ticks.
reaped_ticks() {
  local stat f
  stat=$(<"/proc/$$/stat")
  read -ra f <<<"${stat##*) }"
  echo $((f[13] + f[14]))
}

# busy and total jiffies of the whole host (all CPUs), from /proc/stat
host_ticks() {
  local cpu user nice system idle iowait irq softirq steal _
  read -r cpu user nice system idle iowait irq softirq steal _ </proc/stat
  echo "$((user + nice + system + irq + softirq + steal)) $((user + nice + system + idle + iowait + irq + softirq + steal))"
}

# Highest VmRSS (kB) of $1 until $2 exists; written to $3.
sample_rss() {
  local pid=$1 stop=$2 out=$3 max=0 key value _
  while [ ! -e "$stop" ]; do
    while read -r key value _; do
      if [ "$key" = VmRSS: ]; then
        [ "$value" -gt "$max" ] && max=$value
        break
      fi
    done <"/proc/$pid/status"
    echo "$max" >"$out"
    sleep 0.2
  done
}

run_wrk() { # side seconds [extra wrk flags…]
  local side=$1 seconds=$2; shift 2
  local port=$ours_port tok=$token
  if [ "$side" = theirs ]; then port=$theirs_port; tok=""; fi
  BOARD_BODY="$work/$side.json" BOARD_TOKEN="$tok" \
    wrk -t "$threads" -c "$connections" -d "${seconds}s" --timeout 10s -s bench/board.lua "$@" \
    "http://127.0.0.1:$port/graphql"
}

echo "rounds of ${duration} s (warm-up ${warmup} s), ${connections} connections on ${threads} wrk threads, $(nproc) CPUs"
rows=()
notes=()
n=0
for side in $rounds; do
  n=$((n + 1))
  case $side in
    ours) pid=$ours_pid name="control-tower" ;;
    theirs) pid=$theirs_pid name="postgraphile" ;;
    *) die "unknown side '$side' in ROUNDS" ;;
  esac
  echo "round $n: $name…"
  run_wrk "$side" "$warmup" >"$logs/round$n-warmup.txt"

  stop="$work/stop$n"
  service0=$(ticks "$pid"); pg0=$(pg_ticks); read -r busy0 all0 <<<"$(host_ticks)"
  sample_rss "$pid" "$stop" "$work/rss$n" &
  sampler_pid=$!
  wrk0=$(reaped_ticks)
  run_wrk "$side" "$duration" --latency >"$logs/round$n.txt"
  wrk1=$(reaped_ticks)
  touch "$stop"; wait "$sampler_pid"; sampler_pid=""
  service1=$(ticks "$pid"); pg1=$(pg_ticks); read -r busy1 all1 <<<"$(host_ticks)"

  result=$(grep '^RESULT ' "$logs/round$n.txt") || { cat "$logs/round$n.txt" >&2; die "round $n: wrk printed no RESULT"; }
  declare -A r=()
  for kv in ${result#RESULT }; do r[${kv%%=*}]=${kv#*=}; done
  if [ "${r[non2xx]}" != 0 ] || [ "${r[gql_errors]}" != 0 ] || [ "${r[socket_errors]}" != 0 ]; then
    cat "$logs/round$n.txt" >&2
    die "round $n ($name): ${r[non2xx]} non-2xx, ${r[gql_errors]} answers with errors, ${r[socket_errors]} socket errors"
  fi
  [ "${r[requests]}" -gt 0 ] || die "round $n: no request completed"

  rows+=("$(awk -v n="$n" -v name="$name" -v req="${r[requests]}" -v us="${r[duration_us]}" \
      -v p50="${r[p50_us]}" -v p99="${r[p99_us]}" -v s="$((service1 - service0))" \
      -v pg="$((pg1 - pg0))" -v hz="$hz" -v rss="$(cat "$work/rss$n")" 'BEGIN {
    printf "%5d | %-13s | %8.1f | %6.2f | %6.2f | %18.3f | %21.3f | %6.1f\n",
      n, name, req / (us / 1e6), p50 / 1000, p99 / 1000,
      s * 1000 / hz / req, pg * 1000 / hz / req, rss / 1024 }')")
  notes+=("$(awk -v n="$n" -v name="$name" -v b=$((busy1 - busy0)) -v a=$((all1 - all0)) -v req="${r[requests]}" \
      -v s="$((service1 - service0))" -v pg="$((pg1 - pg0))" -v w="$((wrk1 - wrk0))" 'BEGIN {
    if (!a) a = 1
    printf "round %d (%s): %d requests; host CPU busy %.0f%% = service %.0f%% + PostgreSQL %.0f%% + wrk %.0f%% + other %.0f%%",
      n, name, req, 100 * b / a, 100 * s / a, 100 * pg / a, 100 * w / a, 100 * (b - s - pg - w) / a }')")
  unset r
done

echo
printf "%5s | %-13s | %8s | %6s | %6s | %18s | %21s | %6s\n" \
  round server "req/s" "p50 ms" "p99 ms" "service CPU ms/req" "PostgreSQL CPU ms/req" "RSS MB"
printf -- '------+---------------+----------+--------+--------+--------------------+-----------------------+-------\n'
printf '%s\n' "${rows[@]}"
echo
printf '%s\n' "${notes[@]}"
printf '%s\n' "${rows[@]}" | awk -F'|' '
  $2 ~ /control-tower/ { o += $3; no++ }
  $2 ~ /postgraphile/  { t += $3; nt++ }
  END {
    if (no && nt) printf "\nmean req/s: control-tower %.1f, postgraphile %.1f; ratio (ours / theirs) %.2f\n",
      o / no, t / nt, (o / no) / (t / nt)
  }'
