# Sourced by tests/clients/run.sh and tests/fuzz/run.sh with BIN set: starts
# `$BIN serve --demo` on a fresh SQLite database (or DEMO_DATABASE_URL) and a free port of 127.0.0.1, waits
# until it says it is ready, and sets TMP (removed on exit, with the server stopped),
# SERVER_PID, CT_URL, CT_TOKEN, CT_EMAIL and CT_PASSWORD. Secrets never reach the output.

TMP="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Why the server did not start, with its password and token lines hidden.
demo_server_failed() {
  echo "run.sh: $1" >&2
  echo "--- stdout (password and token lines hidden)" >&2
  sed -E 's/^( *(password|token): *).*/\1<hidden>/' "$TMP/server.out" >&2
  echo "--- stderr (last 40 lines)" >&2; tail -n 40 "$TMP/server.err" >&2
  exit 1
}

# Started from the temporary directory so that no control-tower.toml of the caller's
# working directory is picked up.
# DEMO_DATABASE_URL (bench/live.sh) names another database without a demo operator yet.
(cd "$TMP" && exec "$BIN" --database-url "${DEMO_DATABASE_URL:-sqlite://$TMP/ct.db?mode=rwc}" --listen 127.0.0.1:0 serve --demo) \
  >"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!

# It listens at once, then says "Control Tower is ready" once its database is migrated
# and the demo operator's token printed.
CT_URL=""
for _ in $(seq 1 600); do
  if grep -q '^Control Tower is ready$' "$TMP/server.out"; then
    CT_URL="$(sed -n 's/^Control Tower listening on \(http:[^ ]*\).*$/\1/p' "$TMP/server.out" | head -n1)"
    break
  fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
  sleep 0.1
done
CT_TOKEN="$(sed -n 's/^ *token: *\([^ ]*\) *$/\1/p' "$TMP/server.out" | head -n1)"
if [[ -z "$CT_URL" || -z "$CT_TOKEN" ]]; then
  demo_server_failed "the server did not start (no ready line and token within 60 s)"
fi
# The demo operator's e-mail and password, printed only when the database is fresh, as
# it is here.
CT_EMAIL="$(sed -n 's/^Demo operator: *\([^ ]*@[^ ]*\) .*$/\1/p' "$TMP/server.out" | head -n1)"
CT_PASSWORD="$(sed -n 's/^ *password: *\([^ ]*\) *$/\1/p' "$TMP/server.out" | head -n1)"
if [[ -z "$CT_EMAIL" || -z "$CT_PASSWORD" ]]; then
  demo_server_failed "serve --demo on a fresh database printed no demo operator e-mail (\"Demo operator: <e-mail> ...\") or no \"  password: <password>\" line"
fi
export CT_URL CT_TOKEN CT_EMAIL CT_PASSWORD
