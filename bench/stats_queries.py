"""Benchmark: the historical statistics over a year of calls (5.5 million) in PostgreSQL.

1. Generates, in a fresh database (``hotline_bench_stats_<random>``, dropped at the end),
   ``--days`` × ``--calls-per-day`` calls that entered a queue — by default 365 × 15,000 =
   5,475,000 — with SQL ``generate_series`` (the secondary indexes are dropped for the load
   and rebuilt after it):

   - arrivals over the Vietnam day by an hourly profile (quiet at night, peaks 08–11 and
     14–17), uniform within the hour;
   - categories medical 30 %, food 50 %, violation 20 %; a tenth of the medical calls in the
     ``emergency`` queue, 30 % in the category's own queue, the rest in one of the 9
     district queues (``food-724``…);
   - waits exponential, mean 6 s at night to 36 s at the peak hour; 2 % callbacks, 10 %
     abandoned (those under 5 s are short abandons), the rest answered; 3 % redials;
   - talk 60 s + exponential(120 s): mean 180 s;
   - answered calls go round-robin to ``--agents`` agents, each with four state rows
     (ringing 3 s before the answer, on_call, wrapup at the end, idle 10–30 s later), and
     every agent-day a shift: logged in 06:00, breaks 10:00 and 15:30 (training), meal
     12:00, logged out 23:00. Round-robin does not look at the shift, so an agent's rows
     overlap at times; the volumes are what matter here (~20 million state rows).

2. Builds the rollups with ``stats.rollups.rebuild`` (what ``hotline1022 stats rebuild``
   runs), and reports the time and the table sizes.

3. Times typical supervisor queries ``--runs`` times each, after 3 warm-up runs: the store
   functions (``stats.history``) in a fresh session, and the routes over HTTP with
   httpx's ASGITransport (authentication and JSON included); median, p99 and max. Also the
   service's incremental path: refreshing the last quarter hour (``refresh_buckets``).
   Twice, in the same run: with the process's heap as it is (the anchor: the service before
   2026-12-06), then with the start-up heap frozen as the service now does once started
   (``hotline1022.heap.freeze_startup_heap``: full garbage collections no longer walk the
   start-up objects; they were the 85–140 ms tail of the answers that build thousands of rows).

    .venv/bin/python bench/stats_queries.py                 # ~10 minutes on 2 cores
    .venv/bin/python bench/stats_queries.py --days 7 --runs 20   # a quick look
    .venv/bin/python bench/stats_queries.py --keep               # keep the database …
    .venv/bin/python bench/stats_queries.py --reuse hotline_bench_stats_1a2b3c4d  # … time it again

``--reuse`` skips steps 1 and 2 on a database an earlier run kept (pass the same ``--days``,
``--calls-per-day`` and ``--agents``): a few minutes instead of the generation and rebuild,
which take most of a full run's time. The database is left as it was (only a bench user and
its token are added).

Results are printed and appended to ``bench/results/stats.md``. The server is
``--admin-url`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``), used as it is
configured; only session settings are changed for the load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import shlex
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx

from api.app import create_app
from hotline1022.heap import freeze_startup_heap, thaw_heap
from stats.demand import VIETNAM
from stats.history import agent_rows, queue_rows
from stats.rollups import bucket_start, rebuild, refresh_buckets
from store.db import Database
from store.migrate import upgrade_async
from store.seed import ensure_agents
from store.users import create_user

RESULTS = Path(__file__).resolve().parent / "results" / "stats.md"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
START = datetime(2025, 1, 1, tzinfo=VIETNAM)
DISTRICTS = [718, 719, 720, 721, 722, 723, 724, 725, 726]
# Share of the day's calls per hour of the Vietnam day, 00h … 23h.
HOURLY = [
    0.8, 0.5, 0.4, 0.4, 0.5, 1.0, 2.0, 4.0, 7.0, 8.0, 8.0, 7.0,
    6.0, 6.0, 7.0, 7.5, 7.0, 6.0, 5.0, 4.0, 3.0, 2.5, 2.0, 1.5,
]  # fmt: skip
TABLES = ("calls", "agent_state_changes", "queue_stats", "agent_stats", "agent_pause_stats")


def hour_lookup(size: int = 1000) -> list[int]:
    """Hours repeated by their share: a uniform pick of one is an arrival's hour."""
    total = sum(HOURLY)
    hours: list[int] = []
    for hour, weight in enumerate(HOURLY):
        hours += [hour] * round(size * weight / total)
    return hours


def mean_waits() -> list[float]:
    """Mean wait per hour: 6 s when quiet, 36 s at the busiest hour."""
    peak = max(HOURLY)
    return [6.0 + 30.0 * w / peak for w in HOURLY]


CALLS_SQL = """
WITH draw AS (
    SELECT i, random() AS r_hour, random() AS r_sec, random() AS r_cat, random() AS r_q,
           random() AS r_d, random() AS r_out, random() AS r_wait, random() AS r_talk,
           random() AS r_ivr, random() AS r_rep
    FROM generate_series(0, $2::int - 1) AS i
), shaped AS (
    SELECT i, r_out, r_ivr, r_rep, r_q, r_d,
           $1::timestamptz + (i / $3::int) * interval '1 day'
               + ($4::int[])[1 + floor(r_hour * cardinality($4::int[]))::int]
                 * interval '1 hour'
               + r_sec * interval '1 hour' AS entered,
           -ln(1 - r_wait) * ($5::float8[])[
               1 + ($4::int[])[1 + floor(r_hour * cardinality($4::int[]))::int]] AS wait,
           60 - ln(1 - r_talk) * 120 AS talk,
           CASE WHEN r_cat < 0.3 THEN 'medical' WHEN r_cat < 0.8 THEN 'food'
                ELSE 'violation' END AS category,
           CASE WHEN r_out < 0.02 THEN 'callback' WHEN r_out < 0.12 THEN 'abandoned_queue'
                ELSE 'answered' END AS status
    FROM draw
), placed AS (
    SELECT *,
           CASE WHEN category = 'medical' AND r_q < 0.1 THEN 'emergency'
                WHEN r_q < 0.4 THEN category
                ELSE category || '-' || ($6::int[])[1 + floor(r_d * 9)::int] END AS queue
    FROM shaped
)
INSERT INTO calls (uniqueid, linkedid, caller_number, caller_name, arrived_at,
                   queue_entered_at, answered_at, ended_at, category, priority, route, queue,
                   agent_id, status, wait_s, talk_s, complete, updated_at, repeat_of)
SELECT 'b.' || i, 'b.' || i, '09' || lpad((i % 100000000)::text, 8, '0'), '',
       entered - (15 + 30 * r_ivr) * interval '1 second',
       entered,
       CASE WHEN status = 'answered' THEN entered + wait * interval '1 second' END,
       entered + (CASE WHEN status = 'answered' THEN wait + talk
                       WHEN status = 'callback' THEN 45 ELSE wait END) * interval '1 second',
       category, CASE WHEN category = 'medical' THEN 10 ELSE 0 END, 'ivr', queue,
       CASE WHEN status = 'answered' THEN ($7::int[])[1 + i % cardinality($7::int[])] END,
       status,
       CASE WHEN status = 'callback' THEN NULL ELSE wait END,
       CASE WHEN status = 'answered' THEN talk END,
       true,
       entered + (wait + talk) * interval '1 second',
       CASE WHEN r_rep < 0.03 AND i > 0 THEN 'b.' || (i - 1) END
FROM placed
"""

CALL_STATES_SQL = """
INSERT INTO agent_state_changes (agent_id, at, state, reason, call_uniqueid)
SELECT c.agent_id, v.at, v.state, NULL, v.uid
FROM calls AS c
CROSS JOIN LATERAL (VALUES
    (c.answered_at - interval '3 seconds', 'ringing', c.uniqueid),
    (c.answered_at, 'on_call', c.uniqueid),
    (c.ended_at, 'wrapup', c.uniqueid),
    (c.ended_at + (10 + c.id % 21) * interval '1 second', 'idle', NULL)
) AS v(at, state, uid)
WHERE c.answered_at IS NOT NULL
"""

SHIFT_SQL = """
INSERT INTO agent_state_changes (agent_id, at, state, reason, call_uniqueid)
SELECT a.id, $1::timestamptz + d * interval '1 day' + s.off + (a.id % 6) * interval '5 min',
       s.state, s.reason, NULL
FROM generate_series(0, $2::int - 1) AS d
CROSS JOIN agents AS a
CROSS JOIN (VALUES
    (interval '6 hours', 'idle', NULL),
    (interval '10 hours', 'paused', 'break'),
    (interval '10 hours 15 minutes', 'idle', NULL),
    (interval '12 hours', 'paused', 'meal'),
    (interval '12 hours 45 minutes', 'idle', NULL),
    (interval '15 hours 30 minutes', 'paused', 'training'),
    (interval '16 hours', 'idle', NULL),
    (interval '23 hours', 'logged_out', NULL)
) AS s(off, state, reason)
"""

SECONDARY_INDEXES = """
SELECT indexname, indexdef FROM pg_indexes
WHERE schemaname = 'public' AND tablename IN ('calls', 'agent_state_changes')
  AND indexname NOT IN (SELECT conname FROM pg_constraint)
ORDER BY indexname
"""


def dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def sa_url(url: str) -> str:
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def say(text: str) -> None:
    print(text, flush=True)


async def generate(url: str, *, days: int, per_day: int, start: datetime) -> dict[str, float]:
    """Calls and agent state changes in the migrated database at ``url``; seconds per step."""
    took: dict[str, float] = {}
    conn = await asyncpg.connect(dsn(url))
    try:
        await conn.execute(
            "SET maintenance_work_mem = '512MB'; SET synchronous_commit = off;SET work_mem = '64MB'"
        )
        agent_ids = [r["id"] for r in await conn.fetch("SELECT id FROM agents ORDER BY id")]
        indexes = await conn.fetch(SECONDARY_INDEXES)
        for row in indexes:
            await conn.execute(f'DROP INDEX "{row["indexname"]}"')

        t = time.monotonic()
        await conn.execute(
            CALLS_SQL,
            start,
            days * per_day,
            per_day,
            hour_lookup(),
            mean_waits(),
            DISTRICTS,
            agent_ids,
        )
        took["calls"] = time.monotonic() - t
        say(f"  calls: {days * per_day:,} in {took['calls']:.0f} s")

        t = time.monotonic()
        await conn.execute(CALL_STATES_SQL)
        await conn.execute(SHIFT_SQL, start, days)
        took["agent states"] = time.monotonic() - t
        say(f"  agent state changes in {took['agent states']:.0f} s")

        t = time.monotonic()
        for row in indexes:
            await conn.execute(row["indexdef"])
        await conn.execute("ANALYZE")
        took["indexes and ANALYZE"] = time.monotonic() - t
        say(f"  {len(indexes)} indexes rebuilt, ANALYZE, in {took['indexes and ANALYZE']:.0f} s")
    finally:
        await conn.close()
    return took


async def table_sizes(url: str) -> list[tuple[str, int, int]]:
    """(table, rows, bytes with indexes and TOAST)."""
    conn = await asyncpg.connect(dsn(url))
    try:
        return [
            (
                table,
                await conn.fetchval(f"SELECT count(*) FROM {table}"),
                await conn.fetchval("SELECT pg_total_relation_size($1)", table),
            )
            for table in TABLES
        ]
    finally:
        await conn.close()


@dataclass
class Timing:
    name: str
    rows: int
    store: list[float]
    http: list[float]


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def timed(runs: int, call: Callable[[], Awaitable[int]]) -> tuple[int, list[float]]:
    rows = 0
    for _ in range(3):
        rows = await call()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        await call()
        times.append((time.perf_counter() - t) * 1000)
    return rows, times


class _NoPbx:
    """The statistics routes need no PBX."""

    def snapshot(self) -> list[Any]:
        return []


async def measure(
    url: str, *, end: datetime, runs: int, frozen: bool = False
) -> tuple[list[Timing], list[float]]:
    """The cases timed; ``frozen``: with the start-up heap frozen, as the service runs."""
    db = Database(url)
    # A reused database may hold an earlier run's user: names are unique.
    _, token = await create_user(
        db, name=f"bench supervisor {secrets.token_hex(4)}", role="supervisor"
    )
    app = create_app(db=db, agents=_NoPbx(), queues=_NoPbx(), ami_status=dict)  # type: ignore[arg-type]
    headers = {"Authorization": f"Bearer {token}"}
    if frozen:  # as Service._start ends: everything made so far stays out of full collections
        say(f"  froze {freeze_startup_heap():,} objects")
    today = end - timedelta(days=1)
    agent_id = 1
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("queues: today by 15 min", "queues", {"since": today, "interval": "15m"}),
        ("queues: last 7 days by hour", "queues", {"since": end - timedelta(days=7)}),
        (
            "queues: last 7 days by hour, per Asterisk queue",
            "queues",
            {"since": end - timedelta(days=7), "by": "queue"},
        ),
        (
            "queues: last 30 days by day",
            "queues",
            {"since": end - timedelta(days=30), "interval": "day"},
        ),
        (
            "queues: the year by day",
            "queues",
            {"since": end - timedelta(days=365), "interval": "day"},
        ),
        ("agents: one agent, today by hour", "agents", {"since": today, "agent_id": agent_id}),
        (
            "agents: one agent, last 30 days by day",
            "agents",
            {"since": end - timedelta(days=30), "interval": "day", "agent_id": agent_id},
        ),
        ("agents: all agents, today by hour", "agents", {"since": today}),
    ]
    timings = []
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for name, what, params in cases:
                params = {"until": end, "interval": "hour", **params}

                async def store(what: str = what, params: dict[str, Any] = params) -> int:
                    fn: Any = queue_rows if what == "queues" else agent_rows
                    async with db.session() as session:
                        return len(await fn(session, **params))

                async def http(what: str = what, params: dict[str, Any] = params) -> int:
                    query = {
                        k: v.isoformat() if isinstance(v, datetime) else v
                        for k, v in params.items()
                    }
                    response = await client.get(f"/stats/{what}", params=query, headers=headers)
                    response.raise_for_status()
                    return len(response.json()["rows"])

                rows, store_ms = await timed(runs, store)
                http_rows, http_ms = await timed(runs, http)
                assert rows == http_rows, (name, rows, http_rows)
                timings.append(Timing(name, rows, store_ms, http_ms))
                say(
                    f"  {name}: {rows} rows; store p50 {statistics.median(store_ms):.1f} ms "
                    f"p99 {p(store_ms, 99):.1f} ms; HTTP p50 {statistics.median(http_ms):.1f} ms "
                    f"p99 {p(http_ms, 99):.1f} ms"
                )

        last = bucket_start(end - timedelta(minutes=1))

        async def refresh() -> int:
            async with db.session() as session:
                await refresh_buckets(session, [last], now=end)
                await session.commit()
            return 1

        _, refresh_ms = await timed(runs, refresh)
        say(
            f"  refresh of the last quarter hour: p50 {statistics.median(refresh_ms):.1f} ms "
            f"p99 {p(refresh_ms, 99):.1f} ms"
        )
    finally:
        await db.dispose()
        if frozen:
            thaw_heap()
    return timings, refresh_ms


async def measure_both(
    url: str, *, end: datetime, runs: int
) -> tuple[list[Timing], list[float], list[Timing], list[float]]:
    """The anchor (heap as it is), then the same with the start-up heap frozen."""
    say(f"timing, heap as it is ({runs} runs each) …")
    timings, refresh_ms = await measure(url, end=end, runs=runs)
    say(f"timing, start-up heap frozen ({runs} runs each) …")
    frozen, frozen_refresh_ms = await measure(url, end=end, runs=runs, frozen=True)
    return timings, refresh_ms, frozen, frozen_refresh_ms


def mb(size: int) -> str:
    return f"{size / 1024 / 1024:,.0f} MB"


def report(
    argv: list[str],
    *,
    days: int,
    per_day: int,
    agents: int,
    generated: dict[str, float] | None,
    build_s: float | None,
    sizes: list[tuple[str, int, int]],
    timings: list[Timing],
    refresh_ms: list[float],
    runs: int,
    frozen: list[Timing] | None = None,
    frozen_refresh_ms: list[float] | None = None,
    load: tuple[str, str],
    version: str,
    wall_s: float,
) -> str:
    lines = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"- command: `{shlex.join(['.venv/bin/python', 'bench/stats_queries.py', *argv])}`",
        f"- machine: {platform.node()}, {os.cpu_count()} cores; {version}; Python "
        f"{platform.python_version()}; server settings as installed (shared_buffers etc. "
        "untouched). **The machine has 2 cores and other work ran at the same time** "
        f"(load average at start {load[0]}, at the end {load[1]}): figures are noisy, the "
        "p99 most of all.",
        f"- data: {days} days × {per_day:,} calls = {days * per_day:,} calls that entered a "
        f"queue, {agents} agents; "
        + (
            "generated in " + ", ".join(f"{k} {v:.0f} s" for k, v in generated.items())
            if generated is not None
            else "a database an earlier run generated and kept (`--reuse`)"
        ),
        (
            f"- rollups built (`stats.rollups.rebuild`, one transaction per Vietnam day): "
            f"{build_s:.0f} s ({build_s / days:.2f} s per day)"
            if build_s is not None
            else "- rollups: built by the run that generated the database"
        ),
        f"- wall time {wall_s / 60:.1f} min; every query {runs} times after 3 warm-up runs",
        "",
        "| table | rows | size (with indexes) |",
        "|---|---:|---:|",
        *(f"| {t} | {n:,} | {mb(s)} |" for t, n, s in sizes),
        "",
    ]
    if frozen is not None and frozen_refresh_ms is not None:
        lines += ["Heap as it is (the anchor: the service before 2026-12-06):", ""]
    lines += _table(timings, refresh_ms)
    if frozen is not None and frozen_refresh_ms is not None:
        lines += [
            "Start-up heap frozen, as the service now runs "
            "(`hotline1022.heap.freeze_startup_heap`), same process, right after:",
            "",
            *_table(frozen, frozen_refresh_ms),
        ]
    lines += [
        "store: the `stats.history` function in a fresh session; HTTP: the route "
        "through httpx's ASGITransport (token check, validation, JSON).",
        "",
    ]
    return "\n".join(lines)


def _table(timings: list[Timing], refresh_ms: list[float]) -> list[str]:
    lines = [
        "| query | rows returned | store p50 ms | store p99 ms | store max ms "
        "| HTTP p50 ms | HTTP p99 ms | HTTP max ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in timings:
        lines.append(
            f"| {t.name} | {t.rows} | {statistics.median(t.store):.1f} | {p(t.store, 99):.1f} "
            f"| {max(t.store):.1f} | {statistics.median(t.http):.1f} | {p(t.http, 99):.1f} "
            f"| {max(t.http):.1f} |"
        )
    lines += [
        f"| refresh of the last quarter hour and its day (service, every 5 s) | — "
        f"| {statistics.median(refresh_ms):.1f} | {p(refresh_ms, 99):.1f} "
        f"| {max(refresh_ms):.1f} | | | |",
        "",
    ]
    return lines


async def _generate_and_measure(
    args: argparse.Namespace, url: str, name: str, admin: Any
) -> tuple[
    dict[str, float],
    float,
    list[tuple[str, int, int]],
    list[Timing],
    list[float],
    list[Timing],
    list[float],
]:
    """Steps 1–3 in the new database ``name``; dropped at the end unless ``--keep``."""
    try:
        await upgrade_async(url)
        db = Database(url)
        try:
            await ensure_agents(db, args.agents)
        finally:
            await db.dispose()
        say("generating …")
        generated = await generate(url, days=args.days, per_day=args.calls_per_day, start=START)

        say("building the rollups …")
        db = Database(url)
        end = START + timedelta(days=args.days)
        t = time.monotonic()

        def progress(day: datetime) -> None:
            if day.astimezone(VIETNAM).day == 1:
                say(f"  {day.astimezone(VIETNAM):%Y-%m} …")

        try:
            days = await rebuild(db, START, end, now=end, on_day=progress)
        finally:
            await db.dispose()
        conn = await asyncpg.connect(dsn(url))
        try:  # what `hotline1022 stats rebuild` does after a rebuild
            await conn.execute("ANALYZE queue_stats, agent_stats, agent_pause_stats")
        finally:
            await conn.close()
        build_s = time.monotonic() - t
        say(f"  {days} days in {build_s:.0f} s")
        sizes = await table_sizes(url)
        for table, rows, size in sizes:
            say(f"  {table}: {rows:,} rows, {mb(size)}")

        timings, refresh_ms, frozen, frozen_refresh_ms = await measure_both(
            url, end=end, runs=args.runs
        )
    finally:
        if args.keep:
            say(f"kept database {name}")
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            say(f"dropped database {name}")
        await admin.close()
    return generated, build_s, sizes, timings, refresh_ms, frozen, frozen_refresh_ms


async def run(args: argparse.Namespace, argv: list[str]) -> int:
    started = time.monotonic()
    load_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    name = args.reuse or f"hotline_bench_stats_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(dsn(args.admin_url))
    version = (await admin.fetchval("SHOW server_version")).split()[0]
    url = sa_url(with_database(dsn(args.admin_url), name))
    generated: dict[str, float] | None = None
    build_s: float | None = None
    end = START + timedelta(days=args.days)
    if args.reuse:
        say(f"reusing database {name}")
        try:
            sizes = await table_sizes(url)
            timings, refresh_ms, frozen, frozen_refresh_ms = await measure_both(
                url, end=end, runs=args.runs
            )
        finally:
            await admin.close()
    else:
        await admin.execute(f'CREATE DATABASE "{name}"')
        say(f"database {name}")
        (
            generated,
            build_s,
            sizes,
            timings,
            refresh_ms,
            frozen,
            frozen_refresh_ms,
        ) = await _generate_and_measure(args, url, name, admin)

    text = report(
        argv,
        days=args.days,
        per_day=args.calls_per_day,
        agents=args.agents,
        generated=generated,
        build_s=build_s,
        sizes=sizes,
        timings=timings,
        refresh_ms=refresh_ms,
        frozen=frozen,
        frozen_refresh_ms=frozen_refresh_ms,
        runs=args.runs,
        load=(load_start, " ".join(f"{x:.2f}" for x in os.getloadavg())),
        version=f"PostgreSQL {version}",
        wall_s=time.monotonic() - started,
    )
    print()
    print(text)
    if args.record:
        new = not RESULTS.exists()
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a", encoding="utf-8") as f:
            if new:
                f.write("# Historical statistics: a year of calls in PostgreSQL\n\n")
            f.write(text + "\n")
        print(f"recorded in {RESULTS}")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--calls-per-day", type=int, default=15000)
    parser.add_argument("--agents", type=int, default=90)
    parser.add_argument("--runs", type=int, default=60, help="timed runs per query (≥ 50)")
    parser.add_argument("--admin-url", default=ADMIN_URL, help="a database on the server")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument(
        "--reuse",
        metavar="DATABASE",
        help="time a database an earlier run kept (--keep) instead of generating one",
    )
    parser.add_argument(
        "--no-record", dest="record", action="store_false", help=f"do not append to {RESULTS}"
    )
    args = parser.parse_args(argv)
    return asyncio.run(run(args, argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
