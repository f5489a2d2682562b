"""The live event stream with many viewers on one service process: CPU, memory, latency.

The service is the real app (``api.app.create_app`` with a ``LiveFeed`` on an in-process bus)
under uvicorn in a child process of its own, on a SQLite database made here with one user per
viewer. Inside it, a publisher makes synthetic changes at ``--rate`` a second, a mix like a
busy hour's (per 20: 8 agent states, each for one agent; 6 calls, each for one agent; 4 queue
items, for every agent; 2 incidents, for supervisors and the team) through the same
``bus.publish`` the domain uses; each change carries the time it was published.

This process opens ``--viewers`` streams (``GET /events`` with each viewer's bearer token;
by default 75 % agents, 20 % supervisors, 5 % a team) over plain sockets, reads every
message, and takes each change's latency: the time it was read here minus the time it was
published there (one machine, one clock). After a warm-up, over ``--seconds``, it samples the
child's CPU time (``/proc/<pid>/stat``: user + system) and its resident memory.

Figures: CPU of the service process as its CPU time over the wall time of the window (1.00 is
one core busy), RSS at the end and at its peak, messages delivered a second, and event-to-client
latency p50/p95/max. Printed, and with ``--record`` appended to
``bench/results/events_viewers.md`` with the command that produced them.

    .venv/bin/python bench/events_viewers.py --viewers 200 --rate 50 --seconds 30 --record
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from live.hub import Audience  # noqa: E402
from store.db import Database  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "events_viewers.md"
TICKS = os.sysconf("SC_CLK_TCK")
PYTHON = ".venv/bin/python"


# -- the service (child process) -------------------------------------------------------------


def serve(url: str, port: int, rate: float, agents: int, team_place: str, team_id: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    from api.app import create_app
    from api.live_feed import LiveFeed
    from live.bus import InProcessBus
    from live.hub import EventHub

    class _NoPbx:
        def snapshot(self) -> list[Any]:
            return []

    db = Database(url)
    feed = LiveFeed(
        InProcessBus(EventHub(buffer=2000, queue=500)),
        db,
        agent_states=None,
        queues=_NoPbx(),
    )

    async def publish() -> None:
        rng = random.Random(1022)
        kinds = ["agent"] * 8 + ["call"] * 6 + ["queue"] * 4 + ["incident"] * 2
        period = 1.0 / rate
        next_at = time.monotonic()
        n = 0
        while True:
            n += 1
            kind = kinds[n % len(kinds)]
            agent = rng.randint(1, agents)
            data: dict[str, Any]
            if kind == "agent":
                data = {
                    "agent_id": agent,
                    "endpoint": f"agent{agent:02d}",
                    "name": f"Tổng đài viên {agent}",
                    "state": rng.choice(["idle", "ringing", "on_call", "wrapup", "paused"]),
                    "since": datetime.now(UTC).isoformat(),
                    "reason": None,
                    "call_uniqueid": f"1795316528.{n}",
                    "queues": ["medical", "food-718", "food-724", "general"],
                    "wrapup_until": None,
                    "answered_today": n % 40,
                }
                audience = Audience(agent_ids=frozenset({agent}))
            elif kind == "call":
                data = {
                    "uniqueid": f"1795316528.{n}",
                    "call_id": n,
                    "status": "connected",
                    "caller_number": "0912345678",
                    "caller_name": "Nguyễn Văn An",
                    "arrived_at": datetime.now(UTC).isoformat(),
                    "answered_at": datetime.now(UTC).isoformat(),
                    "ended_at": None,
                    "queue": "medical-718",
                    "category": "medical",
                    "priority": 10,
                    "route": "ivr",
                    "district_code": 718,
                    "district_name": "Thành phố Thủ Dầu Một",
                    "redial": False,
                    "repeat_of": None,
                    "agent_id": agent,
                    "wait_s": 4.2,
                    "talk_s": None,
                }
                audience = Audience(agent_ids=frozenset({agent}))
            elif kind == "queue":
                data = {
                    "name": f"food-{718 + n % 9}",
                    "category": "food",
                    "waiting": n % 7,
                    "longest_wait_s": 12.5,
                    "logged_in_agents": [f"agent{i:02d}" for i in range(1, 21)],
                    "agents_by_state": {"idle": 5, "on_call": 12, "wrapup": 3},
                    "estimated_wait_s": 40.0,
                    "callbacks_pending": 0,
                }
                audience = Audience(agents=True)
            else:
                data = {
                    "id": n,
                    "status": "dispatched",
                    "category": "medical",
                    "urgency": "critical",
                    "commune_code": 25741,
                    "district_code": 718,
                    "team_id": team_id,
                    "team_name": "Tổ phản ứng nhanh",
                    "call_id": n,
                    "address": "15 Yersin, Phường Hiệp Thành",
                    "created_at": datetime.now(UTC).isoformat(),
                    "ack_due_at": datetime.now(UTC).isoformat(),
                }
                audience = Audience(place_paths=(team_place + "99/",), agent_ids=frozenset({agent}))
            data["sent_at"] = time.time()
            feed.bus.publish(kind, data, audience)
            next_at += period
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await feed.start()
        task = asyncio.create_task(publish())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await feed.close()
        await db.dispose()

    app = create_app(
        db=db,
        agents=_NoPbx(),  # type: ignore[arg-type]
        queues=_NoPbx(),
        ami_status=lambda: {"connected": True},
        lifespan=lifespan,
        feed=feed,
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    from hotline1022.service import end_streams_on_exit

    end_streams_on_exit(server, feed.hub)
    asyncio.run(server.serve())


# -- the viewers (this process) --------------------------------------------------------------


@dataclass
class Viewer:
    role: str
    token: str
    agent_id: int | None
    messages: int = 0
    first: str = ""
    latencies: list[float] = field(default_factory=list)
    foreign: int = 0  # another agent's agent or call event (must stay 0)


async def setup(url: str, viewers: int) -> tuple[list[Viewer], str, int]:
    from sqlalchemy import select

    from store.migrate import upgrade_async
    from store.models import Agent, Place, Team
    from store.seed import ensure_agents
    from store.users import create_user

    await upgrade_async(url)
    db = Database(url)
    n_agents = viewers * 3 // 4
    n_team = max(1, viewers // 20)
    n_super = viewers - n_agents - n_team
    await ensure_agents(db, n_agents)
    async with db.session() as s:
        place = Place(level="province", depth=0, code=0, name="Tỉnh", path="/")
        s.add(place)
        await s.flush()
        place.path = f"/{place.id}/"
        team = Team(name="Tổ phản ứng nhanh", kind="team", place_id=place.id)
        s.add(team)
        await s.commit()
        ids = dict((await s.execute(select(Agent.endpoint, Agent.id))).all())
        team_place, team_id = place.path, team.id
    out: list[Viewer] = []
    for i, (_, agent_id) in enumerate(sorted(ids.items())):
        _, token = await create_user(db, name=f"agent {i}", role="agent", agent_id=agent_id)
        out.append(Viewer("agent", token, agent_id))
    for i in range(n_super):
        _, token = await create_user(db, name=f"supervisor {i}", role="supervisor")
        out.append(Viewer("supervisor", token, None))
    for i in range(n_team):
        _, token = await create_user(db, name=f"team {i}", role="team", team_id=team_id)
        out.append(Viewer("team", token, None))
    await db.dispose()
    return out, team_place, team_id


async def watch(port: int, viewer: Viewer, measuring: asyncio.Event, stop: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            f"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {viewer.token}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"GET /events refused: {head[:200]!r}")
    chunked = b"chunked" in head.lower()
    buffer = b""
    try:
        while not stop.is_set():
            if chunked:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.strip() or b"0", 16)
                if size == 0:
                    break  # the service ended the stream
                chunk = await reader.readexactly(size + 2)
                buffer += chunk[:-2]
            else:
                buffer += await reader.read(65536)
            now = time.time()
            while b"\n\n" in buffer:
                raw, buffer = buffer.split(b"\n\n", 1)
                viewer.messages += 1
                lines = raw.split(b"\n")
                event = lines[1][7:].decode() if len(lines) > 1 else ""
                if not viewer.first:
                    viewer.first = event
                if event in ("agent", "call") and viewer.role == "agent":
                    data = json.loads(lines[2][6:])
                    if data.get("agent_id") != viewer.agent_id:
                        viewer.foreign += 1
                if measuring.is_set():
                    at = raw.rfind(b'"sent_at":')
                    if at >= 0:
                        end = raw.find(b"}", at)
                        viewer.latencies.append(now - float(raw[at + 10 : end]))
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def memory_mb(pid: int) -> tuple[float, float]:
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/events.db"
        viewers, team_place, team_id = await setup(url, args.viewers)
        n_agents = sum(v.role == "agent" for v in viewers)
        port = free_port()
        child = subprocess.Popen(  # noqa: ASYNC220 -- started once, before any viewer
            [
                sys.executable,
                __file__,
                "--serve",
                json.dumps([url, port, args.rate, n_agents, team_place, team_id]),
            ]
        )
        try:
            for _ in range(200):
                with contextlib.suppress(OSError):
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                await asyncio.sleep(0.1)
            idle_rss, _ = memory_mb(child.pid)
            measuring, stop = asyncio.Event(), asyncio.Event()
            tasks = [asyncio.create_task(watch(port, v, measuring, stop)) for v in viewers]
            await asyncio.sleep(args.warmup)
            connected = sum(v.messages > 0 for v in viewers)
            before_msgs = sum(v.messages for v in viewers)
            cpu0, wall0 = cpu_s(child.pid), time.monotonic()
            measuring.set()
            await asyncio.sleep(args.seconds)
            cpu1, wall1 = cpu_s(child.pid), time.monotonic()
            measuring.clear()
            rss, peak = memory_mb(child.pid)
            delivered = sum(v.messages for v in viewers) - before_msgs
            # Stopped with every stream still open: uvicorn must not wait for the viewers.
            t0 = time.monotonic()
            child.terminate()
            try:
                await asyncio.to_thread(child.wait, 15)
                stopped = (
                    f"SIGTERM with {len(viewers)} streams open: the service exited in "
                    f"{time.monotonic() - t0:.2f} s"
                )
            except subprocess.TimeoutExpired:
                stopped = "SIGTERM with the streams open: NOT exited within 15 s (killed)"
            stop.set()
            for t in tasks:
                t.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            errors = [
                r
                for r in results
                if isinstance(r, Exception) and not isinstance(r, asyncio.CancelledError)
            ]
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    wall = wall1 - wall0
    latencies = [x * 1000 for v in viewers for x in v.latencies]
    by_role: dict[str, list[Viewer]] = {}
    for v in viewers:
        by_role.setdefault(v.role, []).append(v)
    mix = ", ".join(f"{len(vs)} {role}s" for role, vs in by_role.items())
    per_role = ", ".join(
        f"{role} {statistics.mean(len(v.latencies) for v in vs) / wall:.1f}/s"
        for role, vs in by_role.items()
    )
    firsts = {v.first for v in viewers}
    foreign = sum(v.foreign for v in viewers)
    lines = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"- command: `{shlex.join([PYTHON, 'bench/events_viewers.py', *sys.argv[1:]])}`",
        f"- machine: {os.cpu_count()} cores; load average before {args.load}; "
        f"Python {sys.version.split()[0]}",
        f"- service: one uvicorn process, the app with a LiveFeed on an in-process bus; "
        f"synthetic changes at {args.rate:g}/s (8 agent : 6 call : 4 queue : 2 incident)",
        f"- viewers: {len(viewers)} ({mix}), {connected} connected and reading; first message "
        f"of every stream: {', '.join(sorted(firsts))}; another agent's change seen by an "
        f"agent: {foreign}; client errors: {len(errors)}",
        f"- window: {wall:.1f} s after a {args.warmup:g} s warm-up",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| service CPU (CPU time / wall) | {(cpu1 - cpu0) / wall:.3f} |",
        f"| service RSS idle → with viewers (peak) | {idle_rss:.0f} → {rss:.0f} MB ({peak:.0f}) |",
        f"| messages delivered | {delivered:,} ({delivered / wall:,.0f}/s; "
        f"per viewer: {per_role}) |",
        f"| event-to-client latency p50 | {pct(latencies, 50):.1f} ms |",
        f"| event-to-client latency p95 | {pct(latencies, 95):.1f} ms |",
        f"| event-to-client latency max | {max(latencies, default=float('nan')):.1f} ms |",
        "",
        f"shutdown: {stopped}",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0, help="changes published a second")
    parser.add_argument("--seconds", type=float, default=30.0, help="the measured window")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--record", action="store_true", help=f"append to {RESULTS}")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(*json.loads(args.serve))
        return 0
    args.load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    text = asyncio.run(run(args))
    print(text)
    if args.record:
        new = not RESULTS.exists()
        with RESULTS.open("a", encoding="utf-8") as f:
            if new:
                f.write(
                    "# The event stream: many viewers on one service process\n\n"
                    "How it is measured: the docstring of `bench/events_viewers.py`.\n\n"
                )
            f.write(text + "\n")
        print(f"recorded in {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
