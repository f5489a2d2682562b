"""Benchmark: the hotline's API under load beside a bare FastAPI + SQLAlchemy app, same run.

Two servers, each under uvicorn in a process of its own, over the same seeded database:

- **hotline**: the service's app as ``hotline1022.service`` builds it (``api.app.create_app``
  plus ``web.create_pages``, the dispatch service for outcomes), with fakes only for the PBX
  ports (the live queues are a fixed snapshot of ``--queues`` queues);
- **bare**: a FastAPI app written here with SQLAlchemy's async engine and the same tables,
  running the same SQL each endpoint needs and nothing else. Its bearer token is checked
  trivially: compared with the one token it was given (in memory), which also names the agent
  whose calls it may read; no database look-up.

Endpoints, each with the agent's bearer token:

- ``GET /calls/{id}``: the call with its agent's endpoint and its path through the menu (the
  call row, then its ``ivr_events``), ids cycling over ``--read-calls`` seeded calls;
- ``GET /queues``: the live queues (no SQL in either app: the token check and the answer,
  computed per request from the same live snapshot);
- ``POST /calls/{id}/outcome`` (disposition ``advice``, no ``Idempotency-Key``): each request
  a call not recorded yet; the bare app reads the call's agent and inserts the same
  ``call_outcomes`` row (the request's digest computed the same way) in one transaction.

Reads run on SQLite and PostgreSQL, outcomes on PostgreSQL (``--backends``). The client is
this process (plain asyncio sockets, HTTP/1.1 keep-alive, ``--concurrency`` connections each
with one request in flight), not the servers'. Per backend, after a warm-up, ``--rounds``
rounds; in each round every endpoint is loaded ``--seconds`` on one app then the other, the
order alternating between rounds, so the two share the machine's noise. Throughput is the
answered requests over the time they took; p50/p99 are over every request of the rounds.
Beside them, each server process's CPU time per answered request (``/proc/<pid>/stat``, all
its threads; not PostgreSQL's): on a machine shared with other work, the figure that moves
least, since other work slows the answers but not the work each one costs.
Any answer but the expected status is an error (counted, and the bench exits 1).

Printed, and appended with the command to ``bench/results/api.md``:

    .venv/bin/python bench/api_load.py                     # ~2 min
    .venv/bin/python bench/api_load.py --backends sqlite --seconds 1 --rounds 1 --no-record
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import secrets
import shlex
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from simulation.results import append_run  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "api.md"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ENDPOINTS = ("GET /calls/{id}", "GET /queues", "POST /calls/{id}/outcome")
READS = ENDPOINTS[:2]
OUTCOME = ENDPOINTS[2]
APPS = ("hotline", "bare")
OUTCOME_BODY = {"disposition": "advice", "notes": "Hướng dẫn người dân liên hệ trạm y tế phường"}
# The targets: hotline / bare throughput, and hotline's p99 over bare's at most.
TARGETS = {READS[0]: 0.7, READS[1]: 0.7, OUTCOME: 0.5}
P99_TARGET = 2.0


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- the seeded database ----------------------------------------------------------------------


def queue_views(queues: int, agents: int) -> list[Any]:
    """The live queues both apps answer with: ``agents`` agents logged in to every queue."""
    from queues.ports import QueueView

    endpoints = [f"agent{n:02d}" for n in range(1, agents + 1)]
    categories = ("medical", "food", "violation", "general")
    return [
        QueueView(
            name=f"q{n:02d}",
            category=categories[n % 4],
            waiting=n % 5,
            longest_wait_s=float(n * 3 % 50),
            logged_in_agents=endpoints,
            estimated_wait_s=float(n % 7) * 20.0 if n % 3 else None,
            callbacks_pending=n % 2,
        )
        for n in range(1, queues + 1)
    ]


def agent_states(agents: int) -> dict[str, Any]:
    from queues.agent_state import AgentLiveState

    states = ("idle", "on_call", "ringing", "wrapup", "paused")
    return {
        f"agent{n:02d}": AgentLiveState(endpoint=f"agent{n:02d}", state=states[n % 5])
        for n in range(1, agents + 1)
    }


def queue_json(views: Sequence[Any], states: dict[str, Any]) -> list[dict[str, Any]]:
    """What ``GET /queues`` answers, computed the bare way (dicts) for the bare app."""
    out = []
    for view in views:
        by_state: dict[str, int] = {}
        for endpoint in view.logged_in_agents:
            live = states.get(endpoint)
            state = live.state if live is not None else "unknown"
            by_state[state] = by_state.get(state, 0) + 1
        out.append(
            {
                "name": view.name,
                "category": view.category,
                "waiting": view.waiting,
                "longest_wait_s": view.longest_wait_s,
                "logged_in_agents": list(view.logged_in_agents),
                "agents_by_state": by_state,
                "estimated_wait_s": view.estimated_wait_s,
                "callbacks_pending": view.callbacks_pending,
            }
        )
    return out


@dataclass
class Seeded:
    """What the seed made: the agent's token, the calls to read, the calls to record."""

    token: str
    agent_id: int
    user_id: int
    read_ids: list[int]
    outcome_ids: dict[str, list[int]]  # app -> calls without an outcome, its own


async def seed(url: str, *, read_calls: int, outcome_calls: int, steps: int = 6) -> Seeded:
    """Migrate, then an agent with a user and token (``store.users.create_user``), the calls
    to read (each with ``steps`` menu steps) and ``outcome_calls`` calls per app to record."""
    from sqlalchemy import insert, select

    from store.db import Database
    from store.migrate import upgrade_async
    from store.models import Agent, Call, IvrEvent
    from store.users import create_user

    await upgrade_async(url)
    db = Database(url)
    try:
        async with db.session() as session:
            agent = Agent(endpoint="agent01", name="Tổng đài viên 01")
            session.add(agent)
            await session.commit()
            agent_id = agent.id
        user, token = await create_user(db, name="agent 01", role="agent", agent_id=agent_id)
        start = datetime.now(UTC) - timedelta(days=1)
        total = read_calls + 2 * outcome_calls
        rows = []
        for n in range(total):
            at = start + timedelta(seconds=5 * n)
            rows.append(
                {
                    "uniqueid": f"bench.{n}",
                    "linkedid": f"bench.{n}",
                    "caller_number": f"09{n:08d}",
                    "caller_name": "",
                    "arrived_at": at,
                    "queue_entered_at": at + timedelta(seconds=20),
                    "answered_at": at + timedelta(seconds=32),
                    "ended_at": at + timedelta(seconds=200),
                    "ivr_choice": "1",
                    "category": "medical",
                    "priority": 5,
                    "route": "ivr",
                    "queue": "q01",
                    "agent_id": agent_id,
                    "agent_endpoint": "agent01",
                    "status": "answered",
                    "wait_s": 12.0,
                    "talk_s": 168.0,
                    "hangup_cause": "16",
                    "complete": True,
                    "updated_at": at + timedelta(seconds=200),
                    "district_code": 1,
                    "ivr_outcome": "transferred",
                    "ivr_exit_node": "medical",
                    "asterisk_instance": "main",
                }
            )
        kinds = ("enter", "key", "enter", "district", "confirm", "queue")
        events = [
            {
                "call_uniqueid": f"bench.{n}",
                "seq": s,
                "node": ("main", "main", "district", "district", "confirm", "medical")[s % 6],
                "kind": kinds[s % 6],
                "key": "1" if kinds[s % 6] == "key" else None,
                "at": start + timedelta(seconds=5 * n + s),
            }
            for n in range(read_calls)
            for s in range(steps)
        ]
        async with db.session() as session:
            for chunk in range(0, len(rows), 2000):
                await session.execute(insert(Call), rows[chunk : chunk + 2000])
            for chunk in range(0, len(events), 2000):
                await session.execute(insert(IvrEvent), events[chunk : chunk + 2000])
            await session.commit()
            ids = list((await session.scalars(select(Call.id).order_by(Call.id))).all())
    finally:
        await db.dispose()
    pool = ids[read_calls:]
    return Seeded(
        token=token,
        agent_id=agent_id,
        user_id=user.id,
        read_ids=ids[:read_calls],
        outcome_ids={"hotline": pool[:outcome_calls], "bare": pool[outcome_calls:]},
    )


class BareOutcomeIn(BaseModel):
    """The bare app's request body (FastAPI resolves it at module level)."""

    disposition: str
    notes: str = ""


# -- the servers ------------------------------------------------------------------------------


class _FixedQueues:
    def __init__(self, views: list[Any]) -> None:
        self.views = views

    def snapshot(self) -> list[Any]:
        return self.views


class _FixedStates:
    def __init__(self, states: dict[str, Any]) -> None:
        self.states = states

    def snapshot(self) -> dict[str, Any]:
        return self.states


def hotline_app(url: str, queues: int, agents: int) -> Any:
    """The service's app (``Hotline.app``: ``create_app`` + ``create_pages``)."""
    from fastapi import FastAPI

    from api.app import create_app
    from dispatch.incidents import IncidentService
    from hotline1022.heap import freeze_startup_heap
    from store.db import Database
    from web import create_pages

    db = Database(url)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # As ``Hotline.start`` ends: the start-up heap frozen, out of the full collections'
        # walk (``hotline1022/heap.py``; the runs before 2026-12-06 19:30 left it out).
        freeze_startup_heap()
        yield
        await db.dispose()

    app = create_app(
        db=db,
        agents=_FixedQueues([]),  # type: ignore[arg-type]
        queues=_FixedQueues(queue_views(queues, agents)),
        agent_states=_FixedStates(agent_states(agents)),
        ami_status=lambda: {"connected": True},
        incidents=IncidentService(db),
        lifespan=lifespan,
        api_docs=False,
    )
    create_pages(app)
    return app


def bare_app(url: str, token: str, who: tuple[int, int], queues: int, agents: int) -> Any:
    """FastAPI + SQLAlchemy's async engine over the same tables, nothing of the hotline's."""
    from fastapi import FastAPI, Header, HTTPException
    from fastapi.responses import JSONResponse
    from sqlalchemy import insert, select
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from store.models import Agent, Call, CallOutcome, IvrEvent

    agent_id, user_id = who
    engine = create_async_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    calls, agents_t, steps_t = Call.__table__, Agent.__table__, IvrEvent.__table__
    outcomes_t = CallOutcome.__table__
    expected = f"Bearer {token}"
    views, states = queue_views(queues, agents), agent_states(agents)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    def check(authorization: str) -> None:
        if authorization != expected:
            raise HTTPException(401, "bad token")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/calls/{call_id}")
    async def get_call(call_id: int, authorization: str = Header("")) -> Any:
        check(authorization)
        async with sessions() as session:
            row = (
                (
                    await session.execute(
                        select(calls, agents_t.c.endpoint.label("agent"))
                        .outerjoin(agents_t, agents_t.c.id == calls.c.agent_id)
                        .where(calls.c.id == call_id)
                    )
                )
                .mappings()
                .one_or_none()
            )
            if row is None or row["agent_id"] != agent_id:
                raise HTTPException(404, "not found")
            path = (
                await session.execute(
                    select(steps_t.c.at, steps_t.c.node, steps_t.c.kind, steps_t.c.key)
                    .where(steps_t.c.call_uniqueid == row["uniqueid"])
                    .order_by(steps_t.c.seq)
                )
            ).mappings()
            return {**row, "ivr_path": [dict(step) for step in path]}

    @app.get("/queues")
    async def get_queues(authorization: str = Header("")) -> Any:
        check(authorization)
        return queue_json(views, states)

    @app.post("/calls/{call_id}/outcome", status_code=201)
    async def record(call_id: int, body: BareOutcomeIn, authorization: str = Header("")) -> Any:
        check(authorization)
        request = {
            "call_id": call_id,
            "disposition": body.disposition,
            "notes": body.notes,
            "address": "",
            "commune_code": None,
            "category": None,
            "urgency": None,
            "duplicate_of": None,
        }
        digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        async with sessions() as session, session.begin():
            owner = await session.scalar(select(calls.c.agent_id).where(calls.c.id == call_id))
            if owner is None or owner != agent_id:
                raise HTTPException(404, "not found")
            row = (
                (
                    await session.execute(
                        insert(CallOutcome)
                        .values(
                            call_id=call_id,
                            agent_id=owner,
                            recorded_by=user_id,
                            request_hash=digest,
                            disposition=body.disposition,
                            notes=body.notes,
                            address="",
                            created_at=datetime.now(UTC),
                        )
                        .returning(outcomes_t)
                    )
                )
                .mappings()
                .one()
            )
        return JSONResponse({**row, "created_at": row["created_at"].isoformat()}, status_code=201)

    return app


def serve(spec: dict[str, Any]) -> None:
    """The child process: one app under uvicorn (the same settings for both)."""
    import uvicorn

    if spec["app"] == "hotline":
        app = hotline_app(spec["url"], spec["queues"], spec["agents"])
    else:
        app = bare_app(
            spec["url"],
            spec["token"],
            (spec["agent_id"], spec["user_id"]),
            spec["queues"],
            spec["agents"],
        )
    uvicorn.run(app, host="127.0.0.1", port=spec["port"], log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the client -------------------------------------------------------------------------------


@dataclass
class Cell:
    """One endpoint on one app: every request's latency (s), statuses, time under load."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    elapsed_s: float = 0.0
    per_round: list[float] = field(default_factory=list)  # requests/s of each round
    cpu_s: float = 0.0  # the server process's CPU time (all its threads) while loaded

    @property
    def answered(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.answered / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def cpu_ms(self) -> float:
        """The server's CPU per answered request: what other work on the machine changes
        least (it slows the answers, not the work each one takes)."""
        return self.cpu_s * 1000 / self.answered if self.answered else float("nan")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def request_bytes(method: str, path: str, port: int, token: str, body: bytes = b"") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: application/json\r\n"
    )
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise RuntimeError(f"an answer without Content-Length: {head[:200]!r}")


async def load(
    port: int,
    requests: Iterator[bytes],
    *,
    seconds: float,
    concurrency: int,
    expected: int,
    cell: Cell,
    pid: int | None = None,
) -> None:
    """``concurrency`` keep-alive connections, each sending the next request as soon as its
    answer is read, until ``seconds`` have passed or ``requests`` runs out."""
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(concurrency)]
    cpu = process_cpu_s(pid) if pid is not None else 0.0
    started = time.perf_counter()
    deadline = started + seconds
    answered = cell.answered

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while time.perf_counter() < deadline:
            request = next(requests, None)
            if request is None:
                return
            t = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(content_length(head))
            cell.latencies.append(time.perf_counter() - t)
            status = int(head[9:12])
            cell.statuses[status] += 1
            if status != expected:
                cell.errors += 1

    try:
        await asyncio.gather(*(worker(r, w) for r, w in connections))
    finally:
        elapsed = time.perf_counter() - started
        for _, writer in connections:
            writer.close()
    if pid is not None:
        cell.cpu_s += process_cpu_s(pid) - cpu
    cell.elapsed_s += elapsed
    cell.per_round.append((cell.answered - answered) / elapsed)


def requests_for(
    endpoint: str, port: int, seeded: Seeded, app: str, used: dict[str, int]
) -> Iterator[bytes]:
    if endpoint == "GET /queues":
        request = request_bytes("GET", "/queues", port, seeded.token)
        while True:
            yield request
    if endpoint == "GET /calls/{id}":
        ids = seeded.read_ids
        n = 0
        while True:
            yield request_bytes("GET", f"/calls/{ids[n % len(ids)]}", port, seeded.token)
            n += 1
    body = json.dumps(OUTCOME_BODY).encode()
    pool = seeded.outcome_ids[app]
    while used[app] < len(pool):
        call_id = pool[used[app]]
        used[app] += 1
        yield request_bytes("POST", f"/calls/{call_id}/outcome", port, seeded.token, body)


EXPECTED = {READS[0]: 200, READS[1]: 200, OUTCOME: 201}


# -- a run ------------------------------------------------------------------------------------


@dataclass
class Backend:
    name: str
    version: str
    endpoints: tuple[str, ...]
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)
    outcomes_left: dict[str, int] = field(default_factory=dict)


async def wait_until_up(port: int, process: asyncio.subprocess.Process) -> None:
    for _ in range(300):
        if process.returncode is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        with contextlib.suppress(OSError):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            writer.close()
            if head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.1 503"):
                return
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not answer /health in 30 s")


@contextlib.asynccontextmanager
async def servers(
    url: str, seeded: Seeded, args: argparse.Namespace
) -> AsyncIterator[dict[str, tuple[int, int]]]:
    """Both apps, each in its own process; yields app -> (port, process id)."""
    processes: list[asyncio.subprocess.Process] = []
    ports = {}
    try:
        for app in APPS:
            port = free_port()
            spec = {
                "app": app,
                "url": url,
                "port": port,
                "token": seeded.token,
                "agent_id": seeded.agent_id,
                "user_id": seeded.user_id,
                "queues": args.queues,
                "agents": args.agents,
            }
            processes.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    __file__,
                    "--serve",
                    json.dumps(spec),
                    cwd=ROOT,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                )
            )
            ports[app] = port
        for process, port in zip(processes, ports.values(), strict=True):
            await wait_until_up(port, process)
        yield {
            app: (port, process.pid)
            for (app, port), process in zip(ports.items(), processes, strict=True)
        }
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def run_backend(backend: Backend, url: str, args: argparse.Namespace) -> None:
    rate_guess = 1500  # more calls than either app records in a round's seconds
    outcome_calls = (
        int(rate_guess * args.seconds * args.rounds + rate_guess * args.warmup_s) + 100
        if OUTCOME in backend.endpoints
        else 0
    )
    t = time.monotonic()
    seeded = await seed(url, read_calls=args.read_calls, outcome_calls=outcome_calls)
    say(f"{backend.name}: seeded in {time.monotonic() - t:.1f} s")
    used = dict.fromkeys(APPS, 0)
    async with servers(url, seeded, args) as running:
        ports = {app: port for app, (port, _pid) in running.items()}
        for endpoint in backend.endpoints:  # warm-up: not counted
            for app in APPS:
                await load(
                    ports[app],
                    requests_for(endpoint, ports[app], seeded, app, used),
                    seconds=args.warmup_s,
                    concurrency=args.concurrency,
                    expected=EXPECTED[endpoint],
                    cell=Cell(),
                )
        for n in range(args.rounds):
            order = APPS if n % 2 == 0 else APPS[::-1]
            for endpoint in backend.endpoints:
                for app in order:
                    cell = backend.cells.setdefault((endpoint, app), Cell())
                    await load(
                        ports[app],
                        requests_for(endpoint, ports[app], seeded, app, used),
                        seconds=args.seconds,
                        concurrency=args.concurrency,
                        expected=EXPECTED[endpoint],
                        cell=cell,
                        pid=running[app][1],
                    )
                    say(
                        f"  {backend.name} round {n + 1} {endpoint:<26} {app:<7} "
                        f"{cell.per_round[-1]:7.0f} req/s, {cell.cpu_ms:.2f} ms CPU each so far"
                        + (f"; statuses {dict(cell.statuses)}" if cell.errors else "")
                    )
    backend.outcomes_left = {app: len(seeded.outcome_ids[app]) - used[app] for app in APPS}


def pct(values: Sequence[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@contextlib.asynccontextmanager
async def database(backend: str, admin_url: str) -> AsyncIterator[tuple[str, str]]:
    """A fresh database: yields its SQLAlchemy URL and the server's version."""
    if backend == "sqlite":
        import sqlite3

        with tempfile.TemporaryDirectory(prefix="api_load_") as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/bench.db", f"SQLite {sqlite3.sqlite_version}"
        return
    import asyncpg  # type: ignore[import-untyped]

    name = f"i16_api_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url)
    try:
        version = "PostgreSQL " + str(await admin.fetchval("SHOW server_version")).split()[0]
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = admin_url.split("://", 1)[1].rpartition("/")[0]
        try:
            yield f"postgresql+asyncpg://{base}/{name}", version
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def run(args: argparse.Namespace) -> list[Backend]:
    """The whole benchmark; returns what was measured (the test reads it)."""
    done = []
    for name in args.backends.split(","):
        endpoints = ENDPOINTS if name == "postgresql" else READS
        async with database(name, args.admin_url) as (url, version):
            backend = Backend(name, version, endpoints)
            await run_backend(backend, url, args)
            done.append(backend)
    return done


# -- the report -------------------------------------------------------------------------------


def figures(backend: Backend, endpoint: str) -> dict[str, float]:
    """The figures of one endpoint: each app's rate, p50 and p99 (ms), and the ratios."""
    hotline, bare = backend.cells[(endpoint, "hotline")], backend.cells[(endpoint, "bare")]
    out: dict[str, float] = {}
    for app, cell in (("hotline", hotline), ("bare", bare)):
        out[f"{app} rate"] = cell.rate
        out[f"{app} p50"] = pct(cell.latencies, 50) * 1000
        out[f"{app} p99"] = pct(cell.latencies, 99) * 1000
    out["ratio"] = hotline.rate / bare.rate if bare.rate else float("nan")
    rounds = [h / b for h, b in zip(hotline.per_round, bare.per_round, strict=True) if b]
    out["ratio min"] = min(rounds) if rounds else float("nan")
    out["ratio max"] = max(rounds) if rounds else float("nan")
    out["p99 ratio"] = out["hotline p99"] / out["bare p99"] if out["bare p99"] else float("nan")
    out["hotline cpu ms"], out["bare cpu ms"] = hotline.cpu_ms, bare.cpu_ms
    # The throughput one core would give each, compared: bare's CPU per request over the
    # hotline's (the server processes' own CPU; PostgreSQL's backends are not in it).
    out["cpu ratio"] = bare.cpu_ms / hotline.cpu_ms if hotline.cpu_ms else float("nan")
    return out


def report(
    backends: Sequence[Backend], args: argparse.Namespace, argv: Sequence[str], load: str
) -> str:
    now = datetime.now(UTC)
    command = shlex.join([".venv/bin/python", "bench/api_load.py", *argv])
    lines = [
        f"## {now:%Y-%m-%d %H:%M} UTC",
        "",
        f"- command: `{command}`",
        f"- machine: {platform.node()}, {os.cpu_count()} cores; Python "
        f"{platform.python_version()}; "
        + "; ".join(b.version for b in backends)
        + f"; load average at start {load}, at the end "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
        + " (a shared machine: other work ran at the same time)",
        f"- load: {args.concurrency} in flight (keep-alive connections), {args.rounds} rounds × "
        f"{args.seconds:g} s per endpoint and app, order alternating; warm-up {args.warmup_s:g} s; "
        f"reads over {args.read_calls} calls of {6} menu steps; {args.queues} queues × "
        f"{args.agents} agents; one uvicorn process per app",
        "",
        "| backend | endpoint | hotline req/s | p50 ms | p99 ms | bare req/s | p50 ms | p99 ms "
        "| ratio (rounds) | target | p99 ratio (≤ 2) | CPU ms/req hotline / bare (ratio) "
        "| errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---|",
    ]
    for backend in backends:
        for endpoint in backend.endpoints:
            f = figures(backend, endpoint)
            errors = sum(backend.cells[(endpoint, app)].errors for app in APPS)
            target = TARGETS[endpoint]
            met = "met" if f["ratio"] >= target else "NOT met"
            lines.append(
                f"| {backend.name} | `{endpoint}` | {f['hotline rate']:,.0f} | "
                f"{f['hotline p50']:.1f} | {f['hotline p99']:.1f} | {f['bare rate']:,.0f} | "
                f"{f['bare p50']:.1f} | {f['bare p99']:.1f} | **{f['ratio']:.2f}** "
                f"({f['ratio min']:.2f}–{f['ratio max']:.2f}) | ≥ {target} {met} | "
                f"{f['p99 ratio']:.2f} {'met' if f['p99 ratio'] <= P99_TARGET else 'NOT met'} | "
                f"{f['hotline cpu ms']:.2f} / {f['bare cpu ms']:.2f} ({f['cpu ratio']:.2f}) | "
                f"{errors} |"
            )
    return "\n".join(lines) + "\n"


def errors(backends: Sequence[Backend]) -> int:
    return sum(cell.errors for b in backends for cell in b.cells.values())


TITLE = (
    "# The API under load beside a bare FastAPI + SQLAlchemy app\n\n"
    "Each run below was appended by `bench/api_load.py` with the exact command."
)


def record(results: Path, text: str) -> None:
    append_run(results, TITLE, text)
    say(f"recorded in {results}")


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0, help="per endpoint, app, round")
    parser.add_argument("--warmup-s", type=float, default=1.0)
    parser.add_argument("--read-calls", type=int, default=500)
    parser.add_argument("--queues", type=int, default=40)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--no-record", dest="record", action="store_false")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--serve"]:
        serve(json.loads(argv[1]))
        return 0
    args = parse(argv)
    load_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    backends = asyncio.run(run(args))
    text = report(backends, args, argv, load_start)
    print(text)
    if args.record:
        record(Path(args.results), text)
    return 1 if errors(backends) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
