#!/usr/bin/env bash
# Drives a fresh Control Tower server with the tools frontend teams use: graphql-request,
# urql and Apollo Client (every saved operation, POST and GET, persisted queries),
# graphql-ws (subscriptions over /graphql/ws), GraphQL Code Generator + tsc, GraphQL
# Inspector (validate, diff) and the graphql-http server audit. See README.md. Exits
# non-zero when any step fails.
#
#   CONTROL_TOWER_BIN  the server binary (default: <repo>/target/debug/control-tower)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$HERE"

BIN="${CONTROL_TOWER_BIN:-$REPO/target/debug/control-tower}"
if [[ ! -x "$BIN" ]]; then
  echo "run.sh: no server binary at $BIN (build it, or set CONTROL_TOWER_BIN)" >&2
  exit 2
fi
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"

# --- dependencies: npm ci unless node_modules matches package-lock.json -----------------
STAMP=node_modules/.package-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$want" ]]; then
  echo "== npm ci"
  npm ci --no-audit --no-fund
  echo "$want" >"$STAMP"
fi

# --- the server: fresh SQLite database, free port --------------------------------------
# shellcheck source=../demo-server.sh
source "$HERE/../demo-server.sh"
echo "== server $BIN"
echo "   listening on $CT_URL"
echo "   demo operator $CT_EMAIL (password read from the server's output)"
# The dashboard-token tests make and revoke tokens with the CLI, on the server's database.
export CT_BIN="$BIN" CT_DATABASE_URL="sqlite://$TMP/ct.db?mode=rwc"

# --- the steps ------------------------------------------------------------------------
NAMES=()
RESULTS=()
TIMES=()
step() {
  local name="$1"
  shift
  echo
  echo "==== $name"
  echo "     \$ $*"
  local start=$SECONDS rc=0
  if declare -F "$1" >/dev/null; then
    "$@" || rc=$?
  else
    timeout 300 "$@" || rc=$?
  fi
  NAMES+=("$name")
  TIMES+=("$((SECONDS - start))s")
  if [[ $rc -eq 0 ]]; then RESULTS+=(PASS); else RESULTS+=("FAIL (exit $rc)"); fi
}

# Inspector's URL loader introspects with graphql-js getIntrospectionQuery()'s defaults,
# which do not ask for `specifiedByURL`: every `@specifiedBy` of schema.graphql then
# reads as removed. That change alone is the tool's, not the server's (http.test.mjs
# checks that the full introspection, specifiedByURL included, matches schema.graphql);
# any other change fails the step.
inspector_diff() {
  local out rc=0 changes unexplained
  out="$(./node_modules/.bin/graphql-inspector diff "$REPO/schema.graphql" "$CT_URL" 2>&1)" || rc=$?
  echo "$out"
  if [[ $rc -ne 0 ]]; then return "$rc"; fi
  if grep -q "No changes detected" <<<"$out"; then return 0; fi
  changes="$(grep -E '^(\[log\] )?(✖|⚠|✔) ' <<<"$out" || true)"
  unexplained="$(grep -vE 'Directive specifiedBy was removed from scalar [A-Za-z_][A-Za-z0-9_]*$' <<<"$changes" || true)"
  if [[ -n "$changes" && -z "$unexplained" ]]; then
    echo "inspector diff: only @specifiedBy reads as removed: its introspection query does not ask for specifiedByURL (not a server difference)"
    return 0
  fi
  echo "inspector diff: the running server's schema differs from schema.graphql" >&2
  return 1
}

# Inspector takes one pointer: a glob (with braces when playground/fragments exists).
DOCUMENTS_GLOB="$REPO/playground/operations/*.graphql"
if [[ -d "$REPO/playground/fragments" ]]; then
  DOCUMENTS_GLOB="$REPO/playground/{operations,fragments}/*.graphql"
fi

TEST_FLAGS=(--test --test-reporter=spec --test-timeout=60000)
step "clients: graphql-request, urql, Apollo (+ persisted queries)" node "${TEST_FLAGS[@]}" clients.test.mjs
step "http: GraphQL-over-HTTP contract (plain fetch)" node "${TEST_FLAGS[@]}" http.test.mjs
step "subscriptions: graphql-ws over /graphql/ws" node "${TEST_FLAGS[@]}" subscriptions.test.mjs
rm -rf generated
step "codegen: typescript-operations" ./node_modules/.bin/graphql-codegen --config codegen.ts
step "tsc --strict --noEmit" ./node_modules/.bin/tsc -p tsconfig.json --strict --noEmit
step "inspector validate" ./node_modules/.bin/graphql-inspector validate "$DOCUMENTS_GLOB" "$REPO/schema.graphql"
step "inspector diff schema.graphql vs. server introspection" inspector_diff
step "graphql-http server audit" node audit.mjs

# The playground in a real browser (Debian's chromium, driven by playwright-core pinned in
# playground/): last, because it signs the demo session out.
playground_browser() {
  local dir="$REPO/playground" want
  if ! command -v "${CHROMIUM:-chromium}" >/dev/null; then
    echo "playground: no chromium (apt-get install chromium; .ci/run installs it)" >&2
    return 1
  fi
  want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [[ ! -f "$dir/node_modules/.package-lock.sha256" || "$(cat "$dir/node_modules/.package-lock.sha256")" != "$want" ]]; then
    echo "== npm ci (playground)"
    (cd "$dir" && npm ci --no-audit --no-fund) || return 1
    echo "$want" >"$dir/node_modules/.package-lock.sha256"
  fi
  (cd "$dir" && CT_BASE_URL="${CT_URL%/graphql}" timeout 300 node browser-test.mjs)
}
step "playground: GraphiQL in headless Chromium, offline, CSP-clean" playground_browser

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  NAMES+=("server still running at the end")
  RESULTS+=("FAIL (it exited)")
  TIMES+=("-")
  echo "--- server stderr (last 40 lines)"; tail -n 40 "$TMP/server.err"
fi

# --- summary --------------------------------------------------------------------------
echo
echo "==== summary"
passed=0
failed=0
for i in "${!NAMES[@]}"; do
  printf '%-6s %-60s %s\n' "${RESULTS[$i]%% *}" "${NAMES[$i]}" "${TIMES[$i]}"
  if [[ "${RESULTS[$i]}" == PASS ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "clients: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
