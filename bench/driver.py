#!/usr/bin/env python3
"""Measures Control Tower over HTTP, next to its floor in psql.

Run by bench/run.sh, which seeds the database and starts two servers: one that
computes every Control Tower (cache off) and one that shares snapshots (the default
5 s cache). Standard library only.
"""
import argparse
import concurrent.futures
import datetime
import json
import re
import statistics
import subprocess
import time
import urllib.request

WINDOWS = {"LAST_1H": "1 hour", "LAST_24H": "24 hours", "LAST_7D": "7 days"}

CONTROL_TOWER = """query($w: TimeWindow) { controlTower(window: $w) {
  generatedAt runs { total queued running completed succeeded partiallySucceeded failed canceled stuck failureRate }
  stuckTotal byType { type total failed stuck }
  topFailingTenants { tenant { name } failed total } topFailingWorkspaces { workspace { name } failed total }
  tenantHealth { healthy unknown warning critical } access { loginsSucceeded loginsFailed breakGlassEntries } } }"""

TENANT_PAGE = """{ tenants(first: 50) { totalCount nodes { name status
  health { level signals { source level message } } } } }"""


def post(url, token, query, variables=None):
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(url, body, {"content-type": "application/json", "authorization": f"Bearer {token}"})
    started = time.perf_counter()
    with urllib.request.urlopen(request) as response:
        payload = json.load(response)
        statements = int(response.headers.get("x-sql-statements", "0"))
    elapsed = (time.perf_counter() - started) * 1000
    if "errors" in payload:
        raise SystemExit(f"request failed: {payload['errors']}")
    return elapsed, statements


def login(url, email, password):
    body = json.dumps({"query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
                       "variables": {"e": email, "p": password}}).encode()
    request = urllib.request.Request(url, body, {"content-type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)["data"]["login"]["token"]


def summary(samples):
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
    return statistics.median(samples), p95


def floor(database_url, window, rounds):
    """Times each statement of the floor with psql's \\timing, or sqlite3's .timer when
    database_url is a file; returns per-round totals."""
    totals = []
    for _ in range(rounds):
        if database_url.startswith("postgres"):
            output = subprocess.run(["psql", "-X", "-q", database_url, "-v", f"window='{window}'", "-f", "bench/floor.sql"],
                                    check=True, capture_output=True, text=True).stdout
            times = [float(value) for value in re.findall(r"Time: ([0-9.]+) ms", output)]
        else:
            now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
            text = lambda at: at.strftime("%Y-%m-%dT%H:%M:%S+00:00")
            hours = {"1 hour": 1, "24 hours": 24, "7 days": 168}[window]
            bounds = {"start": now - datetime.timedelta(hours=hours), "end": now,
                      "queued": now - datetime.timedelta(minutes=15), "running": now - datetime.timedelta(minutes=60),
                      "stale": now - datetime.timedelta(hours=24)}
            params = [f".param set :{name} '{text(at)}'" for name, at in bounds.items()]
            output = subprocess.run(["sqlite3", database_url, *params, ".read bench/floor-sqlite.sql"],
                                    check=True, capture_output=True, text=True).stdout
            times = [float(value) * 1000 for value in re.findall(r"Run Time: real ([0-9.]+)", output)]
        totals.append((sum(times), times))
    return totals


def first_requests(url, email, password, database_url):
    """The first Control Tower of each window right after a start, the widest first, while
    the roll-ups are still being built: each must be answered (never cancelled)."""
    token = login(url, email, password)
    for preset in ["LAST_7D", "LAST_24H", "LAST_1H"]:
        dirty = dirty_hours(database_url)
        elapsed, count = post(url, token, CONTROL_TOWER, {"w": preset})
        print(f"{'first controlTower(' + preset + ')':<44} {elapsed:>10.1f} {'':>10} {count:>11}"
              f"  answered; {dirty} hours left to roll up when asked")


def dirty_hours(database_url):
    query = "SELECT COUNT(DISTINCT hour) FROM run_rollup_dirty"
    if database_url.startswith("postgres"):
        command = ["psql", "-X", "-qtA", database_url, "-c", query]
    else:
        command = ["sqlite3", database_url, query]
    return int(subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip() or 0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold", required=True, help="GraphQL URL of the server without snapshot cache")
    parser.add_argument("--cached", help="GraphQL URL of the server with the default cache (else: windows only)")
    parser.add_argument("--database-url", required=True, help="PostgreSQL URL, or the SQLite database file")
    parser.add_argument("--first", action="store_true", help="only the first request of each window after a start")
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()

    print(f"{'measure':<44} {'median ms':>10} {'p95 ms':>10} {'statements':>11}")
    if args.first:
        first_requests(args.cold, args.email, args.password, args.database_url)
        return
    token = login(args.cold, args.email, args.password)
    for preset, interval in WINDOWS.items():
        post(args.cold, token, CONTROL_TOWER, {"w": preset})  # warm the caches of the database
        timings, statements = [], set()
        for _ in range(args.rounds):
            elapsed, count = post(args.cold, token, CONTROL_TOWER, {"w": preset})
            timings.append(elapsed)
            statements.add(count)
        median, p95 = summary(timings)
        print(f"{'controlTower(' + preset + '), computed':<44} {median:>10.1f} {p95:>10.1f} {'/'.join(map(str, sorted(statements))):>11}")
        rounds = floor(args.database_url, interval, args.rounds)
        median, p95 = summary([total for total, _ in rounds])
        parts = [statistics.median(times[i] for _, times in rounds) for i in range(len(rounds[0][1]))]
        detail = " + ".join(f"{part:.0f}" for part in parts)
        tool = "psql" if args.database_url.startswith("postgres") else "sqlite3"
        print(f"{'  floor in ' + tool + ' (' + detail + ')':<44} {median:>10.1f} {p95:>10.1f} {'':>11}")

    if not args.cached:
        return
    timings, statements = [], set()
    post(args.cold, token, TENANT_PAGE)
    for _ in range(args.rounds):
        elapsed, count = post(args.cold, token, TENANT_PAGE)
        timings.append(elapsed)
        statements.add(count)
    median, p95 = summary(timings)
    print(f"{'50 tenants with health':<44} {median:>10.1f} {p95:>10.1f} {'/'.join(map(str, sorted(statements))):>11}")

    cached_token = login(args.cached, args.email, args.password)
    for clients in sorted({1, 8, args.clients}):
        deadline = time.time() + args.seconds

        def poll():
            samples = []
            while time.time() < deadline:
                samples.append(post(args.cached, cached_token, CONTROL_TOWER, {"w": "LAST_24H"}))
            return samples

        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            results = [sample for samples in pool.map(lambda _: poll(), range(clients)) for sample in samples]
        median, p95 = summary([elapsed for elapsed, _ in results])
        computations = sum(1 for _, count in results if count > 1)
        label = f"{clients} dashboard{'s' if clients > 1 else ''} polling LAST_24H, cached"
        print(f"{label:<44} {median:>10.1f} {p95:>10.1f}  {len(results)} requests, "
              f"{computations} computations in {args.seconds} s")


if __name__ == "__main__":
    main()
