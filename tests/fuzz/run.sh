#!/usr/bin/env bash
# Fuzzes a fresh, seeded Control Tower server's GraphQL API with schemathesis (pinned in
# requirements.txt, installed into <repo>/target/fuzz-venv), as the demo operator (all
# capabilities). Fails on any 5xx, any GraphQL error without a SPEC §6 code or with
# INTERNAL, any answer whose `data` breaks the document or the schema, a server that dies,
# or a panic in its log. See README.md for the checks that are on and off, and why.
#
#   tests/fuzz/run.sh [SERVER_BINARY]   default: $CONTROL_TOWER_BIN, else
#                                       <repo>/target/debug/control-tower
#
#   FUZZ_MAX_EXAMPLES  test cases per operation and phase (default 100)
#   FUZZ_SEED          hypothesis seed, to replay a run (default: random, printed)
#   FUZZ_WORKERS       concurrent schemathesis workers (default 2)
#   FUZZ_TIMEOUT       hard limit for the schemathesis run, seconds (default 330)
#   PYTHON             interpreter the virtualenv is made from (default python3, >= 3.10)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$HERE"

BIN="${1:-${CONTROL_TOWER_BIN:-$REPO/target/debug/control-tower}}"
if [[ ! -x "$BIN" ]]; then
  echo "run.sh: no server binary at $BIN (build it, or pass its path as \$1)" >&2
  exit 2
fi
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"

MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-100}"
WORKERS="${FUZZ_WORKERS:-2}"
ST_TIMEOUT="${FUZZ_TIMEOUT:-330}"
STARTED=$SECONDS

# --- schemathesis, pinned, in target/fuzz-venv ------------------------------------------
# requirements.txt pins schemathesis and everything it pulls in; the venv is rebuilt only
# when that file changes (a stamp of its hash) or the venv does not answer the pinned
# version.
VENV="$REPO/target/fuzz-venv"
ST_VERSION="$(sed -n 's/^schemathesis==\([^ ;]*\).*$/\1/p' requirements.txt)"
STAMP="$VENV/.requirements.sha256"
want="$(sha256sum requirements.txt | cut -d' ' -f1)"
have_version="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null || true)"
if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$want" || "$have_version" != "$ST_VERSION" ]]; then
  echo "== installing schemathesis==$ST_VERSION into $VENV"
  rm -rf "$VENV"
  "${PYTHON:-python3}" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r requirements.txt
  have_version="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))')"
  if [[ "$have_version" != "$ST_VERSION" ]]; then
    echo "run.sh: installed schemathesis $have_version, expected $ST_VERSION" >&2
    exit 1
  fi
  echo "$want" >"$STAMP"
fi
echo "== schemathesis $have_version ($VENV)"

# --- the server: fresh SQLite database, free port --------------------------------------
# shellcheck source=../demo-server.sh
source "$HERE/../demo-server.sh"
echo "== server $BIN"
echo "   listening on $CT_URL (demo operator $CT_EMAIL, all capabilities)"

# --- fuzz dictionary: real ids, cursors, slugs ... of the seeded data --------------------
# Written to a schemathesis.toml in the temporary directory (it holds the demo password).
if ! "$VENV/bin/python" "$HERE/hooks.py" "$CT_URL" "$CT_TOKEN" "$CT_EMAIL" "$CT_PASSWORD" >"$TMP/schemathesis.toml"; then
  echo "run.sh: could not build the fuzz dictionary from the server" >&2
  exit 1
fi
echo "   fuzz dictionary: $(grep -c '^\[dictionaries\.' "$TMP/schemathesis.toml") dictionaries from the seeded data"

# --- schemathesis --------------------------------------------------------------------------
# The schema comes from the running server's introspection (what it really serves;
# tests/clients checks that it matches schema.graphql). `logout` is left out: it would
# revoke the token mid-run. `positive_data_acceptance` is off: see README.md.
REPORT_DIR="$REPO/target/fuzz-report"
rm -rf "$REPORT_DIR"
ST_ARGS=(
  --config-file "$TMP/schemathesis.toml"
  run "$CT_URL"
  --header "Authorization: Bearer $CT_TOKEN"
  --exclude-name Mutation.logout
  --exclude-checks positive_data_acceptance
  --max-examples "$MAX_EXAMPLES"
  --workers "$WORKERS"
  --request-timeout 30
  --generation-database none
  --report junit
  --report-dir "$REPORT_DIR"
  --no-color
)
if [[ -n "${FUZZ_SEED:-}" ]]; then ST_ARGS+=(--seed "$FUZZ_SEED"); fi

echo
echo "==== schemathesis"
echo "     \$ SCHEMATHESIS_HOOKS=tests/fuzz/hooks.py st ${ST_ARGS[*]//$CT_TOKEN/<token>}"
st_start=$SECONDS
st_rc=0
# Run from the temporary directory: no schemathesis.toml and no .hypothesis/ of the
# caller's working directory are read or written.
(cd "$TMP" && SCHEMATHESIS_HOOKS="$HERE/hooks.py" \
  timeout --kill-after=10 "$ST_TIMEOUT" "$VENV/bin/st" "${ST_ARGS[@]}") || st_rc=$?
st_time=$((SECONDS - st_start))

NAMES=()
RESULTS=()
record() { NAMES+=("$1"); RESULTS+=("$2"); }

case $st_rc in
  0) record "schemathesis (${st_time}s)" PASS ;;
  124 | 137) record "schemathesis (${st_time}s)" "FAIL (did not finish within ${ST_TIMEOUT}s)" ;;
  *) record "schemathesis (${st_time}s)" "FAIL (exit $st_rc)" ;;
esac

if kill -0 "$SERVER_PID" 2>/dev/null; then
  record "server still running at the end" PASS
else
  record "server still running at the end" "FAIL (it exited)"
  echo "--- server stderr (last 40 lines)"; tail -n 40 "$TMP/server.err"
fi

if grep -qE "panicked at|stack backtrace" "$TMP/server.err" "$TMP/server.out"; then
  record "no panic in the server's log" FAIL
  echo "--- server log: panics"
  grep -hE -A5 "panicked at" "$TMP/server.err" "$TMP/server.out" | head -n 60
else
  record "no panic in the server's log" PASS
fi

# --- summary --------------------------------------------------------------------------
echo
echo "==== summary (${MAX_EXAMPLES} examples per operation and phase, $((SECONDS - STARTED))s in all)"
passed=0
failed=0
for i in "${!NAMES[@]}"; do
  printf '%-6s %s\n' "${RESULTS[$i]%% *}" "${NAMES[$i]}"
  if [[ "${RESULTS[$i]}" == PASS ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
if [[ $st_rc -ne 0 ]]; then
  echo "schemathesis' JUnit report: $REPORT_DIR (replay with FUZZ_SEED=<the seed printed above>)"
fi
echo "fuzz: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
