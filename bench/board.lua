-- wrk script for bench/board.sh: POSTs one GraphQL document again and again.
--
--   BOARD_BODY   file holding the JSON request body ({"query": …})
--   BOARD_TOKEN  bearer token to send (optional; unset for PostGraphile)
--
-- Every answer is checked: a status other than 200 counts as `non2xx`, a 200 whose
-- body carries a top-level GraphQL `"errors":` key counts as `gql_errors`. done()
-- prints one machine-readable line that board.sh parses:
--
--   RESULT requests=… duration_us=… p50_us=… p99_us=… non2xx=… gql_errors=… socket_errors=…

local body_file = assert(os.getenv("BOARD_BODY"), "BOARD_BODY is not set")
local f = assert(io.open(body_file, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
local token = os.getenv("BOARD_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
  gql_errors = 0
end

function response(status, headers, body)
  if status ~= 200 then
    non2xx = non2xx + 1
  elseif body and string.find(body, '"errors":', 1, true) then
    gql_errors = gql_errors + 1
  end
end

function done(summary, latency, requests)
  local bad, errs = 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non2xx") or 0)
    errs = errs + (thread:get("gql_errors") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d gql_errors=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    bad, errs, e.connect + e.read + e.write + e.timeout))
end
