"""Benchmark: a day of 15,000 calls' outcomes and incidents replayed through the API into
PostgreSQL, with supervisors watching the monitoring screens meanwhile.

1. Creates a fresh database (``hotline_bench_dispatch_<random>``, dropped at the end),
   migrates it, loads Bình Dương's places and teams as the service does at its first start
   (``dispatch.teams``: 1 province, 9 districts, 91 communes; a center at the province and
   each district, a rapid-response team at every place: 111 teams), and
   ``--history-days`` of closed incidents before the day (SQL, 4,500 a day: a year of them
   by default), so that the monitoring reads a year's table, not an empty one.
2. Makes the day (seeded): ``--calls`` answered calls for ``--agents`` agents over the
   Vietnam day (peak-shaped as in ``bench/stats_queries.py``), and what each agent records:
   30 % incidents (medical 30 %, food 50 %, violation 20 %; urgencies by category) over the
   91 communes (weighted: the cities' communes twice), 3 % of them a caller calling again
   about the same address (the service links it to the open one), 5 % duplicates of an
   open incident, advice 30 %, information 27 %, wrong numbers 3 %, pranks 2 %. Every
   outcome has its own ``Idempotency-Key``; 3 % are sent again after their answer (the same
   response must come back, 200) and 0.5 % twice at once (one 201, one 200).
3. Runs the real app (``api.app.create_app`` with the dispatch service and its escalation
   timers; fakes for the PBX ports only) under uvicorn in its own process on a free port,
   and replays the day compressed into ``--minutes`` (time scale 86,400 s ÷ that): each
   agent posts their call's outcome when the call ends, with httpx at ``--concurrency``;
   each incident's team reads it (``GET /incidents/{id}``), acknowledges, goes en route, on
   scene, resolves (5 % resolve by phone with a reason, skipping steps; 3 % cancel), after
   delays of a real day compressed alike. 4 % of the teams never answer: the incident
   escalates to the district center when its deadline passes (the deadlines are the
   service's, compressed the same way, at least 1 s), and the center takes it over.
   ``--screens`` supervisors poll the monitoring routes in turn, and each district
   center's screen polls its own open incidents every 5 s.
4. Reports requests per second and p50/p95/p99/max latency per kind of request, the
   errors (any status not expected is one; lost races with the escalation timer are
   expected and counted apart), and the rows at the end.

    .venv/bin/python bench/dispatch_day.py                   # ~9 minutes on 2 shared cores
    .venv/bin/python bench/dispatch_day.py --calls 2000 --minutes 1 --history-days 30

Results are printed and appended to ``bench/results/dispatch.md``. The server is
``--admin-url`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import itertools
import json
import math
import os
import platform
import random
import secrets
import shlex
import socket
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the project's packages
    sys.path.insert(0, str(ROOT))

from dispatch.lifecycle import DEFAULT_ACK_DEADLINES_S  # noqa: E402
from dispatch.teams import ensure_places_and_teams  # noqa: E402
from simulation.results import append_run  # noqa: E402
from stats.demand import VIETNAM  # noqa: E402
from store.db import Database  # noqa: E402
from store.migrate import upgrade_async  # noqa: E402
from store.users import hash_token  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "dispatch.md"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PROVINCE = 74
DAY_S = 86_400
# Share of the day's calls per hour of the Vietnam day, 00h … 23h (bench/stats_queries.py).
HOURLY = [
    0.8, 0.5, 0.4, 0.4, 0.5, 1.0, 2.0, 4.0, 7.0, 8.0, 8.0, 7.0,
    6.0, 6.0, 7.0, 7.5, 7.0, 6.0, 5.0, 4.0, 3.0, 2.5, 2.0, 1.5,
]  # fmt: skip
DISPOSITIONS = (
    ("incident", 0.30),
    ("duplicate", 0.05),
    ("advice", 0.30),
    ("information", 0.27),
    ("wrong_number", 0.03),
    ("prank", 0.02),
)
CATEGORIES = (("medical", 0.3), ("food", 0.5), ("violation", 0.2))
URGENCIES = {
    "medical": (("critical", 0.2), ("urgent", 0.5), ("normal", 0.3)),
    "*": (("critical", 0.05), ("urgent", 0.25), ("normal", 0.7)),
}
# The cities of Bình Dương in 2021 (Thủ Dầu Một, Bến Cát, Tân Uyên, Dĩ An, Thuận An): more
# people, more calls.
CITY_DISTRICTS = {718, 721, 723, 724, 725}
REPEAT_CALLER = 0.03  # of the incident calls: the same caller and address again
SILENT_TEAM = 0.04  # of the incidents: the team never acknowledges
BY_PHONE = 0.05  # resolved straight from acknowledged, with a reason
CANCELLED = 0.03
RETRY_AFTER = 0.03  # outcomes sent again after their answer
RETRY_AT_ONCE = 0.005  # outcomes sent twice at the same time
STREETS = (
    "Đại lộ Bình Dương",
    "Cách Mạng Tháng Tám",
    "Nguyễn Văn Tiết",
    "Phú Lợi",
    "Lê Hồng Phong",
    "Trần Hưng Đạo",
    "Nguyễn An Ninh",
    "Mỹ Phước – Tân Vạn",
)


def say(text: str) -> None:
    print(text, flush=True)


def pick(rng: random.Random, weighted: Sequence[tuple[str, float]]) -> str:
    return rng.choices([k for k, _ in weighted], [w for _, w in weighted])[0]


# -- the day ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Commune:
    code: int
    name: str
    district: int
    weight: float


@dataclass(frozen=True)
class TeamPlan:
    """What the team does with its order, in seconds of the real day after the last step."""

    silent: bool  # never acknowledges: the incident escalates
    ack_s: float
    en_route_s: float
    on_scene_s: float
    resolve_s: float
    ending: str  # "resolved", "by_phone" (skips en route and on scene), "cancelled"


@dataclass
class CallPlan:
    n: int  # 0-based, in the order the outcomes are posted
    agent: int  # 1-based
    caller_number: str
    category: str
    arrived_s: float  # seconds after the day's start
    answered_s: float
    ended_s: float
    outcome_s: float  # when the agent posts the outcome (end + wrap-up)
    disposition: str
    commune: int | None = None
    urgency: str | None = None
    address: str = ""
    notes: str = ""
    retry: str = ""  # "", "after", "at_once"
    team: TeamPlan | None = None
    call_id: int = 0  # set once inserted


def province_json() -> dict[str, Any]:
    """Bình Dương as vietnam-provinces has it: districts, and their wards (communes)."""
    import vietnam_provinces

    data = json.loads(Path(vietnam_provinces.NESTED_DIVISIONS_JSON_PATH).read_text("utf-8"))
    province: dict[str, Any] = next(p for p in data if p["code"] == PROVINCE)
    return province


def communes_of_province(province: dict[str, Any]) -> list[Commune]:
    """Bình Dương's communes, weighted (the cities' twice, then ±50 %, seeded)."""
    rng = random.Random(PROVINCE)
    out = []
    for district in province["districts"]:
        for ward in district["wards"]:
            weight = (2.0 if district["code"] in CITY_DISTRICTS else 1.0) * rng.uniform(0.5, 1.5)
            out.append(Commune(ward["code"], ward["name"], district["code"], weight))
    return out


def make_day(
    *, calls: int, agents: int, communes: Sequence[Commune], seed: int = 1022
) -> list[CallPlan]:
    """The day's answered calls and what is recorded of each, in the order of posting."""
    rng = random.Random(seed)
    plans: list[CallPlan] = []
    hours = list(range(24))
    recent_incidents: list[CallPlan] = []
    for n in range(calls):
        hour = rng.choices(hours, HOURLY)[0]
        arrived = hour * 3600 + rng.uniform(0, 3600)
        answered = arrived + 15 + rng.expovariate(1 / 20)
        ended = answered + 60 + rng.expovariate(1 / 120)
        category = pick(rng, CATEGORIES)
        plan = CallPlan(
            n=n,
            agent=rng.randint(1, agents),
            caller_number=f"09{rng.randrange(10**8):08d}",
            category=category,
            arrived_s=arrived,
            answered_s=answered,
            ended_s=ended,
            outcome_s=ended + rng.uniform(5, 30),
            disposition=pick(rng, DISPOSITIONS),
        )
        r = rng.random()
        plan.retry = (
            "after" if r < RETRY_AFTER else "at_once" if r < RETRY_AFTER + RETRY_AT_ONCE else ""
        )
        if plan.disposition == "incident":
            if recent_incidents and rng.random() < REPEAT_CALLER:
                earlier = rng.choice(recent_incidents[-50:])
                plan.caller_number, plan.category = earlier.caller_number, earlier.category
                plan.commune, plan.address = earlier.commune, earlier.address
                plan.urgency = earlier.urgency
            else:
                commune = rng.choices(communes, [c.weight for c in communes])[0]
                plan.commune = commune.code
                plan.address = f"{rng.randint(1, 999)}/{n} {rng.choice(STREETS)}, {commune.name}"
                plan.urgency = pick(rng, URGENCIES.get(category, URGENCIES["*"]))
            plan.notes = "Người dân cần hỗ trợ"
            plan.team = TeamPlan(
                silent=rng.random() < SILENT_TEAM,
                ack_s=math.exp(math.log(60) + 0.9 * rng.gauss(0, 1)),
                en_route_s=30 + rng.expovariate(1 / 90),
                on_scene_s=300 + rng.expovariate(1 / 600),
                resolve_s=600 + rng.expovariate(1 / 1800),
                ending=pick(
                    rng,
                    (
                        ("by_phone", BY_PHONE),
                        ("cancelled", CANCELLED),
                        ("resolved", 1 - BY_PHONE - CANCELLED),
                    ),
                ),
            )
            recent_incidents.append(plan)
        elif plan.disposition in ("advice", "information"):
            plan.notes = "Hướng dẫn cách ly tại nhà" if plan.disposition == "advice" else ""
        plans.append(plan)
    plans.sort(key=lambda p: p.outcome_s)
    for n, plan in enumerate(plans):
        plan.n = n
    return plans


def outcome_body(plan: CallPlan, duplicate_of: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"disposition": plan.disposition, "notes": plan.notes}
    if plan.disposition == "incident":
        body |= {
            "address": plan.address,
            "commune_code": plan.commune,
            "category": plan.category,
            "urgency": plan.urgency,
        }
    if plan.disposition == "duplicate":
        body["duplicate_of"] = duplicate_of
    return body


def scaled_deadlines(scale: float, floor_s: int) -> dict[str, dict[str, int]]:
    """The service's acknowledgment deadlines on the compressed clock, in whole seconds and
    at least ``floor_s``: compressed alone, a medical emergency's 3 minutes would be under a
    second, less than a busy server takes to answer, and every incident would escalate."""
    return {
        category: {u: max(floor_s, round(s / scale)) for u, s in per.items()}
        for category, per in DEFAULT_ACK_DEADLINES_S.items()
    }


# -- the database -----------------------------------------------------------------------------


def dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def sa_url(url: str) -> str:
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@dataclass
class World:
    """What the setup made: ids and tokens the replay needs."""

    commune_ids: dict[int, int] = field(default_factory=dict)  # code → place id
    first_team: dict[int, int] = field(default_factory=dict)  # commune code → team id
    district_of: dict[int, int] = field(default_factory=dict)  # commune code → district code
    team_tokens: dict[int, str] = field(default_factory=dict)  # team id → token
    center_of_district: dict[int, int] = field(default_factory=dict)  # code → center id
    agent_tokens: dict[int, str] = field(default_factory=dict)  # agent number → token
    supervisor_tokens: list[str] = field(default_factory=list)


async def setup(url: str, *, agents: int) -> World:
    """Places and teams as the service loads them at its first start (``dispatch.teams``:
    a center and a team at the province and at each district, a team at each commune),
    agents, and a user with a token for every agent, team and supervisor."""
    world = World()
    db = Database(sa_url(url))
    try:
        await ensure_places_and_teams(db, PROVINCE)
    finally:
        await db.dispose()
    conn = await asyncpg.connect(dsn(url))
    try:
        async with conn.transaction():
            now = datetime.now(UTC)
            await conn.executemany(
                "INSERT INTO agents (endpoint, name, created_at) VALUES ($1, $2, $3)",
                [(f"agent{n:02d}", f"Tổng đài viên {n:02d}", now) for n in range(1, agents + 1)],
            )

            async def user(name: str, role: str, **ids: int | None) -> str:
                token = secrets.token_urlsafe(32)
                user_id = await conn.fetchval(
                    "INSERT INTO users (name, role, agent_id, team_id, active, created_at)"
                    " VALUES ($1, $2, $3, $4, true, $5) RETURNING id",
                    name,
                    role,
                    ids.get("agent_id"),
                    ids.get("team_id"),
                    now,
                )
                await conn.execute(
                    "INSERT INTO api_tokens (user_id, token_hash, label, created_at)"
                    " VALUES ($1, $2, 'bench', $3)",
                    user_id,
                    hash_token(token),
                    now,
                )
                return token

            for row in await conn.fetch("SELECT id, endpoint FROM agents ORDER BY id"):
                number = int(row["endpoint"].removeprefix("agent"))
                world.agent_tokens[number] = await user(
                    f"agent {number}", "agent", agent_id=row["id"]
                )
            teams = await conn.fetch(
                "SELECT t.id, t.kind, p.level, p.code, p.path FROM teams t"
                " JOIN places p ON p.id = t.place_id ORDER BY t.id"
            )
            for team in teams:
                world.team_tokens[team["id"]] = await user(
                    f"team {team['id']}", "team", team_id=team["id"]
                )
                if team["kind"] == "center" and team["level"] == "district":
                    world.center_of_district[team["code"]] = team["id"]
            world.supervisor_tokens = [
                await user(f"supervisor {n}", "supervisor") for n in range(1, 3)
            ]
            places = await conn.fetch("SELECT id, level, code, path, parent_id FROM places")
            by_id = {p["id"]: p for p in places}
            for p in places:
                if p["level"] != "commune":
                    continue
                world.commune_ids[p["code"]] = p["id"]
                world.district_of[p["code"]] = by_id[p["parent_id"]]["code"]
                commune_team = next(
                    t["id"] for t in teams if t["code"] == p["code"] and t["level"] == "commune"
                )
                world.first_team[p["code"]] = commune_team
    finally:
        await conn.close()
    return world


async def insert_calls(url: str, plans: Sequence[CallPlan], day_start: datetime) -> None:
    """The day's answered calls (the rows the outcomes are about); sets each plan's id."""
    conn = await asyncpg.connect(dsn(url))
    try:
        agent_ids = {
            int(r["endpoint"].removeprefix("agent")): r["id"]
            for r in await conn.fetch("SELECT id, endpoint FROM agents")
        }

        def at(s: float) -> datetime:
            return day_start + timedelta(seconds=s)

        rows = [
            (
                f"bench.{p.n}",
                f"bench.{p.n}",
                p.caller_number,
                "",
                at(p.arrived_s),
                at(p.arrived_s + 10),
                at(p.answered_s),
                at(p.ended_s),
                p.category,
                10 if p.category == "medical" else 0,
                "ivr",
                p.category,
                agent_ids[p.agent],
                f"agent{p.agent:02d}",
                "answered",
                p.answered_s - p.arrived_s - 10,
                p.ended_s - p.answered_s,
                True,
                at(p.ended_s),
            )
            for p in plans
        ]
        await conn.copy_records_to_table(
            "calls",
            records=rows,
            columns=[
                "uniqueid",
                "linkedid",
                "caller_number",
                "caller_name",
                "arrived_at",
                "queue_entered_at",
                "answered_at",
                "ended_at",
                "category",
                "priority",
                "route",
                "queue",
                "agent_id",
                "agent_endpoint",
                "status",
                "wait_s",
                "talk_s",
                "complete",
                "updated_at",
            ],
        )
        ids = {
            r["uniqueid"]: r["id"]
            for r in await conn.fetch(
                "SELECT id, uniqueid FROM calls WHERE uniqueid LIKE 'bench.%'"
            )
        }
        for p in plans:
            p.call_id = ids[f"bench.{p.n}"]
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


HISTORY_SQL = """
WITH draw AS (
    SELECT i, random() AS r_hour, random() AS r_sec, random() AS r_c, random() AS r_cat,
           random() AS r_u, random() AS r_ack, random() AS r_res, random() AS r_end
    FROM generate_series(0, $2::int - 1) AS i
), shaped AS (
    SELECT i, r_end,
           $1::timestamptz + (i / $3::int) * interval '1 day'
               + ($4::int[])[1 + floor(r_hour * cardinality($4::int[]))::int] * interval '1 hour'
               + r_sec * interval '1 hour' AS created,
           ($5::int[])[1 + floor(r_c * cardinality($5::int[]))::int] AS c,
           CASE WHEN r_cat < 0.3 THEN 'medical' WHEN r_cat < 0.8 THEN 'food'
                ELSE 'violation' END AS category,
           CASE WHEN r_u < 0.1 THEN 'critical' WHEN r_u < 0.4 THEN 'urgent'
                ELSE 'normal' END AS urgency,
           20 - ln(1 - r_ack) * 90 AS ack,
           600 - ln(1 - r_res) * 2400 AS res
    FROM draw
)
INSERT INTO incidents (caller_number, category, urgency, place_id, place_path, address, notes,
                       status, team_id, escalation, created_at, updated_at, dispatched_at,
                       acknowledged_at, resolved_at, closed_at, ack_due_at, call_attempts,
                       first_team_id, acknowledged_by_team_id, ack_s, resolve_s)
SELECT '09' || lpad((i % 100000000)::text, 8, '0'), category, urgency,
       ($6::int[])[c], ($7::text[])[c], 'lịch sử ' || i, '',
       CASE WHEN r_end < 0.03 THEN 'cancelled' ELSE 'resolved' END,
       CASE WHEN r_end > 0.96 THEN ($9::int[])[c] ELSE ($8::int[])[c] END,
       CASE WHEN r_end > 0.96 THEN 1 ELSE 0 END,
       created, created + res * interval '1 second', created,
       created + ack * interval '1 second',
       CASE WHEN r_end >= 0.03 THEN created + res * interval '1 second' END,
       created + res * interval '1 second',
       created + interval '5 minutes', 1,
       ($8::int[])[c],
       CASE WHEN r_end > 0.96 THEN ($9::int[])[c] ELSE ($8::int[])[c] END,
       ack,
       CASE WHEN r_end >= 0.03 THEN res END
FROM shaped
"""


async def generate_history(
    url: str, world: World, communes: Sequence[Commune], *, days: int, per_day: int, end: datetime
) -> float:
    """Closed incidents on the ``days`` days before ``end``: 3 % cancelled, 4 % taken by the
    district center after an escalation; seconds taken."""
    if days <= 0:
        return 0.0
    t = time.monotonic()
    codes = [c.code for c in communes]
    lookup: list[int] = []  # commune indexes (1-based) repeated by weight
    total = sum(c.weight for c in communes)
    for index, c in enumerate(communes, 1):
        lookup += [index] * max(1, round(2000 * c.weight / total))
    hours: list[int] = []
    for hour, weight in enumerate(HOURLY):
        hours += [hour] * round(1000 * weight / sum(HOURLY))
    conn = await asyncpg.connect(dsn(url))
    try:
        paths = {
            r["code"]: r["path"]
            for r in await conn.fetch("SELECT code, path FROM places WHERE level = 'commune'")
        }
        await conn.execute("SET synchronous_commit = off; SET work_mem = '64MB'")
        await conn.execute(
            HISTORY_SQL,
            end - timedelta(days=days),
            days * per_day,
            per_day,
            hours,
            lookup,
            [world.commune_ids[c] for c in codes],
            [paths[c] for c in codes],
            [world.first_team[c] for c in codes],
            [world.center_of_district[world.district_of[c]] for c in codes],
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return time.monotonic() - t


async def row_counts(url: str, since: datetime) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn(url))
    try:

        async def grouped(sql: str, *args: Any) -> dict[str, int]:
            return {r[0]: r[1] for r in await conn.fetch(sql, *args)}

        return {
            "calls": await conn.fetchval("SELECT count(*) FROM calls"),
            "outcomes": await grouped(
                "SELECT disposition, count(*) FROM call_outcomes GROUP BY 1 ORDER BY 2 DESC"
            ),
            "incidents today": await grouped(
                "SELECT status, count(*) FROM incidents WHERE created_at >= $1"
                " GROUP BY 1 ORDER BY 2 DESC",
                since,
            ),
            "escalated today": await conn.fetchval(
                "SELECT count(*) FROM incidents WHERE created_at >= $1 AND escalation > 0", since
            ),
            "linked calls": await conn.fetchval(
                "SELECT count(*) FROM incident_events WHERE kind = 'linked'"
            ),
            "incidents in all": await conn.fetchval("SELECT count(*) FROM incidents"),
            "incident events": await conn.fetchval("SELECT count(*) FROM incident_events"),
            "median ack_s today": await conn.fetchval(
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ack_s) FROM incidents"
                " WHERE created_at >= $1",
                since,
            ),
        }
    finally:
        await conn.close()


# -- the server -------------------------------------------------------------------------------


class _NoPbx:
    """The dispatch and monitoring routes need no PBX."""

    def snapshot(self) -> list[Any]:
        return []


def serve(url: str, port: int, deadlines: dict[str, dict[str, int]]) -> None:
    """The app under uvicorn, with the dispatch service's timers running (the child process).

    ``HOTLINE_BENCH_PROFILE=<file>`` writes a cProfile of the server there.
    """
    import uvicorn
    from fastapi import FastAPI

    from api.app import create_app
    from dispatch.incidents import IncidentService

    db = Database(url)
    incidents = IncidentService(db, deadlines=deadlines)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(incidents.run(), name="incident-timers")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await db.dispose()

    app = create_app(
        db=db,
        agents=_NoPbx(),  # type: ignore[arg-type]
        queues=_NoPbx(),
        ami_status=lambda: {"connected": True},
        incidents=incidents,
        lifespan=lifespan,
    )
    profile = os.environ.get("HOTLINE_BENCH_PROFILE")
    if not profile:
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        return
    import cProfile
    import signal

    profiler = cProfile.Profile()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    profiler.enable()
    try:
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    finally:
        profiler.disable()
        profiler.dump_stats(profile)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the replay -------------------------------------------------------------------------------


@dataclass
class Kind:
    """The requests of one kind: latencies (ms), statuses, the unexpected ones."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    races: int = 0  # expected refusals: lost to the escalation timer, target closed meanwhile


def pct(values: Sequence[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


class Slots:
    """At most ``n`` requests in flight; when all are taken, the waiter with the lowest
    priority number goes first (then first come).

    A team's next step goes before an agent's outcome: in the field they are different
    people on different connections, and a single queue would make an acknowledgment wait
    behind a backlog of outcomes and miss its deadline for the client's sake, not the
    server's.
    """

    def __init__(self, n: int) -> None:
        self.free = n
        self.waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self.order = itertools.count()

    @contextlib.asynccontextmanager
    async def slot(self, priority: int) -> AsyncIterator[None]:
        if self.free > 0 and not self.waiting:
            self.free -= 1
        else:
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self.waiting, (priority, next(self.order), turn))
            await turn  # the slot is handed over by the request that frees it
        try:
            yield
        finally:
            while self.waiting:
                _, _, turn = heapq.heappop(self.waiting)
                if not turn.cancelled():
                    turn.set_result(None)
                    break
            else:
                self.free += 1


TEAM, AGENT = 0, 1  # priorities for a slot


class Replay:
    """Posts the day's outcomes on schedule and plays each incident's team and center."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        world: World,
        *,
        scale: float,
        concurrency: int,
        deadlines: dict[str, dict[str, int]],
    ) -> None:
        self.client = client
        self.world = world
        self.scale = scale
        self.deadlines = deadlines
        self.slots = Slots(concurrency)
        self.kinds: dict[str, Kind] = defaultdict(Kind)
        self.open_incidents: dict[int, None] = {}  # insertion-ordered set
        self.lag: list[float] = []  # seconds late, per outcome
        self.notes: Counter[str] = Counter()
        self.t0 = 0.0
        self.first_s = 0.0

    async def request(
        self,
        kind: str,
        method: str,
        path: str,
        token: str,
        *,
        expect: Sequence[int] = (200,),
        race: Sequence[int] = (),
        priority: int | None = TEAM,
        due: float | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        limit = self.slots.slot(priority) if priority is not None else contextlib.nullcontext()
        async with limit:
            if callable(kwargs.get("json")):  # filled in when it leaves, not when queued
                kwargs["json"] = kwargs["json"]()
            if due is not None:  # how late the client sends it: the server kept up or not
                self.lag.append(max(0.0, time.monotonic() - due))
            t = time.perf_counter()
            response = await self.client.request(method, path, headers=headers, **kwargs)
            took = (time.perf_counter() - t) * 1000
        k = self.kinds[kind]
        k.latencies.append(took)
        k.statuses[response.status_code] += 1
        if response.status_code in race:
            k.races += 1
        elif response.status_code not in expect:
            k.unexpected.append(f"{method} {path} → {response.status_code} {response.text[:200]}")
        return response

    async def sleep_sim(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.scale)

    async def run(self, plans: Sequence[CallPlan]) -> float:
        """Every call's flow, started when its outcome is due; seconds the replay took."""
        self.t0 = time.monotonic()
        self.first_s = plans[0].outcome_s if plans else 0.0
        flows = []
        for plan in plans:
            due = self.t0 + (plan.outcome_s - self.first_s) / self.scale
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            flows.append(asyncio.create_task(self.call_flow(plan, due)))
        await asyncio.gather(*flows)
        return time.monotonic() - self.t0

    async def call_flow(self, plan: CallPlan, due: float) -> None:
        token = self.world.agent_tokens[plan.agent]
        key = f"bench-{plan.call_id}"
        path = f"/calls/{plan.call_id}/outcome"
        duplicate = plan.disposition == "duplicate"
        body: dict[str, Any] = {}

        def filled_in() -> dict[str, Any]:
            """The body as the agent fills it in when sending (then the same for a retry): a
            duplicate points at one of the incidents open at that moment."""
            if not body:
                duplicate_of = None
                if duplicate and self.open_incidents:
                    newest = list(self.open_incidents)[-50:]
                    duplicate_of = random.Random(plan.n).choice(newest)
                elif duplicate:
                    plan.disposition = "information"  # nothing open to point at yet
                body.update(outcome_body(plan, duplicate_of))
            return body

        async def post(
            kind: str, expect: Sequence[int], race: Sequence[int] = ()
        ) -> httpx.Response:
            return await self.request(
                kind,
                "POST",
                path,
                token,
                json=filled_in,
                headers={"Idempotency-Key": key},
                expect=expect,
                race=race,
                due=due if kind == "outcome" else None,
                priority=AGENT,
            )

        # A duplicate of an incident closed while the request was on its way is refused
        # (422): expected; the agent then records the call as information.
        closed = (422,) if duplicate else ()
        if plan.retry == "at_once":
            first, second = await asyncio.gather(
                post("outcome", (200, 201), closed),
                post("outcome, sent twice at once", (200, 201), closed),
            )
            statuses = sorted((first.status_code, second.status_code))
            if statuses != [422, 422] and (statuses != [200, 201] or first.json() != second.json()):
                self.kinds["outcome, sent twice at once"].unexpected.append(
                    f"{path}: {statuses} {first.text[:120]} / {second.text[:120]}"
                )
            response = first if first.status_code in (200, 201) else second
        else:
            response = await post("outcome", (201,), closed)
            if plan.retry == "after" and response.status_code == 201:
                again = await post("outcome retry (same key)", (200,))
                if again.json() != response.json():
                    self.kinds["outcome retry (same key)"].unexpected.append(
                        f"{path}: the replay answered {again.text[:200]}"
                    )
        if response.status_code == 422 and duplicate:
            self.notes["duplicate of an incident closed meanwhile: recorded as information"] += 1
            plan.disposition, key = "information", f"bench-{plan.call_id}-again"
            body.clear()
            body.update(disposition="information", notes="")
            response = await post("outcome", (201,))
        if response.status_code not in (200, 201):
            return
        out = response.json()
        if out["disposition"] == "duplicate" and plan.disposition == "incident":
            self.notes["incident asked, linked to the open one (same caller or address)"] += 1
        if out["disposition"] != "incident" or plan.team is None:
            return
        await self.incident_flow(plan, out["incident_id"])

    async def incident_flow(self, plan: CallPlan, incident_id: int) -> None:
        assert plan.team is not None and plan.commune is not None
        self.open_incidents[incident_id] = None
        try:
            team_plan = plan.team
            holder = self.world.first_team[plan.commune]
            await self.sleep_sim(team_plan.ack_s * 0.3)
            view = await self.request(
                "incident read", "GET", f"/incidents/{incident_id}", self.world.team_tokens[holder]
            )
            holder = view.json()["team_id"] or holder
            if holder != self.world.first_team[plan.commune] and not team_plan.silent:
                self.notes["read by its team after it had gone up (the client ran behind)"] += 1
            if team_plan.silent:
                first_team = self.world.first_team[plan.commune]
                holder = await self.wait_for_escalation(incident_id, first_team, plan)
                self.notes["team never answered: taken over by the center"] += 1
            else:
                await self.sleep_sim(team_plan.ack_s * 0.7)
            for _ in range(4):  # a takeover may itself be too slow and go up again
                ack = await self.request(
                    "acknowledge",
                    "POST",
                    f"/incidents/{incident_id}/acknowledge",
                    self.world.team_tokens[holder],
                    json={},
                    race=(403, 409),
                )
                if ack.status_code == 200:
                    break
                self.notes["acknowledgment lost to the escalation timer"] += 1
                view = await self.request(
                    "incident read",
                    "GET",
                    f"/incidents/{incident_id}",
                    self.world.supervisor_tokens[0],
                )
                holder = view.json()["team_id"]
            else:
                self.kinds["acknowledge"].unexpected.append(f"incident {incident_id}: never taken")
                return
            token = self.world.team_tokens[holder]

            async def move(status: str, reason: str = "") -> None:
                await self.request(
                    "transition",
                    "POST",
                    f"/incidents/{incident_id}/transitions",
                    token,
                    json={"status": status, "reason": reason},
                )

            if team_plan.ending == "cancelled":
                await self.sleep_sim(team_plan.en_route_s)
                await move("cancelled", "Người dân đã tự đến cơ sở y tế")
                return
            if team_plan.ending == "by_phone":
                await self.sleep_sim(team_plan.en_route_s)
                await move("resolved", "Đã hướng dẫn qua điện thoại")
                return
            await self.sleep_sim(team_plan.en_route_s)
            await move("en_route")
            await self.sleep_sim(team_plan.on_scene_s)
            await move("on_scene")
            await self.sleep_sim(team_plan.resolve_s)
            await move("resolved")
        finally:
            self.open_incidents.pop(incident_id, None)

    async def wait_for_escalation(self, incident_id: int, holder: int, plan: CallPlan) -> int:
        """The center's screen shows the incident once its deadline passed: poll for it (it
        may have gone up already, the read came late)."""
        assert plan.urgency is not None
        per = self.deadlines.get(plan.category) or self.deadlines["*"]
        await asyncio.sleep(per[plan.urgency] / 2)
        for _ in range(240):
            view = await self.request(
                "incident read", "GET", f"/incidents/{incident_id}", self.world.supervisor_tokens[0]
            )
            now_holder = view.json()["team_id"]
            if now_holder != holder:
                return int(now_holder)
            await asyncio.sleep(0.5)
        self.kinds["incident read"].unexpected.append(f"incident {incident_id}: never escalated")
        return holder


def live_queries() -> list[tuple[str, str, dict[str, Any]]]:
    """What a supervisor's wall screens show, refreshed in turn."""
    return [
        ("monitoring: open incidents, page 1", "/monitoring/incidents", {}),
        (
            "monitoring: a district's overdue incidents",
            "/monitoring/incidents",
            {"district_code": 718, "overdue": "true"},
        ),
        ("monitoring: summary per district", "/monitoring/summary", {}),
        ("monitoring: summary of a district", "/monitoring/summary", {"district_code": 724}),
        ("monitoring: teams, today", "/monitoring/teams", {}),
        ("monitoring: districts, today", "/monitoring/districts", {}),
    ]


def report_queries(history_days: int) -> list[tuple[str, str, dict[str, Any]]]:
    """The longer figures a supervisor asks for now and then (not a wall screen)."""
    days = min(366, max(history_days, 1))
    return [
        (
            "monitoring: teams, 30 days",
            "/monitoring/teams",
            {"since": (datetime.now(UTC) - timedelta(days=30)).isoformat()},
        ),
        (
            f"monitoring: districts, {days} days",
            "/monitoring/districts",
            {"since": (datetime.now(UTC) - timedelta(days=days)).isoformat()},
        ),
    ]


def year_of_teams(history_days: int) -> list[tuple[str, str, dict[str, Any]]]:
    """The teams' figures over the longest range: timed alone only, after the replay."""
    days = min(366, max(history_days, 1))
    since = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    return [(f"monitoring: teams, {days} days", "/monitoring/teams", {"since": since})]


async def supervisor_screen(
    replay: Replay, token: str, queries: Sequence[tuple[str, str, dict[str, Any]]], pause: float
) -> None:
    while True:
        for kind, path, params in queries:
            await replay.request(kind, "GET", path, token, params=params, priority=None)
            await asyncio.sleep(pause)


async def center_screen(replay: Replay, token: str) -> None:
    while True:
        await replay.request(
            "team screen: its open incidents",
            "GET",
            "/monitoring/incidents",
            token,
            params={"limit": 20},
            priority=None,
        )
        await asyncio.sleep(5.0)


async def alone(
    replay: Replay, queries: Sequence[tuple[str, str, dict[str, Any], int]]
) -> dict[str, Kind]:
    """Each monitoring route by itself, nothing else running: its own cost at the day's end
    (after 3 warm-up runs: plans cached, pages in memory)."""
    token = replay.world.supervisor_tokens[0]
    during, replay.kinds = replay.kinds, defaultdict(Kind)
    try:
        for kind, path, params, runs in queries:
            for _ in range(3):
                await replay.request("warm-up", "GET", path, token, params=params, priority=None)
            for _ in range(runs):
                await replay.request(kind, "GET", path, token, params=params, priority=None)
        replay.kinds.pop("warm-up")
        return dict(replay.kinds)
    finally:
        replay.kinds = during


# -- the report -------------------------------------------------------------------------------


def report(
    argv: list[str],
    *,
    args: argparse.Namespace,
    version: str,
    load: tuple[str, str],
    setup_s: dict[str, float],
    replay: Replay,
    replay_s: float,
    rows: dict[str, Any],
    deadlines: dict[str, dict[str, int]],
    quiet: dict[str, Kind],
    wall_s: float,
) -> str:
    total = sum(len(k.latencies) for k in replay.kinds.values())
    unexpected = sum(len(k.unexpected) for k in [*replay.kinds.values(), *quiet.values()])
    races = sum(k.races for k in replay.kinds.values())
    scale = DAY_S / (args.minutes * 60)
    median_ack = rows["median ack_s today"]
    lines = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"- command: `{shlex.join(['.venv/bin/python', 'bench/dispatch_day.py', *argv])}`",
        f"- machine: {platform.node()}, {os.cpu_count()} cores; {version}; Python "
        f"{platform.python_version()}; load average at start {load[0]}, at the end {load[1]} "
        "(a shared machine: other work ran too)",
        f"- the day: {args.calls:,} answered calls, {args.agents} agents, replayed in "
        f"{args.minutes:g} min (time scale {scale:.0f}); the service: one uvicorn process, "
        "SQLAlchemy's default pool (5 + 10 overflow); deadlines on the compressed clock "
        + ", ".join(f"{c} {v}" for c, v in deadlines.items()),
        f"- load: httpx at concurrency {args.concurrency} for the replay, plus "
        f"{args.screens} supervisor wall screens (each live view in turn, {args.poll_s:g} s "
        "apart), 9 district centers' screens (their open incidents every 5 s), and the "
        f"30-day and the year's figures asked for every {args.report_every_s:g} s",
        "- setup: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in setup_s.items())
        + f"; history: {args.history_days} days × {args.history_per_day:,} closed incidents",
        f"- replay: {replay_s:.0f} s, **{total:,} requests, {total / replay_s:.0f} per second**; "
        f"outcomes posted late by p99 {pct(replay.lag, 99):.2f} s, "
        f"max {max(replay.lag, default=0):.2f} s "
        "(how far the client fell behind the compressed day)",
        f"- errors: **{unexpected} unexpected**; {races} expected refusals (an acknowledgment "
        "that lost to the escalation timer, a duplicate of an incident closed meanwhile)",
        f"- wall time {wall_s / 60:.1f} min",
        "",
        "| request | count | per s | p50 ms | p95 ms | p99 ms | max ms | statuses |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, k in sorted(
        replay.kinds.items(),
        key=lambda kv: (kv[0].startswith(("monitoring", "team screen")), kv[0]),
    ):
        lines.append(
            f"| {name} | {len(k.latencies):,} | {len(k.latencies) / replay_s:.1f} "
            f"| {pct(k.latencies, 50):.1f} | {pct(k.latencies, 95):.1f} "
            f"| {pct(k.latencies, 99):.1f} | {max(k.latencies):.1f} "
            f"| {', '.join(f'{s}: {n:,}' for s, n in sorted(k.statuses.items()))} |"
        )
    lines += [
        "",
        f"Each monitoring route alone afterwards (one request at a time, {args.runs} runs "
        f"after 3 warm-up runs; the 30-day and the long ones {max(3, args.runs // 3)}), on the "
        "day's incidents and the history:",
        "",
        "| request | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {name} | {pct(k.latencies, 50):.1f} | {pct(k.latencies, 95):.1f} "
            f"| {pct(k.latencies, 99):.1f} | {max(k.latencies):.1f} |"
            for name, k in quiet.items()
        ),
    ]
    lines += [
        "",
        f"- rows at the end: calls {rows['calls']:,}; outcomes "
        + ", ".join(f"{k} {v:,}" for k, v in rows["outcomes"].items())
        + "; incidents of the day "
        + ", ".join(f"{k} {v:,}" for k, v in rows["incidents today"].items())
        + f" (escalated {rows['escalated today']:,}); calls linked to an open incident "
        f"{rows['linked calls']:,}; incidents in all {rows['incidents in all']:,}; incident "
        f"events {rows['incident events']:,}",
        "- "
        + "; ".join(f"{k}: {v:,}" for k, v in sorted(replay.notes.items()))
        + (
            f"; median ack_s of the day {median_ack:.2f} s on the compressed clock (the teams "
            f"were drawn with a median of 60 s of a real day, {60 / scale:.2f} s compressed; "
            "the rest is the requests' own time)"
            if median_ack is not None
            else ""
        ),
        "",
    ]
    if unexpected:
        lines += ["Unexpected answers (first 10):", ""]
        lines += [
            f"- {kind}: {line}"
            for kind, k in [*replay.kinds.items(), *quiet.items()]
            for line in k.unexpected[:10]
        ][:10]
        lines.append("")
    return "\n".join(lines)


# -- main -------------------------------------------------------------------------------------


async def wait_until_up(client: httpx.AsyncClient, server: asyncio.subprocess.Process) -> None:
    for _ in range(300):
        if server.returncode is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if (await client.get("/health")).status_code == 200:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not answer /health in 30 s")


async def run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """The whole benchmark; returns the figures (the test reads them)."""
    started = time.monotonic()
    load_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    name = f"hotline_bench_dispatch_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(dsn(args.admin_url))
    version = "PostgreSQL " + (await admin.fetchval("SHOW server_version")).split()[0]
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = sa_url(with_database(dsn(args.admin_url), name))
    say(f"database {name}")
    scale = DAY_S / (args.minutes * 60)
    deadlines = scaled_deadlines(scale, args.min_deadline_s)
    server: asyncio.subprocess.Process | None = None
    setup_s: dict[str, float] = {}
    try:
        t = time.monotonic()
        await upgrade_async(url)
        province = await asyncio.to_thread(province_json)
        communes = communes_of_province(province)
        world = await setup(url, agents=args.agents)
        setup_s["migrate, places, teams, users"] = time.monotonic() - t
        now = datetime.now(UTC)
        today = datetime.now(VIETNAM).replace(hour=0, minute=0, second=0, microsecond=0)
        setup_s["history"] = await generate_history(
            url, world, communes, days=args.history_days, per_day=args.history_per_day, end=today
        )
        say(f"  history: {args.history_days} days in {setup_s['history']:.0f} s")
        t = time.monotonic()
        plans = make_day(calls=args.calls, agents=args.agents, communes=communes, seed=args.seed)
        await insert_calls(url, plans, today - timedelta(days=1))
        setup_s["the day's calls"] = time.monotonic() - t
        say(f"  {len(plans):,} calls; {sum(p.team is not None for p in plans):,} incidents planned")

        port = free_port()
        server = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve", url, str(port), json.dumps(deadlines), cwd=ROOT
        )
        limits = httpx.Limits(max_connections=args.concurrency + 32, max_keepalive_connections=64)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=120
        ) as client:
            await wait_until_up(client, server)
            replay = Replay(
                client, world, scale=scale, concurrency=args.concurrency, deadlines=deadlines
            )
            queries = live_queries()
            screens = [
                asyncio.create_task(
                    supervisor_screen(
                        replay,
                        replay.world.supervisor_tokens[n % 2],
                        queries[n % len(queries) :] + queries[: n % len(queries)],
                        args.poll_s,
                    )
                )
                for n in range(args.screens)
            ] + [
                asyncio.create_task(center_screen(replay, world.team_tokens[center]))
                for center in world.center_of_district.values()
            ]
            screens.append(
                asyncio.create_task(
                    supervisor_screen(
                        replay,
                        world.supervisor_tokens[1],
                        report_queries(args.history_days),
                        args.report_every_s / 2,
                    )
                )
            )
            say(f"replaying on port {port} …")
            try:
                replay_s = await replay.run(plans)
            finally:
                for task in screens:
                    task.cancel()
                await asyncio.gather(*screens, return_exceptions=True)
            say(f"each monitoring route alone, {args.runs} runs …")
            quiet = await alone(
                replay,
                [(*q, args.runs) for q in queries]
                + [
                    (*q, max(3, args.runs // 3))
                    for q in report_queries(args.history_days) + year_of_teams(args.history_days)
                ],
            )
        rows = await row_counts(url, now)
    finally:
        if server is not None and server.returncode is None:
            server.terminate()
            try:
                await asyncio.wait_for(server.wait(), 10)
            except TimeoutError:
                server.kill()
                await server.wait()
        if args.keep:
            say(f"kept database {name}")
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            say(f"dropped database {name}")
        await admin.close()

    text = report(
        argv,
        args=args,
        version=version,
        load=(load_start, " ".join(f"{x:.2f}" for x in os.getloadavg())),
        setup_s=setup_s,
        replay=replay,
        replay_s=replay_s,
        rows=rows,
        deadlines=deadlines,
        quiet=quiet,
        wall_s=time.monotonic() - started,
    )
    return {
        "rows": rows,
        "kinds": dict(replay.kinds),
        "unexpected": sum(len(k.unexpected) for k in [*replay.kinds.values(), *quiet.values()]),
        "notes": dict(replay.notes),
        "quiet": quiet,
        "report": text,
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["--serve"]:
        serve(argv[1], int(argv[2]), json.loads(argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=15000)
    parser.add_argument("--agents", type=int, default=90)
    parser.add_argument("--minutes", type=float, default=4.0, help="the day replayed in …")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--screens", type=int, default=2, help="supervisor screens polling")
    parser.add_argument("--runs", type=int, default=30, help="runs of each route alone")
    parser.add_argument(
        "--poll-s", type=float, default=0.5, help="pause between a screen's requests"
    )
    parser.add_argument(
        "--min-deadline-s", type=int, default=5, help="shortest acknowledgment deadline"
    )
    parser.add_argument(
        "--report-every-s",
        type=float,
        default=30.0,
        help="how often a supervisor asks for the 30-day and the year's figures",
    )
    parser.add_argument("--history-days", type=int, default=365)
    parser.add_argument("--history-per-day", type=int, default=4500)
    parser.add_argument("--seed", type=int, default=1022)
    parser.add_argument("--admin-url", default=ADMIN_URL, help="a database on the server")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument("--results", default=str(RESULTS), help="the results file")
    parser.add_argument(
        "--no-record", dest="record", action="store_false", help="do not append the results"
    )
    args = parser.parse_args(argv)
    figures = asyncio.run(run(args, argv))
    print()
    print(figures["report"])
    if args.record:
        record(Path(args.results), figures["report"])
    return 1 if figures["unexpected"] else 0


def record(results: Path, text: str) -> None:
    append_run(results, "# Dispatch: a day of outcomes and incidents through the API", text)
    print(f"recorded in {results}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
