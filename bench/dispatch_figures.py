"""Benchmark: the dispatch figures over a year (``/monitoring/teams`` and
``/monitoring/districts``) from the rollups (``dispatch.rollups``), against the direct
queries over the incidents (the anchor, ``team_figures_direct`` / ``area_figures_direct``)
in the same run, on the same PostgreSQL database.

1. Creates a fresh database (``hotline_bench_figures_<random>``, dropped at the end),
   migrates it, loads Bình Dương's places and teams and ``--history-days`` × ``--per-day``
   closed incidents as ``bench/dispatch_day.py`` does (its ``setup`` and
   ``generate_history``: a year of 4,500 a day by default, 1.6 million incidents), and
   ``--open`` incidents still open over the last days (read live).
2. Rolls the days up (``dispatch.rollups.rebuild``), timed.
3. Times each figure ``--runs`` times after 3 warm-up runs (the anchor ``--anchor-runs``
   times: seconds each): at the store (the function in a fresh session) and over HTTP
   (``api.app.create_app`` through httpx's ASGITransport: token, validation, JSON; for the
   anchor the router's functions are swapped for the direct ones, in this process only).
   Checks that both ways give the same counts and medians within the stated error.

    .venv/bin/python bench/dispatch_figures.py              # ~8 minutes on 2 shared cores
    .venv/bin/python bench/dispatch_figures.py --history-days 30 --runs 10

Results are printed and appended to ``bench/results/dispatch.md``. The server is
``--admin-url`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
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
from sqlalchemy import select

import api.routers.monitoring as monitoring_router
from api.app import create_app
from dispatch import figures
from dispatch.filters import IncidentFilter
from dispatch.rollups import (
    MEDIAN_ABS_ERROR_S,
    MEDIAN_REL_ERROR,
    day_of,
    rebuild,
    refresh_days,
)
from store.db import Database
from store.models import incident_rollup_days
from store.users import create_user

RESULTS = Path(__file__).resolve().parent / "results" / "dispatch.md"


def _day_bench() -> Any:
    path = Path(__file__).resolve().parent / "dispatch_day.py"
    spec = importlib.util.spec_from_file_location("bench_dispatch_day", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


day = _day_bench()


def say(text: str) -> None:
    print(text, flush=True)


def pct(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


class _NoPbx:
    """The monitoring routes need no PBX."""

    def snapshot(self) -> list[Any]:
        return []


@dataclass
class Timing:
    name: str
    way: str  # "rollups" or "direct (anchor)"
    store: list[float]
    http: list[float]


async def timed(runs: int, call: Callable[[], Awaitable[Any]], warm: int = 3) -> list[float]:
    for _ in range(warm):
        await call()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        await call()
        times.append((time.perf_counter() - t) * 1000)
    return times


OPEN_SQL = """
INSERT INTO incidents (caller_number, category, urgency, place_id, place_path, address, notes,
                       status, team_id, escalation, created_at, updated_at, dispatched_at,
                       acknowledged_at, ack_due_at, call_attempts, first_team_id,
                       acknowledged_by_team_id, ack_s)
SELECT '08' || lpad(i::text, 8, '0'), 'food', 'normal', p.id, p.path, 'mở ' || i, '',
       CASE WHEN i % 2 = 0 THEN 'acknowledged' ELSE 'dispatched' END, t.id, 0,
       $1::timestamptz - (i % 72) * interval '1 hour', now(), $1::timestamptz,
       CASE WHEN i % 2 = 0 THEN $1::timestamptz END, $1::timestamptz, 1, t.id,
       CASE WHEN i % 2 = 0 THEN t.id END, CASE WHEN i % 2 = 0 THEN 60.0 END
FROM generate_series(1, $2::int) AS i
JOIN LATERAL (SELECT id, path FROM places WHERE level = 'commune'
              ORDER BY id OFFSET i % 91 LIMIT 1) AS p ON true
JOIN teams t ON t.place_id = p.id AND t.kind = 'team'
"""


def same(a: Any, b: Any) -> bool:
    """The figures both ways: counts equal, medians within the stated error."""
    rows_a = [*a.rows, a.total] if hasattr(a, "total") else a
    rows_b = [*b.rows, b.total] if hasattr(b, "total") else b
    if len(rows_a) != len(rows_b):
        return False
    for x, y in zip(rows_a, rows_b, strict=True):
        for name, value in vars(x).items():
            other = vars(y)[name]
            if name.endswith("median_s") and value is not None and other is not None:
                if abs(value - other) > max(MEDIAN_REL_ERROR * other, MEDIAN_ABS_ERROR_S) + 1e-9:
                    return False
            elif value != other:
                return False
    return True


async def measure(url: str, *, days: int, runs: int, anchor_runs: int) -> dict[str, Any]:
    db = Database(url)
    who = f"bench figures supervisor {secrets.token_hex(3)}"
    _, token = await create_user(db, name=who, role="supervisor")
    app = create_app(db=db, agents=_NoPbx(), queues=_NoPbx(), ami_status=dict)  # type: ignore[arg-type]
    headers = {"Authorization": f"Bearer {token}"}
    now = datetime.now(UTC)
    since = now - timedelta(days=days)
    f = IncidentFilter(since=since, until=now)
    params = {"since": since.isoformat(), "until": now.isoformat()}
    cases: list[tuple[str, str, Any, Any]] = [
        (f"teams, {days} days", "/monitoring/teams", figures.team_figures, "team_figures"),
        (
            f"districts, {days} days",
            "/monitoring/districts",
            figures.area_figures,
            "area_figures",
        ),
    ]
    direct = {
        "team_figures": figures.team_figures_direct,
        "area_figures": figures.area_figures_direct,
    }
    timings: list[Timing] = []
    agree: dict[str, bool] = {}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for name, path, fast, attr in cases:
                slow: Any = direct[attr]
                async with db.session() as session:
                    agree[name] = same(await fast(session, f), await slow(session, f))
                for way, fn, n, warm in (
                    ("rollups", fast, runs, 3),
                    ("direct (anchor)", slow, anchor_runs, 1),
                ):

                    async def store(fn: Any = fn) -> None:
                        async with db.session() as session:
                            await fn(session, f)

                    async def http(path: str = path) -> None:
                        response = await client.get(path, params=params, headers=headers)
                        response.raise_for_status()

                    say(f"  {name}, {way}: store")
                    store_ms = await timed(n, store, warm)
                    say(f"  {name}, {way}: HTTP")
                    setattr(monitoring_router, attr, fn)
                    try:
                        http_ms = await timed(n, http, warm)
                    finally:
                        setattr(monitoring_router, attr, fast)
                    timings.append(Timing(name, way, store_ms, http_ms))
    finally:
        await db.dispose()
    return {"timings": timings, "agree": agree}


def report(argv: list[str], figures_: dict[str, Any]) -> str:
    lines = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — the year's figures from the rollups",
        "",
        "- command: `"
        + " ".join([".venv/bin/python bench/dispatch_figures.py", *map(shlex.quote, argv)])
        + "`",
        f"- machine: vm, {os.cpu_count()} cores; {figures_['version']}; Python "
        f"{platform.python_version()}; load average at start {figures_['load_start']}, at the "
        f"end {figures_['load_end']} (**a shared machine: other work ran at the same time**)",
        f"- data: {figures_['days']} days × {figures_['per_day']:,} closed incidents "
        f"({figures_['incidents']:,} in the table, {figures_['open']} of them open)"
        + (
            f"; reused database `{figures_['reused']}` (made by the same history generator)"
            if figures_.get("reused")
            else f"; generated in {figures_['history_s']:.0f} s"
        ),
        f"- rollups: {figures_['rolled']} days rolled up in {figures_['rebuild_s']:.0f} s "
        + ("(the rest kept from the earlier run, --no-rebuild) " if figures_["kept"] else "")
        + f"({figures_['rollup_rows']:,} rows); medians within "
        f"{MEDIAN_REL_ERROR:.3%} or {MEDIAN_ABS_ERROR_S} s of the exact ones",
        "- the same figures both ways (counts equal, medians within the error): "
        + ", ".join(f"{k}: {'yes' if v else '**NO**'}" for k, v in figures_["agree"].items()),
        "",
        "| figure | way | runs | store p50 ms | store p99 ms | HTTP p50 ms | HTTP p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for t in figures_["timings"]:
        lines.append(
            f"| {t.name} | {t.way} | {len(t.store)} | {pct(t.store, 50):.1f} | "
            f"{pct(t.store, 99):.1f} | {pct(t.http, 50):.1f} | {pct(t.http, 99):.1f} |"
        )
    lines += [
        "",
        "store: `dispatch.figures` in a fresh session; HTTP: the route through httpx's "
        "ASGITransport (token check, validation, JSON). The anchor is the direct query over "
        "the incidents (the code before the rollups), timed in the same run.",
        "",
    ]
    return "\n".join(lines)


async def run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    load_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    reuse = getattr(args, "reuse", None)
    name = reuse or f"hotline_bench_figures_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(day.dsn(args.admin_url))
    version = "PostgreSQL " + (await admin.fetchval("SHOW server_version")).split()[0]
    if not reuse:
        await admin.execute(f'CREATE DATABASE "{name}"')
    url = day.sa_url(day.with_database(day.dsn(args.admin_url), name))
    say(f"database {name}" + (" (reused: its history as an earlier run made it)" if reuse else ""))
    out: dict[str, Any] = {"version": version, "load_start": load_start, "reused": reuse}
    try:
        await day.upgrade_async(url)
        today = datetime.now(day.VIETNAM).replace(hour=0, minute=0, second=0, microsecond=0)
        out["history_s"] = 0.0
        if not reuse:
            communes = day.communes_of_province(await asyncio.to_thread(day.province_json))
            world = await day.setup(url, agents=1)
            out["history_s"] = await day.generate_history(
                url, world, communes, days=args.history_days, per_day=args.per_day, end=today
            )
        conn = await asyncpg.connect(day.dsn(url))
        try:
            if not reuse:
                await conn.execute(OPEN_SQL, today, args.open)
                await conn.execute("ANALYZE incidents")
            out["incidents"] = await conn.fetchval("SELECT count(*) FROM incidents")
            out["open"] = await conn.fetchval(
                "SELECT count(*) FROM incidents WHERE status NOT IN ('resolved', 'cancelled')"
            )
        finally:
            await conn.close()
        say(f"  history: {out['incidents']:,} incidents in {out['history_s']:.0f} s")
        t = time.monotonic()
        db = Database(url)
        try:
            end = day_of(datetime.now(UTC))
            since = end - args.history_days - 2
            if reuse and getattr(args, "no_rebuild", False):
                # Only the days the earlier run did not roll (today's yesterday, at most).
                out["rolled"] = 0
                async with db.session() as session:
                    rolled = set(await session.scalars(select(incident_rollup_days.c.day)))
                missing = [d for d in range(since, end) if d not in rolled]
                async with db.session() as session:
                    out["rolled"] = len(await refresh_days(session, missing))
                    await session.commit()
            else:
                out["rolled"] = await rebuild(db, since, end)
        finally:
            await db.dispose()
        out["rebuild_s"] = time.monotonic() - t
        conn = await asyncpg.connect(day.dsn(url))
        try:
            out["rollup_rows"] = await conn.fetchval("SELECT count(*) FROM incident_rollups")
        finally:
            await conn.close()
        say(f"  rollups: {out['rolled']} days in {out['rebuild_s']:.0f} s")
        days = min(366, max(args.history_days, 1))
        out |= await measure(url, days=days, runs=args.runs, anchor_runs=args.anchor_runs)
    finally:
        if not reuse:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    out |= {
        "days": args.history_days,
        "per_day": args.per_day,
        "kept": bool(reuse and getattr(args, "no_rebuild", False)),
        "load_end": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--history-days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=4500)
    parser.add_argument("--open", type=int, default=300)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--anchor-runs", type=int, default=5)
    parser.add_argument(
        "--reuse",
        metavar="DATABASE",
        help="an existing database with the history (kept): skips generating it",
    )
    parser.add_argument(
        "--no-rebuild",
        action="store_true",
        help="with --reuse: keep its rollups, roll only the days they lack",
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    out = asyncio.run(run(args, argv))
    text = report(argv, out)
    print(text)
    if not args.no_record:
        with args.results.open("a", encoding="utf-8") as f:
            f.write("\n" + text)
    return 0 if all(out["agree"].values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
