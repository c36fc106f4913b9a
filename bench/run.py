#!/usr/bin/env python3
"""The benchmark: `make bench` (1,000,000 contacts) or `make bench BENCH_CONTACTS=100000`.

1. creates a separate database `<DATABASE_URL's name>_bench`, migrates it, seeds it with COPY (bench/seed.py);
2. starts the app under gunicorn as in production (DEBUG off, several workers, multiprocess metrics) on a
   free port, plus a Celery worker, against that database and Redis databases of its own;
3. first compares the platform with a bare DRF app on the same table (bench/bare/, served beside it the same
   way): every CRUD scenario at 1 and 8 connections, interleaved, each figure beside its ratio (--floor-only,
   --no-floor); then runs each scenario (bench/scenarios/) with a fixed concurrency: a warm-up, then a measured
   period;
4. prints a Markdown table (each target beside the figure, PASS/MISS), writes bench/results/<timestamp>.json,
   and drops the bench database (unless --keep-db).

Run it through `scripts/dev.py exec` (the Makefile does), which supplies DATABASE_URL and REDIS_URL.
See docs/performance.md.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import http.client
import itertools
import json
import os
import platform
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
import psycopg  # noqa: E402
import redis  # noqa: E402

from bench import seed as seeding  # noqa: E402
from bench.scenarios import REGISTRY, Scenario, load_all  # noqa: E402
from bench.scenarios.floor import FLOOR  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "performance.md"
BENCH_REDIS_DB = 12  # broker 12, cache 13: away from the dev (0/1), the helpers' and the contract's (5/6) databases


def log(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------- environment
def bench_database_url(url: str) -> tuple[str, str, str]:
    """(bench URL, bench database name, maintenance URL on the same server)."""
    parts = urlsplit(url.replace("postgresql://", "postgres://", 1))
    name = parts.path.strip("/") + "_bench"
    return (urlunsplit(parts._replace(path=f"/{name}")), name, urlunsplit(parts._replace(path="/postgres")))


def bench_redis_url() -> str:
    if os.environ.get("BENCH_REDIS_URL"):
        return os.environ["BENCH_REDIS_URL"]
    parts = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    return urlunsplit(parts._replace(path=f"/{BENCH_REDIS_DB}"))


def libpq(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> dict:
    info = {"host": platform.node(), "os": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count()}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
        info["cpu"] = model.group(1).strip() if model else platform.processor()
        mem = re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text())
        info["memory_gb"] = round(int(mem.group(1)) / 1024 / 1024, 1) if mem else None
        info["loadavg_start"] = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        pass
    return info


# --------------------------------------------------------------------------- processes
class App:
    """gunicorn (and a Celery worker) against the bench database, stopped on exit."""

    def __init__(self, env: dict, port: int, workers: int, threads: int, with_worker: bool,
                 wsgi: str = "contacts_project.wsgi",
                 conf: tuple[str, ...] = ("-c", "python:contacts_project.gunicorn_conf")):
        self.env, self.port = env, port
        self.procs: list[subprocess.Popen] = []
        self.logdir = Path(tempfile.mkdtemp(prefix="bench-logs-"))
        web = [sys.executable, "-m", "gunicorn", wsgi, *conf,
               "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
               "--worker-class", "gthread", "--keep-alive", "30", "--log-level", "warning"]
        self._start("web", web)
        if with_worker:
            self._start("worker", [sys.executable, "-m", "celery", "-A", "contacts_project", "worker", "-Q",
                                   "send,bulk,default", "--concurrency", "1", "--loglevel", "WARNING"])

    def _start(self, name: str, cmd: list[str]) -> None:
        out = open(self.logdir / f"{name}.log", "wb")
        self.procs.append(subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                           start_new_session=True))

    def wait_ready(self, seconds: float = 90) -> None:
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.procs[0].poll() is not None:
                raise SystemExit(f"gunicorn exited; see {self.logdir / 'web.log'}:\n"
                                 + (self.logdir / "web.log").read_text()[-3000:])
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/health/")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.3)
        raise SystemExit("the app did not answer /health/ in time")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


# --------------------------------------------------------------------------- load driver
class Context:
    """What scenarios see: the seeded data, SQL on the bench database, and the running API."""

    def __init__(self, dsn: str, port: int, token: str, n_contacts: int, seed: dict, run_id: str):
        self.dsn, self.port, self.token, self.n_contacts, self.seed = dsn, port, token, n_contacts, seed
        self.run_id = run_id
        self.web_workers = 1
        self.store: dict = {}
        self._db = psycopg.connect(dsn, autocommit=True)

    def sql(self, query: str, params=None) -> list[tuple]:
        return self._db.execute(query, params).fetchall()

    def api(self, method: str, path: str, body=None):
        client = Client(self.port, self.token)
        status, data, _ = client.call(method, path, body)
        client.close()
        if status >= 400:
            raise RuntimeError(f"{method} {path} -> {status}: {data[:300]!r}")
        return orjson.loads(data) if data else None

    def close(self) -> None:
        self._db.close()


class Client:
    """One keep-alive connection (one per load thread)."""

    def __init__(self, port: int, token: str):
        self.port = port
        self.headers = {"Authorization": f"Token {token}", "Accept": "application/json",
                        "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.pid: str | None = None  # the web worker process serving this keep-alive connection

    def reconnect(self) -> None:
        self.conn.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self.pid = None

    def call(self, method: str, path: str, body=None) -> tuple[int, bytes, str | None]:
        payload = orjson.dumps(body) if body is not None else None
        try:
            self.conn.request(method, path, body=payload, headers=self.headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.reconnect()
            raise
        self.pid = response.getheader("X-Worker-Pid") or self.pid
        return response.status, data, response.getheader("X-Query-Count")

    def close(self) -> None:
        self.conn.close()


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)


def spread_clients(ctx: Context, count: int, attempts: int = 40) -> list[Client]:
    """`count` keep-alive connections spread evenly over the web worker processes, as a proxy in front of
    gunicorn would spread requests. A keep-alive connection stays with the process that accepted it, so
    two connections that both land in one process halve its share of the CPU and double every latency:
    the benchmark's write and cold-read figures flipped between two values run to run before this."""
    per_process = -(-count // max(1, ctx.web_workers))
    clients: list[Client] = []
    load: dict[str, int] = {}
    for _ in range(count):
        client = Client(ctx.port, ctx.token)
        for _ in range(attempts):
            try:
                client.call("GET", "/health/")
            except (OSError, http.client.HTTPException):
                continue
            if client.pid is None or load.get(client.pid, 0) < per_process:
                break
            client.reconnect()
        if client.pid is not None:
            load[client.pid] = load.get(client.pid, 0) + 1
        clients.append(client)
    log(f"  connections on web workers: {load}")
    return clients


def drive(ctx: Context, scenario: Scenario, state, seconds: float, warmup: float, max_requests: int | None,
          first_seq: int = 0) -> dict:
    """Run one scenario; `first_seq` continues the numbering of an earlier run of the same scenario (the floor
    comparison runs each one four times: unique values stay unique, cold reads stay cold)."""
    seq = itertools.count(first_seq)
    measured = itertools.count()
    outcomes = [Outcome() for _ in range(scenario.concurrency)]
    phase = {"measure": False, "stop": False}
    clients = spread_clients(ctx, scenario.concurrency)

    def worker(index: int) -> None:
        client = clients[index]
        out = outcomes[index]
        while not phase["stop"]:
            method, path, body = scenario.request(ctx, state, index, next(seq))
            started = time.perf_counter()
            try:
                status, data, qcount = client.call(method, path, body)
                error = None if status in scenario.expect else f"{status} {method} {path[:80]}: {data[:200]!r}"
            except (OSError, http.client.HTTPException) as exc:
                qcount, error = None, f"{type(exc).__name__}: {exc}"
            elapsed = time.perf_counter() - started
            if not phase["measure"]:
                continue
            if max_requests is not None and next(measured) >= max_requests:
                break
            out.latencies.append(elapsed)
            if qcount is not None:
                out.queries.append(int(qcount))
            if error:
                out.errors += 1
                if len(out.error_samples) < 3:
                    out.error_samples.append(error)
        client.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(scenario.concurrency)]
    for thread in threads:
        thread.start()
    time.sleep(warmup)
    phase["measure"] = True
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline and any(t.is_alive() for t in threads):
        time.sleep(0.05)
    phase["stop"] = True
    for thread in threads:
        thread.join(120)
    elapsed = time.perf_counter() - started
    latencies = sorted(x for o in outcomes for x in o.latencies)
    queries = sorted(q for o in outcomes for q in o.queries)

    def pct(p: float) -> float | None:
        if not latencies:
            return None
        return round(latencies[min(len(latencies) - 1, max(0, round(p * len(latencies)) - 1))] * 1000, 2)

    return {
        "requests": len(latencies), "seconds": round(elapsed, 2),
        "rps": round(len(latencies) / elapsed, 1) if elapsed else None,
        "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
        "max_ms": round(latencies[-1] * 1000, 2) if latencies else None,
        "sql_per_request": queries[len(queries) // 2] if queries else None,
        "sql_max": queries[-1] if queries else None,
        "errors": sum(o.errors for o in outcomes),
        "error_samples": [e for o in outcomes for e in o.error_samples][:5],
        "next_seq": next(seq),
    }


def cache_counters(port: int, token: str) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    text = response.read().decode()
    if response.status != 200:
        raise RuntimeError(f"/metrics answered {response.status}")
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "contacts_cache_events_total":
                key = sample.labels.get("outcome", "")
                totals[key] = totals.get(key, 0.0) + sample.value
    return totals


# --------------------------------------------------------------------------- report
def judge(scenario: Scenario, figures: dict) -> tuple[str, str]:
    if not scenario.targets:
        return "—", "—"
    labels, verdicts = [], []
    for target in scenario.targets:
        met = target.met(figures)
        labels.append(target.label())
        if met is False:
            verdicts.append(target.label())
    if figures.get("errors"):  # latencies of failed requests (a 401 answers fast) meet no target
        verdicts.append(f"{figures['errors']} errors")
    if any(t.met(figures) is None for t in scenario.targets):
        return "; ".join(labels), "n/a"
    return "; ".join(labels), ("MISS: " + ", ".join(verdicts)) if verdicts else "PASS"


def markdown(results: list[dict]) -> str:
    head = ("| Scenario | Conc. | Requests | p50 ms | p95 ms | p99 ms | req/s | SQL/req | Errors | Cache hit | "
            "Target | Result |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
    rows = []
    for r in results:
        hit = f"{r['cache_hit_rate'] * 100:.1f} %" if r.get("cache_hit_rate") is not None else "—"

        def num(value):
            return "—" if value is None else f"{value:g}"

        rows.append(f"| {r['key']} {r['title']} | {r['concurrency']} | {r['requests']} | {num(r['p50_ms'])} | "
                    f"{num(r['p95_ms'])} | {num(r['p99_ms'])} | {num(r['rps'])} | {num(r['sql_per_request'])} | "
                    f"{r['errors']} | {hit} | {r['target']} | {r['result']} |")
    return head + "\n".join(rows) + "\n"


def summary_of(report: dict) -> str:
    m, seed, s = report["machine"], report["seed"], report["settings"]
    return (f"Run `{report['run_id']}`: {report['contacts']:,} contacts; {m.get('cpus')} CPUs ({m.get('cpu')}), "
            f"{m.get('memory_gb')} GB, PostgreSQL {m.get('postgres')}, Redis {m.get('redis')}; gunicorn "
            f"{s['web_workers']}×{s['threads']}; {s['duration']} s per scenario after {s['warmup']} s warm-up, "
            f"mixed load {s['mixed_seconds']} s"
            + (f"; floor runs {s['floor']['seconds']} s after {s['floor']['warmup']} s" if s.get("floor") else "")
            + f"; load average at start {' '.join(m.get('loadavg_start') or [])}, "
            f"at end {' '.join(m.get('loadavg_end') or [])}.\n"
            f"Seeding: {seed['total_rows']:,} rows by COPY in {seed['copy_seconds']} s "
            f"({seed['rows_per_second']:,} rows/s, contacts {seed['contacts_per_second']:,}/s), indexes "
            f"{seed['index_seconds']} s, VACUUM ANALYZE {seed['vacuum_analyze_seconds']} s.\n")


def update_doc(table: str, summary: str, name: str = "latest") -> None:
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    text = DOC.read_text() if DOC.exists() else f"# Performance\n\n{start}\n{end}\n"
    if start not in text:
        text += f"\n{start}\n{end}\n"
    before, rest = text.split(start, 1)
    after = rest.split(end, 1)[1]
    DOC.write_text(f"{before}{start}\n{summary}\n{table}{end}{after}")


# --------------------------------------------------------------------------- the floor: a bare DRF app
FLOOR_CONNECTIONS = (1, 8)  # p50 is judged at one connection, throughput at eight
P50_RATIO_MAX, CACHED_P50_RATIO_MAX, RPS_RATIO_MIN = 1.5, 1.2, 0.6


def drop_cached_details(cache_url: str, run_id: str) -> int:
    """Forget every contact detail the platform cached in this run, so a cold-read run is cold however
    many runs before it read the same contacts (at a small size every id is read by several)."""
    client = redis.Redis.from_url(cache_url)
    keys = list(client.scan_iter(f"bench{run_id}:*:contact:*", count=5000))
    for start in range(0, len(keys), 5000):
        client.delete(*keys[start:start + 5000])
    client.close()
    return len(keys)


def ratio(platform_value, bare_value) -> float | None:
    if not platform_value or not bare_value:
        return None
    return round(platform_value / bare_value, 2)


def run_floor(ctx: Context, bare_port: int, cache_url: str, seconds: float, warmup: float) -> list[dict]:
    """Each CRUD scenario at 1 and 8 connections on the platform and on the bare app, interleaved as
    platform, bare (1 connection), bare, platform (8): a drift of the machine's load falls on both."""
    rows = []
    for key, label, cached in FLOOR:
        scenario = REGISTRY[key]
        log(f"floor {key} {label}: setting up")
        state = scenario.setup(ctx) if scenario.setup else None
        seq, runs = 0, {}
        for connections, app in ((1, "platform"), (1, "bare"), (8, "bare"), (8, "platform")):
            target = copy.copy(ctx)
            target.port = ctx.port if app == "platform" else bare_port
            if key == "S4b" and app == "platform":
                drop_cached_details(cache_url, ctx.run_id)
            figures = drive(target, dataclasses.replace(scenario, concurrency=connections), state, seconds, warmup,
                            None, first_seq=seq)
            seq = figures.pop("next_seq")
            runs[f"{app}_{connections}"] = figures
            log(f"  {app:8} ×{connections}: {figures['requests']} requests, p50 {figures['p50_ms']} ms, "
                f"{figures['rps']} req/s, SQL {figures['sql_per_request']}, errors {figures['errors']}")
            for sample in figures["error_samples"]:
                log(f"    error: {sample}")
        p50_ratio = ratio(runs["platform_1"]["p50_ms"], runs["bare_1"]["p50_ms"])
        rps_ratio = ratio(runs["platform_8"]["rps"], runs["bare_8"]["rps"])
        p50_max = CACHED_P50_RATIO_MAX if cached else P50_RATIO_MAX
        misses = []
        if p50_ratio is None or p50_ratio > p50_max:
            misses.append(f"p50 ≤ {p50_max}×")
        if rps_ratio is None or rps_ratio < RPS_RATIO_MIN:
            misses.append(f"req/s ≥ {RPS_RATIO_MIN}×")
        errors = sum(r["errors"] for r in runs.values())
        if errors:
            misses.append(f"{errors} errors")
        rows.append({"key": key, "title": label, "runs": runs, "p50_ratio": p50_ratio, "rps_ratio": rps_ratio,
                     "target": f"p50 ≤ {p50_max}×; req/s ≥ {RPS_RATIO_MIN}×",
                     "result": ("MISS: " + ", ".join(misses)) if misses else "PASS"})
    return rows


def floor_markdown(rows: list[dict]) -> str:
    def num(value):
        return "—" if value is None else f"{value:g}"

    head = ("| Scenario | bare p50 ms (1) | platform p50 ms (1) | ratio | bare req/s (8) | platform req/s (8) | ratio "
            "| SQL bare / platform | Target | Result |\n|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
    lines = []
    for r in rows:
        runs = r["runs"]
        lines.append(
            f"| {r['title']} | {num(runs['bare_1']['p50_ms'])} | {num(runs['platform_1']['p50_ms'])} | "
            f"{num(r['p50_ratio'])}× | {num(runs['bare_8']['rps'])} | {num(runs['platform_8']['rps'])} | "
            f"{num(r['rps_ratio'])}× | {num(runs['bare_1']['sql_per_request'])} / "
            f"{num(runs['platform_1']['sql_per_request'])} | {r['target']} | {r['result']} |")
    return head + "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per scenario")
    parser.add_argument("--mixed-seconds", type=float, default=60.0,
                        help="duration of the mixed load (the target is stated for 600)")
    parser.add_argument("--only", default="", help="comma-separated scenario keys (e.g. S4a,S5)")
    parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", 2)))
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--no-worker", action="store_true", help="do not start a Celery worker")
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database afterwards")
    parser.add_argument("--reuse-db", action="store_true", help="reuse a kept bench database of the same size")
    parser.add_argument("--update-doc", action="store_true", help="write the table into docs/performance.md")
    parser.add_argument("--no-floor", action="store_true", help="skip the comparison with the bare DRF app")
    parser.add_argument("--floor-only", action="store_true", help="only the comparison with the bare DRF app")
    parser.add_argument("--floor-seconds", type=float, default=10.0, help="measured seconds per floor run")
    parser.add_argument("--floor-warmup", type=float, default=2.0, help="warm-up seconds per floor run")
    args = parser.parse_args()
    if args.no_floor and args.floor_only:
        parser.error("--no-floor and --floor-only exclude each other")

    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        raise SystemExit("DATABASE_URL is not set: run through `make bench` (scripts/dev.py exec)")
    bench_url, bench_name, admin_url = bench_database_url(database_url)
    redis_url = bench_redis_url()
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    meta_file = RESULTS / f".seed-{bench_name}.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    scenarios = load_all()
    only = {key.strip() for key in args.only.split(",") if key.strip()}
    scenarios = [s for s in scenarios if (s.key in only if only else not s.optional)]
    if args.floor_only:
        scenarios = []

    report: dict = {"run_id": run_id, "contacts": args.contacts, "machine": machine(),
                    "settings": {"web_workers": args.web_workers, "threads": args.threads,
                                 "duration": args.duration, "warmup": args.warmup,
                                 "mixed_seconds": args.mixed_seconds, "celery_worker": not args.no_worker,
                                 "floor": None if args.no_floor else {"seconds": args.floor_seconds,
                                                                      "warmup": args.floor_warmup}}}
    reuse = args.reuse_db and meta_file.exists() and json.loads(meta_file.read_text())["contacts"] == args.contacts
    if reuse:
        seed_report = json.loads(meta_file.read_text())
        log(f"reusing database {bench_name} ({args.contacts:,} contacts)")
    else:
        with psycopg.connect(libpq(admin_url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{bench_name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{bench_name}"')
        log(f"database {bench_name}: migrating")
        env = dict(os.environ, DATABASE_URL=bench_url, REDIS_URL=redis_url, DB_POOL="0")
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                       check=True)
        log(f"seeding {args.contacts:,} contacts with COPY")
        seed_report = seeding.seed(libpq(bench_url), args.contacts, log=log)
        log(f"seeded {seed_report['total_rows']:,} rows in {seed_report['copy_seconds']} s "
            f"({seed_report['rows_per_second']:,} rows/s; contacts {seed_report['contacts_per_second']:,}/s), "
            f"indexes {seed_report['index_seconds']} s, VACUUM ANALYZE {seed_report['vacuum_analyze_seconds']} s")
        if args.keep_db:
            meta_file.write_text(json.dumps(seed_report))
    with psycopg.connect(libpq(bench_url)) as conn:
        report["machine"]["postgres"] = conn.execute("SHOW server_version").fetchone()[0]
    report["seed"] = {k: v for k, v in seed_report.items()
                      if k not in ("token", "group_ids", "category_ids", "organization_ids")}

    broker = redis.Redis.from_url(redis_url)
    broker.delete("send", "bulk", "default")
    report["machine"]["redis"] = broker.info("server").get("redis_version")
    metrics_dir = tempfile.mkdtemp(prefix="bench-prometheus-")
    metrics_token = secrets.token_hex(16)
    port = free_port()
    env = dict(os.environ, DATABASE_URL=bench_url, REDIS_URL=redis_url, DEBUG="0", BENCH_COUNT_QUERIES="1",
               ACCESS_LOG="0", LOG_LEVEL="WARNING", METRICS_TOKEN=metrics_token,
               PROMETHEUS_MULTIPROC_DIR=metrics_dir, CACHE_KEY_PREFIX=f"bench{run_id}",
               THROTTLE_USER="100000000/min", DJANGO_SETTINGS_MODULE="contacts_project.settings")
    env.pop("SENTRY_DSN", None)
    log(f"starting gunicorn ({args.web_workers} workers × {args.threads} threads) on 127.0.0.1:{port}")
    app = App(env, port, args.web_workers, args.threads, with_worker=not args.no_worker)
    bare = None
    if not args.no_floor:
        bare_port = free_port()
        bare_env = dict(os.environ, DATABASE_URL=bench_url, DJANGO_SETTINGS_MODULE="bench.bare.settings")
        log(f"starting the bare DRF app ({args.web_workers} workers × {args.threads} threads) on 127.0.0.1:{bare_port}")
        bare = App(bare_env, bare_port, args.web_workers, args.threads, with_worker=False, wsgi="bench.bare.wsgi",
                   conf=())
    cache_url = redis_url.rsplit("/", 1)[0] + f"/{int(redis_url.rsplit('/', 1)[1]) + 1}"
    results, floor_rows = [], []
    ctx = None
    try:
        app.wait_ready()
        if bare:
            bare.wait_ready()
        ctx = Context(libpq(bench_url), port, seed_report["token"], args.contacts, seed_report, run_id)
        ctx.web_workers = args.web_workers
        if bare:
            floor_rows = run_floor(ctx, bare.port, cache_url, args.floor_seconds, args.floor_warmup)
        for scenario in scenarios:
            log(f"{scenario.key} {scenario.title}: setting up")
            state = scenario.setup(ctx) if scenario.setup else None
            seconds = scenario.duration or (args.mixed_seconds if scenario.key == "MIX-L" else args.duration)
            warmup = scenario.warmup if scenario.warmup is not None else args.warmup
            if scenario.key == "S4b":
                drop_cached_details(cache_url, run_id)
            before = cache_counters(port, metrics_token)
            figures = drive(ctx, scenario, state, seconds, warmup, scenario.max_requests)
            figures.pop("next_seq")
            after = cache_counters(port, metrics_token)
            hits = after.get("hits", 0) - before.get("hits", 0)
            misses = after.get("misses", 0) - before.get("misses", 0)
            figures["cache_hit_rate"] = round(hits / (hits + misses), 4) if hits + misses else None
            target, verdict = judge(scenario, figures)
            row = {"key": scenario.key, "title": scenario.title, "concurrency": scenario.concurrency,
                   **figures, "target": target, "result": verdict,
                   "targets": [{"metric": t.metric, "op": t.op, "value": t.value} for t in scenario.targets]}
            results.append(row)
            log(f"  {figures['requests']} requests, p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, "
                f"{figures['rps']} req/s, SQL {figures['sql_per_request']}, errors {figures['errors']} → {verdict}")
            for sample in figures["error_samples"]:
                log(f"    error: {sample}")
    finally:
        if ctx:
            ctx.close()
        app.stop()
        if bare:
            bare.stop()
        for key in broker.scan_iter(f"bench{run_id}:*", count=1000):
            broker.delete(key)
        cache = redis.Redis.from_url(cache_url)
        for key in cache.scan_iter(f"bench{run_id}:*", count=1000):
            cache.delete(key)
        if not args.keep_db:
            with psycopg.connect(libpq(admin_url), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{bench_name}" WITH (FORCE)')
            meta_file.unlink(missing_ok=True)

    report["machine"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3] \
        if Path("/proc/loadavg").exists() else None
    report["scenarios"] = results
    report["floor"] = floor_rows
    out = RESULTS / f"{run_id}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    table = markdown(results) if results else ""
    floor_table = floor_markdown(floor_rows) if floor_rows else ""
    summary = summary_of(report)
    print()
    print(summary)
    if floor_table:
        print("Against the bare DRF app (ratio = platform / bare):\n")
        print(floor_table)
    if table:
        print(table)
    log(f"results: {out.relative_to(ROOT)}")
    if args.update_doc:
        if table:
            update_doc(table, summary)
        if floor_table:
            update_doc(floor_table, summary, name="floor")
        log(f"tables written into {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
