"""S1–S12 and the mixed scenarios: the contacts API (the targets, at 1,000,000 contacts on 2 cores)."""
from __future__ import annotations

import base64
import datetime as dt
import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor

from bench.scenarios import Scenario, Target, register

API = "/api/v1"
WORKING_SET = 2000  # contacts a team is actively working on: the mixed scenarios read them most
TAIL_SHARE = 0.03  # share of detail reads that go to any contact (the long tail, mostly misses)


def _ids(ctx, n: int, where: str = "true", seed: int = 0) -> list[tuple]:
    """n contacts spread over the table (every k-th row of a random start), with email, names and status."""
    total = ctx.n_contacts
    stride = max(1, total // max(1, n))
    return ctx.sql(
        "SELECT id::text, email, first_name, last_name, status FROM ("
        "  SELECT *, row_number() OVER (ORDER BY id) AS rn FROM contacts_contact WHERE " + where +
        ") t WHERE rn %% %s = %s LIMIT %s", [stride, seed % stride, n])


def _working_set(ctx) -> list[str]:
    if "working_set" not in ctx.store:
        ctx.store["working_set"] = [row[0] for row in _ids(ctx, WORKING_SET, seed=7)]
        ctx.store["tail"] = [row[0] for row in _ids(ctx, 20000, seed=3)]
    return ctx.store["working_set"]


def _pick_detail(ctx, rng: random.Random) -> str:
    working = _working_set(ctx)
    if rng.random() < TAIL_SHARE:
        return rng.choice(ctx.store["tail"])
    return working[int(len(working) * rng.random() ** 7.2)]  # 80 % of reads on 20 % of the working set


def _prime(ctx, ids: list[str]) -> None:
    """Read each id once, as a system that has been serving these contacts for a while has."""
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda cid: ctx.api("GET", f"{API}/contacts/{cid}/"), ids))


_local = threading.local()


def _rng(worker: int) -> random.Random:
    if getattr(_local, "rng", None) is None:
        _local.rng = random.Random(worker * 7919 + threading.get_ident())
    return _local.rng


# --------------------------------------------------------------------------- writes
def s1_request(ctx, state, worker, seq):
    return "POST", f"{API}/contacts/", {
        "first_name": "Bench", "last_name": f"Create{seq}", "email": f"s1-{ctx.run_id}-{seq}@bench.example.com",
        "phone": f"+1415{seq % 10_000_000:07d}", "organization": ctx.seed["organization_ids"][seq % 50],
        "type": "lead", "job_title": "Buyer", "tags": ["bench"]}


register(Scenario("S1", "create", s1_request, concurrency=2, order=10,
                  targets=[Target("p50_ms", "<=", 10), Target("p95_ms", "<=", 25)]))


def _rows(ctx, key: str, n: int, where: str = "true", seed: int = 1) -> list[tuple]:
    if key not in ctx.store:
        ctx.store[key] = _ids(ctx, n, where, seed)
    return ctx.store[key]


def s2_request(ctx, state, worker, seq):
    row = state[seq % len(state)]
    return "PATCH", f"{API}/contacts/{row[0]}/", {"job_title": f"Title {seq}", "priority": seq % 4}


register(Scenario("S2", "PATCH", s2_request, setup=lambda ctx: _rows(ctx, "s2", 5000, seed=11), concurrency=2,
                  order=20, targets=[Target("p50_ms", "<=", 10)]))


def s3_request(ctx, state, worker, seq):
    cid, email, first, last, _ = state[seq % len(state)]
    return "PUT", f"{API}/contacts/{cid}/", {
        "first_name": first, "last_name": last, "email": email, "phone": "+14155550100",
        "job_title": f"Replaced {seq}", "type": "customer", "tags": ["bench", "put"], "priority": 1}


register(Scenario("S3", "PUT", s3_request, setup=lambda ctx: _rows(ctx, "s3", 5000, seed=13), concurrency=2,
                  order=30, targets=[Target("p50_ms", "<=", 10)]))


# --------------------------------------------------------------------------- detail
def s4_cached_setup(ctx):
    ids = [row[0] for row in _ids(ctx, 200, seed=17)]
    _prime(ctx, ids)
    return ids


register(Scenario("S4a", "detail (cached)", lambda ctx, ids, w, seq: ("GET", f"{API}/contacts/{ids[seq % len(ids)]}/",
                                                                      None),
                  setup=s4_cached_setup, concurrency=2, order=40,
                  targets=[Target("p50_ms", "<=", 5), Target("sql_per_request", "<=", 1)]))


def s4_cold_setup(ctx):
    # ids nobody read in this run: every request is a cache miss built from PostgreSQL
    return [row[0] for row in _ids(ctx, 60000, seed=19)]


register(Scenario("S4b", "detail (cold)", lambda ctx, ids, w, seq: ("GET", f"{API}/contacts/{ids[seq % len(ids)]}/",
                                                                    None),
                  setup=s4_cold_setup, concurrency=2, order=41, max_requests=50000,
                  targets=[Target("p50_ms", "<=", 5), Target("sql_per_request", "<=", 3)]))


# --------------------------------------------------------------------------- lists
register(Scenario("S5", "list, first page", lambda ctx, s, w, seq: ("GET", f"{API}/contacts/", None),
                  concurrency=2, order=50, targets=[Target("p95_ms", "<=", 25), Target("sql_per_request", "<=", 4)]))


def _cursor(created_at: dt.datetime, cid: str) -> str:
    value = created_at.astimezone(dt.UTC).isoformat()
    raw = json.dumps([value, cid, "-created_at", "n"], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def s6_setup(ctx):
    """Cursors deep in the table (what a client holds after following `next` for a long time)."""
    n = ctx.n_contacts
    cursors = []
    for k in range(20):
        offset = n // 4 + (n // 2) * k // 20
        created_at, cid = ctx.sql("SELECT created_at, id::text FROM contacts_contact ORDER BY created_at DESC, "
                                  "id DESC OFFSET %s LIMIT 1", [offset])[0]
        cursors.append(_cursor(created_at, cid))
    return cursors


register(Scenario("S6", "list, deep page by cursor",
                  lambda ctx, cursors, w, seq: ("GET", f"{API}/contacts/?cursor={cursors[seq % len(cursors)]}", None),
                  setup=s6_setup, concurrency=2, order=60,
                  targets=[Target("p95_ms", "<=", 25), Target("sql_per_request", "<=", 4)]))


def s7_setup(ctx):
    seed = ctx.seed
    orgs, groups, cats = seed["organization_ids"], seed["group_ids"], seed["category_ids"]
    month_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    queries = []
    for k in range(10):
        queries += [
            "status=active&type=customer",
            f"organization={orgs[k]}",
            f"group={groups[k % len(groups)]}",
            f"category={cats[10 + k]}",
            f"status=inactive&created_after={month_ago}",
            "tag=vip&status=active",
            f"owner={2 + k}&status=new",
        ]
    return queries


register(Scenario("S7", "filtered list", lambda ctx, qs, w, seq: ("GET", f"{API}/contacts/?{qs[seq % len(qs)]}", None),
                  setup=s7_setup, concurrency=2, order=70, targets=[Target("p95_ms", "<=", 30)]))

SEARCHES = ("smith", "jennifer", "garcia", "example7.com", "acme", "rodriguez", "kowalski", "michael jones",
            "+12000012", "globex", "dubois", "mendez", "zoe", "hooli", "nguyen")


def s8_request(ctx, state, worker, seq):
    term = SEARCHES[seq % len(SEARCHES)].replace(" ", "+").replace("+1", "%2B1")
    return "GET", f"{API}/contacts/?search={term}", None


register(Scenario("S8", "search", s8_request, concurrency=2, order=80, targets=[Target("p95_ms", "<=", 30)]))


# --------------------------------------------------------------------------- bulk
def s9_setup(ctx):
    ids = [row[0] for row in _ids(ctx, 10000, seed=23)]
    groups = [ctx.api("POST", f"{API}/groups/", {"name": f"bench-s9-{ctx.run_id}-{k}"})["id"] for k in range(40)]
    return {"ids": ids, "groups": groups}


register(Scenario("S9", "group add 10,000", lambda ctx, s, w, seq: (
    "POST", f"{API}/groups/{s['groups'][seq % len(s['groups'])]}/contacts/", {"contact_ids": s["ids"]}),
    setup=s9_setup, concurrency=1, order=90, warmup=0.1, max_requests=30))


def s10_request(ctx, state, worker, seq):
    return "POST", f"{API}/contacts/bulk/", {"contacts": [
        {"first_name": "Bulk", "last_name": f"Row{j}", "email": f"s10-{ctx.run_id}-{seq}-{j}@bench.example.com",
         "type": "lead", "status": "active"} for j in range(1000)]}


register(Scenario("S10", "bulk create 1,000", s10_request, concurrency=1, order=100, warmup=0.1, max_requests=30,
                  targets=[Target("p50_ms", "<=", 250)]))


def s11_setup(ctx):
    rows = _ids(ctx, 4000, "status IN ('active', 'inactive')", seed=29)
    return {"rows": rows, "status": {row[0]: row[4] for row in rows}, "lock": threading.Lock()}


def s11_request(ctx, state, worker, seq):
    rows = state["rows"]
    # thread w only touches rows ≡ w (mod 8): two threads never move the same contact at once
    cid = rows[(worker % 8 + 8 * seq) % (len(rows) - len(rows) % 8)][0]
    with state["lock"]:  # each contact toggles active ↔ inactive, never twice at once
        target = "inactive" if state["status"][cid] == "active" else "active"
        state["status"][cid] = target
    return "POST", f"{API}/contacts/{cid}/status/", {"status": target, "reason": "bench"}


register(Scenario("S11", "status transition", s11_request, setup=s11_setup, concurrency=1, order=110,
                  targets=[Target("p50_ms", "<=", 10)]))


def s12_request(ctx, base, worker, seq):
    # a distinct `end` each time: the report cache (60 s) never answers, PostgreSQL does
    end = (base - dt.timedelta(seconds=seq)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return "GET", f"{API}/reports/contacts/?period=week&end={end}", None


register(Scenario("S12", "report (uncached)", s12_request, setup=lambda ctx: dt.datetime.now(dt.UTC),
                  concurrency=1, order=120, max_requests=200,
                  targets=[Target("p95_ms", "<=", 200)]))


# --------------------------------------------------------------------------- mixed
def mixed_read_setup(ctx):
    _prime(ctx, _working_set(ctx))


def mixed_read_request(ctx, state, worker, seq):
    rng = _rng(worker)
    roll = rng.random()
    if roll < 0.85:
        return "GET", f"{API}/contacts/{_pick_detail(ctx, rng)}/", None
    if roll < 0.95:
        return "GET", f"{API}/contacts/", None
    return "GET", f"{API}/contacts/?search={rng.choice(SEARCHES[:8]).split()[0]}", None


register(Scenario("MIX-R", "mixed read (cache hit rate)", mixed_read_request, setup=mixed_read_setup, concurrency=4,
                  order=200, targets=[Target("cache_hit_rate", ">=", 0.95)]))


def mixed_load_setup(ctx):
    mixed_read_setup(ctx)
    return s11_setup(ctx)


def mixed_load_request(ctx, state, worker, seq):
    rng = _rng(worker)
    roll = rng.random()
    if roll < 0.60:
        return "GET", f"{API}/contacts/{_pick_detail(ctx, rng)}/", None
    if roll < 0.70:
        return "GET", f"{API}/contacts/", None
    if roll < 0.75:
        return "GET", f"{API}/contacts/?status=active&type=customer", None
    if roll < 0.80:
        return "GET", f"{API}/contacts/?search={rng.choice(SEARCHES[:8]).split()[0]}", None
    if roll < 0.92:
        cid = _pick_detail(ctx, rng)
        return "PATCH", f"{API}/contacts/{cid}/", {"job_title": f"Mixed {seq}"}
    if roll < 0.97:
        return s1_request(ctx, None, worker, 10_000_000 + seq)
    return s11_request(ctx, state, worker, seq)


register(Scenario("MIX-L", "mixed load (reads + writes)", mixed_load_request, setup=mixed_load_setup, concurrency=4,
                  order=210, targets=[Target("p95_ms", "<=", 40), Target("errors", "<=", 0)]))
