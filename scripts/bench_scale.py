#!/usr/bin/env python3
"""The admin side at scale: every admin API call and page, timed against a seeded database.

Seeds 1,000 keys and 200 upstreams through the admin API, then ROWS request log rows (default
10,000,000) over the last 30 days straight into the database, rebuilds the hourly counters from
them as the log writer would have kept them, and times each admin call and page of a release
gateway on that database (median of RUNS after one warm-up). Writes docs/benchmarks-scale.{md,json}
(with --write). Measured, not asserted: docs/performance.md states the target (under 100 ms).

Usage: scripts/bench_scale.py [--backend sqlite|postgres] [--rows N] [--runs N] [--write]
       [--binary target/release/autorouter] [--keep]
The PostgreSQL run uses a database `autorouter_scale` next to TEST_DATABASE_URL's (default
postgres://postgres@127.0.0.1:5432/test), dropped and made anew.
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
TOKEN = "scale-admin-token-0123456789abcdef"
KEYS, UPSTREAMS, MODELS = 1000, 200, 10
DAY_MS = 86_400_000
SPAN_MS = 30 * DAY_MS
HOUR_MS = 3_600_000
# The latency buckets' upper bounds (src/server/db/request_stats.rs holds the same list).
BOUNDS = [25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 30000, 60000]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    def __init__(self, binary, env):
        self.port = free_port()
        env = {**os.environ, **env, "PORT": str(self.port), "HOST": "127.0.0.1",
               "ADMIN_TOKEN": TOKEN, "LOG_LEVEL": "warn", "ALLOW_PRIVATE_UPSTREAMS": "true"}
        self.proc = subprocess.Popen([binary], env=env, cwd=ROOT)
        deadline = time.time() + 600  # a migration over millions of rows takes a while
        while time.time() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"the gateway exited with {self.proc.returncode}")
            try:
                if self.call("GET", "/api/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            self.stop()
            sys.exit("the gateway did not come up")
        self.cookie = None

    def call(self, method, path, body=None, headers=None, bearer=True):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        h = dict(headers or {})
        if bearer:
            h["authorization"] = f"Bearer {TOKEN}"
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h["content-type"] = "application/json"
        conn.request(method, path, body=body, headers=h)
        res = conn.getresponse()
        data = res.read()
        conn.close()
        return res.status, data, res

    def sign_in(self):
        origin = f"http://127.0.0.1:{self.port}"
        status, _, res = self.call(
            "POST", "/api/ui/login", body=urllib.parse.urlencode({"token": TOKEN}),
            headers={"content-type": "application/x-www-form-urlencoded", "origin": origin},
            bearer=False)
        assert status == 200, status
        self.cookie = res.getheader("set-cookie").split(";")[0]

    def page(self, path):
        return self.call("GET", path, headers={"cookie": self.cookie}, bearer=False)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)


def make_keys_and_upstreams(gw):
    ups = []
    for i in range(UPSTREAMS):
        s, data, _ = gw.call("POST", "/api/admin/upstreams", {
            "name": f"upstream-{i:03}", "provider": "openai",
            "base_url": f"http://127.0.0.1:9/u{i}/v1", "api_key": f"sk-scale-{i:04}-0123456789",
            "is_active": i % 10 != 0})
        assert s == 201, (s, data)
        ups.append(json.loads(data)["id"])
    for i in range(KEYS):
        s, data, _ = gw.call("POST", "/api/admin/keys", {
            "name": f"key-{i:04}", "upstream_ids": [ups[i % UPSTREAMS], ups[(i * 7) % UPSTREAMS]]})
        assert s == 201, (s, data)


def seed_sql(rows, now_ms, series):
    """The log rows, spread evenly over the last 30 days in time order (as they arrive), their
    key, upstream, model and status from fixed hashes of the row number, each through its own
    prime modulus so that none follows from another: about 95.5 % 200, 1 % 429, 1 % 400,
    2.5 % 5xx."""
    start = now_ms - SPAN_MS
    h = "(((i * 2654435761) % 1000033) % 1000)"
    return f"""
INSERT INTO request_logs (request_id, api_key_id, upstream_id, method, path, model_requested,
    model_sent, status_code, is_stream, prompt_tokens, completion_tokens, total_tokens,
    ttfb_ms, ttft_ms, duration_ms, error_message, lb_strategy, failover_attempts, created_at)
SELECT 'scale-' || i, k.id, u.id, 'POST', '/v1/chat/completions',
    'model-' || (((i * 15485863) % 999979) % {MODELS}), 'model-' || (((i * 15485863) % 999979) % {MODELS}),
    CASE WHEN {h} < 955 THEN 200 WHEN {h} < 965 THEN 429 WHEN {h} < 975 THEN 400
         WHEN {h} < 985 THEN 502 WHEN {h} < 995 THEN 500 ELSE 503 END,
    i % 2, 100 + i % 900, 20 + i % 500, 120 + i % 900 + i % 500,
    20 + i % 180, 40 + i % 400, 80 + (i * 7) % 4000,
    CASE WHEN {h} >= 955 THEN 'upstream said no' END, 'priority', 0,
    {start} + (i * {SPAN_MS // rows})
FROM {series}
JOIN seed_keys k ON k.n = ((i * 7919) % 1000003) % {KEYS}
JOIN seed_upstreams u ON u.n = ((i * 104729) % 999983) % {UPSTREAMS};
"""


def counters_sql():
    """The hourly counters of every row, as the log writer keeps them (one row per hour and
    key, upstream and model)."""
    out = ["DELETE FROM request_stats_hourly;"]
    buckets = []
    lower = None
    for b in BOUNDS:
        cond = f"duration_ms <= {b}" if lower is None else f"duration_ms > {lower} AND duration_ms <= {b}"
        buckets.append(f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END)")
        lower = b
    buckets.append(f"SUM(CASE WHEN duration_ms > {lower} THEN 1 ELSE 0 END)")
    cols = ", ".join(f"latency_b{i}" for i in range(len(buckets)))
    for dim, col in (("key", "api_key_id"), ("upstream", "upstream_id"), ("model", "model_requested")):
        out.append(f"""
INSERT INTO request_stats_hourly (hour_start, dimension, value, requests, successes, below_500,
    prompt_tokens, completion_tokens, total_tokens, duration_ms_sum, duration_count, ttft_ms_sum,
    ttft_count, ttfb_ms_sum, ttfb_count, {cols})
SELECT (created_at / {HOUR_MS}) * {HOUR_MS}, '{dim}', COALESCE({col}, ''), COUNT(*),
    SUM(CASE WHEN status_code >= 200 AND status_code < 400 THEN 1 ELSE 0 END),
    SUM(CASE WHEN status_code < 500 THEN 1 ELSE 0 END),
    SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens),
    COALESCE(SUM(duration_ms), 0), COUNT(duration_ms), COALESCE(SUM(ttft_ms), 0), COUNT(ttft_ms),
    COALESCE(SUM(ttfb_ms), 0), COUNT(ttfb_ms), {", ".join(buckets)}
FROM request_logs GROUP BY (created_at / {HOUR_MS}) * {HOUR_MS}, COALESCE({col}, '');""")
    return out


def seed_sqlite(path, rows, now_ms):
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    for table, src in (("seed_keys", "api_keys"), ("seed_upstreams", "upstreams")):
        db.execute(f"CREATE TEMP TABLE {table} (n INTEGER PRIMARY KEY, id TEXT NOT NULL)")
        db.execute(f"INSERT INTO {table} SELECT row_number() OVER (ORDER BY id) - 1, id FROM {src}")
    series = f"(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {rows - 1}) SELECT i FROM s) AS s"
    db.execute(seed_sql(rows, now_ms, series))
    db.commit()
    for stmt in counters_sql():
        db.execute(stmt)
    db.commit()
    db.execute("ANALYZE")
    db.commit()
    db.close()


def psql(url, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url], input=sql, text=True, check=True)


def seed_postgres(url, rows, now_ms):
    sql = ["SET synchronous_commit = off;"]
    for table, src in (("seed_keys", "api_keys"), ("seed_upstreams", "upstreams")):
        sql.append(f"CREATE TEMP TABLE {table} AS SELECT (row_number() OVER (ORDER BY id) - 1)::bigint AS n, id FROM {src};")
        sql.append(f"CREATE UNIQUE INDEX ON {table} (n);")
    sql.append(seed_sql(rows, now_ms, f"generate_series(0::bigint, {rows - 1}) AS s(i)"))
    sql += counters_sql()
    sql.append("VACUUM ANALYZE;")
    psql(url, "\n".join(sql))


def timed(fn, runs):
    fn()  # warm-up: caches, prepared statements, pages in memory
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        status, body, _ = fn()
        times.append((time.perf_counter() - t) * 1000)
        assert status == 200, (status, body[:300])
    return statistics.median(times), max(times), len(body)


def measure(gw, runs):
    s, data, _ = gw.call("GET", "/api/admin/keys?page_size=1")
    key = json.loads(data)["items"][0]
    s, data, _ = gw.call("GET", "/api/admin/upstreams?page_size=1")
    up = json.loads(data)["items"][0]["id"]
    hour_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    week_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 7 * 86400))
    api = [
        "/api/admin/session",
        "/api/admin/keys?page=1&page_size=20",
        "/api/admin/keys?page=50&page_size=20",
        f"/api/admin/keys/{key['id']}",
        "/api/admin/upstreams?page=1&page_size=20",
        f"/api/admin/upstreams/{up}",
        "/api/admin/upstreams/health?window_hours=24",
        "/api/admin/upstreams/health?window_hours=2160",
        "/api/admin/logs?page=1&page_size=20",
        "/api/admin/logs?page=500&page_size=20",
        "/api/admin/logs?page=1&page_size=100",
        f"/api/admin/logs?api_key_id={key['id']}",
        f"/api/admin/logs?upstream_id={up}",
        "/api/admin/logs?model=model-3",
        "/api/admin/logs?status=5xx",
        "/api/admin/logs?status=4xx",
        "/api/admin/logs?status=429",
        "/api/admin/logs?status=200",
        "/api/admin/logs?status=2xx&model=model-3",
        f"/api/admin/logs?status=5xx&api_key_id={key['id']}",
        f"/api/admin/logs?start_time={hour_ago}",
        f"/api/admin/logs?end_time={week_ago}",
        f"/api/admin/logs?end_time={week_ago}&status=5xx",
        "/api/admin/stats/overview?range=today",
        "/api/admin/stats/overview?range=30d",
        "/api/admin/stats/timeseries?range=today",
        "/api/admin/stats/timeseries?range=7d",
        "/api/admin/stats/timeseries?range=30d",
        "/api/admin/stats/leaderboard?range=30d",
        # Local days of UTC+8 are not UTC days: these read hourly rows at the edges or throughout.
        "/api/admin/stats/overview?range=30d&tz_offset_minutes=480",
        "/api/admin/stats/timeseries?range=7d&tz_offset_minutes=480",
        "/api/admin/stats/timeseries?range=30d&tz_offset_minutes=480",
        "/api/admin/stats/leaderboard?range=30d&tz_offset_minutes=480",
        "/api/admin/circuit-breakers",
        "/api/admin/settings",
        "/api/admin/openapi.json",
    ]
    pages = ["/en", "/en/keys", "/en/upstreams", "/en/logs", "/en/circuit-breakers", "/zh/logs"]
    out = []
    for path in api:
        med, worst, size = timed(lambda p=path: gw.call("GET", p), runs)
        out.append({"kind": "api", "path": path.replace(key["id"], "{key}").replace(up, "{upstream}"),
                    "median_ms": round(med, 1), "max_ms": round(worst, 1), "bytes": size})
    gw.sign_in()
    for path in pages:
        med, worst, size = timed(lambda p=path: gw.page(p), runs)
        out.append({"kind": "page", "path": path, "median_ms": round(med, 1),
                    "max_ms": round(worst, 1), "bytes": size})
    for r in out:
        print(f"{r['kind']:4} {r['median_ms']:8.1f} ms (max {r['max_ms']:7.1f})  {r['path']}", flush=True)
    return out


def report(results, write):
    lines = [
        "# The admin side at scale",
        "",
        "Written by `scripts/bench_scale.py --write`; method and target in",
        "[performance.md](performance.md). Median of the runs after one warm-up, measured by a",
        "Python client over loopback against the release gateway.",
        "",
    ]
    for r in results:
        worst = max(x["median_ms"] for x in r["calls"])
        lines += [
            f"## {r['backend']}: {r['rows']:,} log rows, {KEYS:,} keys, {UPSTREAMS} upstreams",
            "",
            (f"Seeded in {r['seed_seconds']:.0f} s; " if r["seed_seconds"] is not None else "Seeded earlier; ")
            + f"start (with this build's migrations) {r['start_seconds']:.1f} s; "
            f"slowest call {worst:.1f} ms ({'under' if worst < 100 else 'OVER'} the 100 ms target). "
            f"Seeded data span 30 days; the rows' times do not move with a later run (--keep).",
            f"Machine: {r['machine']}.",
            "",
            "| Call | Median ms | Max ms |",
            "|---|---:|---:|",
        ]
        lines += [f"| {c['kind']} `{c['path']}` | {c['median_ms']:.1f} | {c['max_ms']:.1f} |" for c in r["calls"]]
        lines.append("")
    text = "\n".join(lines)
    if write:
        with open(os.path.join(ROOT, "docs", "benchmarks-scale.md"), "w") as f:
            f.write(text)
        with open(os.path.join(ROOT, "docs", "benchmarks-scale.json"), "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")
    return text


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}"


def run(backend, rows, runs, binary, keep):
    # --keep leaves the seeded data in a fixed place, and a later run with --keep times it
    # again (after this build's migrations) instead of seeding anew.
    fixed = os.path.join(tempfile.gettempdir(), f"autorouter-scale-{backend}-{rows}")
    reuse = keep and os.path.exists(os.path.join(fixed, "seeded"))
    if keep:
        os.makedirs(fixed, exist_ok=True)
        work = fixed
    else:
        work = tempfile.mkdtemp(prefix=f"autorouter-scale-{backend}-")
    env = {"DATA_DIR": work}
    db_name = f"autorouter_scale_{rows}"
    if backend == "sqlite":
        db_path = os.path.join(work, "scale.db")
        env["DATABASE_URL"] = f"sqlite://{db_path}"
    else:
        base = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
        if not reuse:
            psql(base, f"DROP DATABASE IF EXISTS {db_name}; CREATE DATABASE {db_name};")
        env["DATABASE_URL"] = base.rsplit("/", 1)[0] + "/" + db_name
    seed_seconds = None
    if not reuse:
        gw = Gateway(binary, env)
        make_keys_and_upstreams(gw)
        gw.stop()
        t = time.time()
        now_ms = int(time.time() * 1000)
        if backend == "sqlite":
            seed_sqlite(db_path, rows, now_ms)
        else:
            seed_postgres(env["DATABASE_URL"], rows, now_ms)
        seed_seconds = time.time() - t
        open(os.path.join(work, "seeded"), "w").write(str(now_ms))
        print(f"seeded {rows:,} rows in {seed_seconds:.0f} s", flush=True)
    t = time.time()
    gw = Gateway(binary, env)
    start_seconds = time.time() - t
    try:
        calls = measure(gw, runs)
    finally:
        gw.stop()
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
            if backend == "postgres":
                base = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
                psql(base, f"DROP DATABASE IF EXISTS {db_name};")
    return {"backend": backend, "rows": rows, "runs": runs, "seed_seconds": seed_seconds,
            "start_seconds": start_seconds, "machine": machine(), "calls": calls}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "autorouter"))
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the seeded data directory")
    a = ap.parse_args()
    backends = ["sqlite", "postgres"] if a.backend == "both" else [a.backend]
    results = [run(b, a.rows, a.runs, a.binary, a.keep) for b in backends]
    print(report(results, a.write))


if __name__ == "__main__":
    main()
