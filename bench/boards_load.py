"""Benchmark: 50 wallboards and 100 incident boards on one service process, during the peak hour.

The peak hour of ``hotline1022 simulate --calls-per-hour 1500`` (``simulation.peak``: a
throwaway Asterisk, SIPp citizens and agents, the service in this process) runs twice in one
invocation with the same seed: first with no screen open (the anchor), then with
``--wallboards`` supervisors' wallboards and ``--boards`` incident boards open on the same
service process. Each run also opens incidents in the province's communes at
``--incidents-per-hour`` (unscaled; by default 30 % of the calls, as ``dispatch_day``), through
the service's own ``IncidentService`` as an agent's outcome does, so that the boards have
something to show; the teams' phones are not called (the simulation has no team phones).

A screen is modelled as what its page opens (until ``/wallboard`` and ``/incidents`` exist):
its first REST reads -- a wallboard ``GET /queues``, ``/agents``, ``/monitoring/incidents``,
``/stats/queues?interval=15m`` (today) and ``/staffing``; an incident board
``/monitoring/incidents`` and ``/monitoring/summary`` -- then one ``GET /events`` stream with
its user's bearer token: a supervisor per wallboard, a user of a district center (the nine
districts in turn) per board. The screens live in a child process of their own (asyncio, plain
sockets for the streams), so the service process's CPU and memory are the service's (and the
simulation's light driver, the same in the anchor).

What is measured:

- event to viewer: the service's hub is wrapped (``EventHub.publish``: the moment a change
  enters the stream, before it is fanned out) to note each change's time; each screen notes
  when each change's frame was read off its socket. One machine, one clock. Per delivery
  (screen × change) p50/p95/p99/max, and per change the time until *every* screen allowed to
  see it had it; a supervisor sees every change, so a wallboard missing one is counted.
- the service process (``/proc/self``): CPU time over the schedule's wall time (1.00 = one
  core busy), resident memory mean and peak (``VmRSS``, ``VmHWM``).
- the AMI event lag as ``simulate`` measures it: from Asterisk's ``Timestamp`` on each event
  to its handling by a listener on the service's AMI link (same event loop as the streams);
  ``simulate``'s own figure, and the bench's listener's apart for the screens' opening and
  for the calls, with the part spent behind the link (read off the socket → handled).

The frames are paired with the changes only once the simulation is over: done in the
service's event loop right away, it would stall the AMI link while the last calls hang up.

Printed, and with ``--record`` appended with the command to ``bench/results/boards_load.md``.

    .venv/bin/python bench/boards_load.py --record                 # ~20 min: time scale 10
    .venv/bin/python bench/boards_load.py --short                  # ~1 min: 2 + 2 screens

Arguments it does not know go to ``hotline1022 simulate`` and override its defaults here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from live.hub import Audience, Viewer  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "boards_load.md"
TICKS = os.sysconf("SC_CLK_TCK")

# As bench/simulate_peak.py, at time scale 10 (the real-time hour does not fit beside CI).
SIM_DEFAULTS = {
    "--calls-per-hour": "1500",
    "--aht": "180",
    "--agents": "auto",
    "--duration": "60m",
    "--warmup": "15",
    "--cooldown": "2",
    "--time-scale": "10",
    "--targets": "90:15,95:20",
}
# --short: the integration test's tiny peak hour.
SIM_SHORT = {
    "--calls-per-hour": "120",
    "--aht": "60",
    "--agents": "3",
    "--duration": "20calls",
    "--warmup": "0",
    "--cooldown": "0",
    "--time-scale": "20",
}

WALLBOARD_READS = (
    "/queues",
    "/agents",
    "/monitoring/incidents",
    "/stats/queues?interval=15m",
    "/staffing",
)
BOARD_READS = ("/monitoring/incidents", "/monitoring/summary")
# Messages for one viewer only (not changes): their id is the newest change's.
NOT_CHANGES = frozenset({"snapshot", "heartbeat", "resync", "ended"})


# -- the pure parts ------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between the closest ranks; NaN for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def sim_args(given: Sequence[str], short: bool) -> list[str]:
    """``simulate``'s arguments: the defaults (``--short``: the tiny ones) unless given."""
    named = {a.split("=", 1)[0] for a in given if a.startswith("--")}
    defaults = {**SIM_DEFAULTS, **SIM_SHORT} if short else SIM_DEFAULTS
    out = ["simulate"]
    for flag, value in defaults.items():
        if flag not in named:
            out += [flag, value]
    return out + list(given)


@dataclass
class Arrivals:
    """What one screen read: its kind (wallboard, board), who it is to the event stream, and
    every change's seq with the time it was read."""

    kind: str
    viewer: Viewer
    seqs: list[int]
    times: list[float]


@dataclass
class Delivery:
    """Event-to-viewer figures of one run (ms)."""

    by_kind: dict[str, list[float]] = field(default_factory=dict)
    to_every: list[float] = field(default_factory=list)  # per change: until its last screen
    changes: int = 0  # published in the window
    expected: int = 0  # (screen, change) pairs the change's audience admits
    missed: int = 0  # of those, never read (must stay 0)
    unknown: int = 0  # frames read whose change was not seen published (must stay 0)


def deliveries(
    published: dict[int, tuple[float, Audience]],
    screens: Iterable[Arrivals],
    since: float,
    until: float,
) -> Delivery:
    """Pair each frame a screen read with its change's publication; only changes published
    in [since, until) count (the streams are all open by then and every frame is in by the
    end). A change its audience admits a screen to and that screen never read is missed."""
    window = {seq: p for seq, p in published.items() if since <= p[0] < until}
    out = Delivery(changes=len(window))
    last: dict[int, float] = {}
    for screen in screens:
        lat = out.by_kind.setdefault(screen.kind, [])
        got: set[int] = set()
        for seq, at in zip(screen.seqs, screen.times, strict=True):
            change = window.get(seq)
            if change is None:
                out.unknown += seq not in published
                continue
            got.add(seq)
            lat.append((at - change[0]) * 1000)
            last[seq] = max(last.get(seq, at), at)
        expected = {seq for seq, (_, aud) in window.items() if aud.admits(screen.viewer)}
        out.expected += len(expected)
        out.missed += len(expected - got)
    out.to_every = [(at - window[seq][0]) * 1000 for seq, at in last.items()]
    return out


def ms(v: float) -> str:
    return "—" if math.isnan(v) else f"{v:.1f} ms"


# -- the screens (a child process) ---------------------------------------------------------------


@dataclass
class Screen:
    kind: str
    token: str
    reads: tuple[str, ...]
    seqs: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    read_ms: list[tuple[str, int, float]] = field(default_factory=list)
    open_ms: float = math.nan  # from the first read to the snapshot
    error: str = ""


async def _read(port: int, screen: Screen) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {screen.token}"}
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60
    ) as client:

        async def one(path: str) -> None:
            t0 = time.monotonic()
            resp = await client.get(path)
            screen.read_ms.append((path, resp.status_code, (time.monotonic() - t0) * 1000))

        await asyncio.gather(*(one(p) for p in screen.reads))


async def _watch(port: int, screen: Screen, ready: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            f"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {screen.token}\r\n"
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
        while True:
            if chunked:
                size = int((await reader.readuntil(b"\r\n")).strip() or b"0", 16)
                if size == 0:
                    return  # the service ended the stream
                buffer += (await reader.readexactly(size + 2))[:-2]
            else:
                data = await reader.read(65536)
                if not data:
                    return
                buffer += data
            now = time.time()
            while b"\n\n" in buffer:
                raw, buffer = buffer.split(b"\n\n", 1)
                if not raw.startswith(b"id: "):
                    continue  # a comment (keep-alive)
                first, second = raw.split(b"\n", 2)[:2]
                event = second[7:].decode()
                if event == "snapshot":
                    ready.set()
                if event in NOT_CHANGES:
                    continue
                screen.seqs.append(int(first[4:].rpartition(b"-")[2]))
                screen.times.append(now)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _screen(port: int, screen: Screen) -> None:
    ready = asyncio.Event()
    t0 = time.monotonic()
    try:
        await _read(port, screen)
        task = asyncio.create_task(_watch(port, screen, ready))
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait({task, waiter}, timeout=120, return_when=asyncio.FIRST_COMPLETED)
        if not ready.is_set():
            waiter.cancel()
            if task.done():
                task.result()
            raise TimeoutError("no snapshot within 120 s")
        screen.open_ms = (time.monotonic() - t0) * 1000
        await task
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        screen.error = f"{type(exc).__name__}: {exc}"


async def run_screens(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The child: open every screen, say ``ready`` once all have their snapshot, keep reading
    until a line on stdin, then return what each read."""
    port = config["port"]
    screens = [Screen(k, t, tuple(r)) for k, t, r in config["screens"]]
    tasks = [asyncio.create_task(_screen(port, s)) for s in screens]
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if all(not math.isnan(s.open_ms) or s.error for s in screens):
            break
        await asyncio.sleep(0.05)
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return [
        {
            "kind": s.kind,
            "seqs": s.seqs,
            "times": s.times,
            "reads": s.read_ms,
            "open_ms": None if math.isnan(s.open_ms) else s.open_ms,
            "error": s.error,
        }
        for s in screens
    ]


# -- the service's side (this process) -----------------------------------------------------------


class PublishTap:
    """The time each change entered the stream: ``EventHub.publish`` wrapped (the harness's
    doing; the service is not changed)."""

    def __init__(self, hub: Any) -> None:
        self.at: dict[int, tuple[float, Audience]] = {}
        self.types: dict[int, str] = {}
        original = hub.publish

        def publish(event_type: str, data: Any, audience: Audience) -> Any:
            at = time.time()
            frame = original(event_type, data, audience)
            self.at[frame.seq] = (at, audience)
            self.types[frame.seq] = event_type
            return frame

        hub.publish = publish


class AmiLag:
    """Per AMI event, as ``simulate`` measures the lag (Asterisk's ``Timestamp`` to a listener
    on the service's link), with when it was handled: so the screens' opening and the calls
    can be told apart, and the link's own reading (``received_at``) from the queue behind it."""

    def __init__(self) -> None:
        self.handled: list[float] = []
        self.lag: list[float] = []  # ms
        self.queued: list[float] = []  # ms from the link reading it to the listener

    def on_event(self, ev: Any) -> None:
        stamp = ev.get("Timestamp")
        if not stamp:
            return
        now = time.time()
        with contextlib.suppress(ValueError):
            self.lag.append((now - float(stamp)) * 1000)
            self.handled.append(now)
            self.queued.append((now - ev.received_at) * 1000)

    def between(self, since: float, until: float) -> tuple[list[float], list[float]]:
        """(lags, queued) of the events handled in [since, until)."""
        idx = [i for i, at in enumerate(self.handled) if since <= at < until]
        return [self.lag[i] for i in idx], [self.queued[i] for i in idx]


class ProcSampler:
    """This process's CPU time and resident memory, once a second."""

    def __init__(self) -> None:
        self.rss_mb: list[float] = []
        self.cpu0 = self.cpu1 = self._cpu()
        self.t0 = self.t1 = time.monotonic()
        self.peak_mb = 0.0
        self.task: asyncio.Task[None] | None = None

    @staticmethod
    def _cpu() -> float:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    @staticmethod
    def _memory() -> tuple[float, float]:
        status = dict(
            line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines()
        )
        return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024

    async def _run(self) -> None:
        while True:
            self.rss_mb.append(self._memory()[0])
            await asyncio.sleep(1.0)

    def start(self) -> None:
        self.cpu0, self.t0 = self._cpu(), time.monotonic()
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self.cpu1, self.t1 = self._cpu(), time.monotonic()
        self.peak_mb = self._memory()[1]
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    @property
    def cores(self) -> float:
        return (self.cpu1 - self.cpu0) / max(1e-9, self.t1 - self.t0)


class IncidentDriver:
    """Opens incidents at Poisson times in random communes, as agents' outcomes would."""

    def __init__(self, hotline: Any, per_hour_wall: float, seed: int) -> None:
        self.hotline = hotline
        self.per_s = per_hour_wall / 3600
        self.rng = random.Random(seed)
        self.opened = 0
        self.failed = 0
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        from sqlalchemy import select

        from dispatch.ports import SYSTEM
        from store.models import Place

        async with self.hotline.db.session() as s:
            communes = list((await s.scalars(select(Place).where(Place.level == "commune"))).all())
        kinds = [("medical", "critical"), ("medical", "urgent"), ("food", "normal")]
        kinds += [("food", "urgent"), ("violation", "normal")]
        incidents = self.hotline.incidents
        while True:
            await asyncio.sleep(self.rng.expovariate(self.per_s))
            category, urgency = self.rng.choice(kinds)
            place = self.rng.choice(communes)
            try:
                async with self.hotline.db.session() as s:
                    await incidents.open_incident(
                        s,
                        call_id=None,
                        caller_number=f"09{self.rng.randrange(10**8):08d}",
                        category=category,
                        urgency=urgency,
                        place=await s.get(Place, place.id),
                        address=f"{self.rng.randint(1, 300)} đường số {self.opened}",
                        notes="",
                        actor=SYSTEM,
                    )
                    await s.commit()
                    incidents.committed(s)
                self.opened += 1
            except Exception:
                self.failed += 1

    def start(self) -> None:
        if self.per_s > 0:
            self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


@dataclass
class RunFigures:
    """One simulation's figures: the service process, the screens, and simulate's own."""

    wallboards: int
    boards: int
    cores: float = 0.0
    rss_mean_mb: float = 0.0
    rss_peak_mb: float = 0.0
    delivery: Delivery = field(default_factory=Delivery)
    open_ms: list[float] = field(default_factory=list)
    reads: dict[str, list[float]] = field(default_factory=dict)
    bad_reads: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lag_opening: list[float] = field(default_factory=list)  # ms, while the screens open
    lag_calls: list[float] = field(default_factory=list)  # ms, during the calls
    queued_calls: list[float] = field(default_factory=list)  # ms, the part behind the link
    worst_lag_at_s: float = 0.0  # seconds into the calls
    opening_s: float = 0.0
    incidents: int = 0
    changes_by_type: dict[str, int] = field(default_factory=dict)  # in the window
    window_s: float = 0.0
    peak: dict[str, Any] = field(default_factory=dict)  # simulate --json
    rc: int = 0


class Screens:
    """``run_peak``'s ``around``: the app under uvicorn, users, the incident driver, the tap,
    the sampler, and the screens' child process."""

    def __init__(self, figures: RunFigures, incidents_per_hour: float, seed: int, tmp: Path):
        self.figures = figures
        self.incidents_per_hour = incidents_per_hour
        self.seed = seed
        self.tmp = tmp
        self.finish: Callable[[], None] | None = None

    @contextlib.asynccontextmanager
    async def __call__(self, stack: Any) -> AsyncIterator[None]:
        import uvicorn
        from sqlalchemy import select

        from simulation.stack import free_port
        from store.models import Place, Team
        from store.users import create_user

        hotline = stack.running
        hotline.incidents.escalation.caller = None  # no team phones in a simulation
        tap = PublishTap(hotline.feed.bus.hub)
        f = self.figures
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                hotline.app(),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                access_log=False,
                lifespan="off",
                ws="none",
                timeout_graceful_shutdown=1,
            )
        )
        serving = asyncio.create_task(server.serve())
        await stack.wait_for(lambda: server.started, 30, "uvicorn to start")
        async with hotline.db.session() as s:
            centers = list(
                (
                    await s.execute(
                        select(Team.id, Place.path)
                        .join(Place, Place.id == Team.place_id)
                        .where(Team.kind == "center", Place.level == "district")
                        .order_by(Place.code)
                    )
                ).all()
            )
        screens: list[tuple[str, str, tuple[str, ...]]] = []
        viewers: list[Viewer] = []
        for i in range(f.wallboards):
            _, token = await create_user(hotline.db, name=f"wallboard {i}", role="supervisor")
            screens.append(("wallboard", token, WALLBOARD_READS))
            viewers.append(Viewer("supervisor"))
        for i in range(f.boards):
            team, path = centers[i % len(centers)]
            _, token = await create_user(hotline.db, name=f"board {i}", role="team", team_id=team)
            screens.append(("board", token, BOARD_READS))
            viewers.append(Viewer("team", team_id=team, place_path=path))
        lag = AmiLag()
        hotline.link.add_listener(lag.on_event)
        opened_at = time.time()
        driver = IncidentDriver(hotline, self.incidents_per_hour * self._scale(stack), self.seed)
        sampler = ProcSampler()
        child: subprocess.Popen[str] | None = None
        out = self.tmp / "screens.json"
        try:
            if screens:
                config = self.tmp / "screens-config.json"
                config.write_text(json.dumps({"port": port, "screens": screens, "out": str(out)}))
                child = subprocess.Popen(  # noqa: ASYNC220 -- started once, before the calls
                    [sys.executable, __file__, "--screens-child", str(config)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                assert child.stdout is not None
                line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 240)
                if line.strip() != "ready":
                    raise RuntimeError(f"the screens did not open: {line!r}")
            driver.start()
            sampler.start()
            since = time.time()
            yield
            until = time.time()
        finally:
            await sampler.stop()
            await driver.stop()
            if child is not None:
                assert child.stdin is not None and child.stdout is not None
                if child.poll() is None:
                    await asyncio.sleep(2)  # the last frames reach their screens
                    with contextlib.suppress(BrokenPipeError):
                        child.stdin.write("stop\n")
                        child.stdin.flush()
                    try:
                        await asyncio.to_thread(child.wait, 60)
                    except subprocess.TimeoutExpired:
                        child.kill()
                        child.wait()
                child.stdin.close()
                child.stdout.close()
            server.should_exit = True
            await serving
        f.cores = sampler.cores
        f.rss_mean_mb = sum(sampler.rss_mb) / max(1, len(sampler.rss_mb))
        f.rss_peak_mb = sampler.peak_mb
        f.incidents = driver.opened
        f.window_s = until - since

        # The pairing and figures wait until the simulation is over: parsing millions of
        # frames here would stall the service's event loop (and its AMI link) meanwhile.
        def finish() -> None:
            f.window_s = until - since
            f.opening_s = since - opened_at
            f.lag_opening = lag.between(opened_at, since)[0]
            f.lag_calls, f.queued_calls = lag.between(since, until)
            if f.lag_calls:
                worst = max(
                    range(len(lag.lag)), key=lambda i: lag.lag[i] if lag.handled[i] >= since else -1
                )
                f.worst_lag_at_s = lag.handled[worst] - since
            for seq, (at, _) in tap.at.items():
                if since <= at < until:
                    kind = tap.types[seq]
                    f.changes_by_type[kind] = f.changes_by_type.get(kind, 0) + 1
            if driver.failed:
                f.errors.append(f"incidents not opened: {driver.failed}")
            if screens:
                if not out.exists():
                    raise RuntimeError("the screens' process wrote nothing")
                read = json.loads(out.read_text())
                f.delivery = deliveries(
                    tap.at,
                    [
                        Arrivals(s["kind"], v, s["seqs"], s["times"])
                        for s, v in zip(read, viewers, strict=True)
                    ],
                    since,
                    until,
                )
                for s in read:
                    if s["open_ms"] is not None:
                        f.open_ms.append(s["open_ms"])
                    if s["error"]:
                        f.errors.append(f"{s['kind']}: {s['error']}")
                    for path, code, took in s["reads"]:
                        f.reads.setdefault(path, []).append(took)
                        if code != 200:
                            f.bad_reads.append(f"{path} {code}")

        self.finish = finish

    @staticmethod
    def _scale(stack: Any) -> float:
        return float(getattr(stack, "bench_time_scale", 1.0))


async def one_run(sim: list[str], figures: RunFigures, incidents: float, seed: int) -> None:
    from cli.main import build_parser
    from simulation.peak import run_peak

    with tempfile.TemporaryDirectory(prefix="hotline-boards-") as tmp:
        out = Path(tmp) / "peak.json"
        args = build_parser().parse_args([*sim, "--json", str(out)])
        screens = Screens(figures, incidents, seed, Path(tmp))

        def around(stack: Any) -> contextlib.AbstractAsyncContextManager[None]:
            stack.bench_time_scale = args.time_scale
            return screens(stack)

        figures.rc = await run_peak(args, around=around)
        if screens.finish is not None:
            screens.finish()
        if out.exists():
            figures.peak = json.loads(out.read_text())


# -- what is printed and recorded ----------------------------------------------------------------


def _reads_line(f: RunFigures) -> str:
    return "; ".join(f"{path} p95 {ms(percentile(v, 95))}" for path, v in sorted(f.reads.items()))


def report(
    argv: Sequence[str],
    sim: Sequence[str],
    anchor: RunFigures | None,
    loaded: RunFigures,
    load_before: str,
    wall_s: float,
) -> str:
    runs = ([anchor] if anchor else []) + [loaded]

    def col(f: RunFigures) -> str:
        return (
            f"{f.wallboards} wallboards + {f.boards} boards"
            if f.wallboards + f.boards
            else ("no screen (anchor)")
        )

    def peak(f: RunFigures, key: str, scale: float = 1000) -> str:
        v = f.peak.get(key)
        return "—" if v is None else f"{v * scale:.0f} ms"

    def others(f: RunFigures) -> str:
        cpu = f.peak.get("cpu") or {}
        return "—" if "others_cores" not in cpu else f"{cpu['others_cores']:.2f}"

    def sl(f: RunFigures) -> str:
        m = f.peak.get("measured") or {}
        levels = m.get("service_levels") or {}
        first = next(iter(levels.items()), None)
        asa = m.get("asa_s")
        return (
            "—"
            if first is None
            else f"{first[0]} {first[1]:.1%}, ASA {asa:.1f} s"
            if asa is not None
            else f"{first[0]} {first[1]:.1%}"
        )

    rows = [
        ("service CPU over the schedule (cores)", [f"{f.cores:.3f}" for f in runs]),
        (
            "service RSS mean / peak",
            [f"{f.rss_mean_mb:.0f} / {f.rss_peak_mb:.0f} MB" for f in runs],
        ),
        ("AMI event lag p95 (simulate's figure)", [peak(f, "event_lag_p95_s") for f in runs]),
        ("AMI event lag max (simulate's figure)", [peak(f, "event_lag_max_s") for f in runs]),
        (
            "AMI lag during the calls p50 / p95 / p99",
            [" / ".join(ms(percentile(f.lag_calls, q)) for q in (50, 95, 99)) for f in runs],
        ),
        (
            "AMI lag during the calls: max (when), events over 1 s",
            [
                f"{ms(max(f.lag_calls, default=math.nan))} ({f.worst_lag_at_s:.0f} s in), "
                f"{sum(x > 1000 for x in f.lag_calls)} of {len(f.lag_calls):,}"
                for f in runs
            ],
        ),
        (
            "of it behind the link (read → handled) p95 / max",
            [
                f"{ms(percentile(f.queued_calls, 95))} / "
                f"{ms(max(f.queued_calls, default=math.nan))}"
                for f in runs
            ],
        ),
        (
            "AMI lag while the screens open: max (events)",
            [
                f"{ms(max(f.lag_opening, default=math.nan))} ({len(f.lag_opening)}) "
                f"over {f.opening_s:.1f} s"
                for f in runs
            ],
        ),
        (
            "calls placed / lost",
            [f"{f.peak.get('placed', '—')} / {f.peak.get('lost', '—')}" for f in runs],
        ),
        ("service level, ASA (unscaled)", [sl(f) for f in runs]),
        ("incidents opened", [str(f.incidents) for f in runs]),
        (
            "changes published (by type)",
            [
                ", ".join(f"{k} {v:,}" for k, v in sorted(f.changes_by_type.items())) or "—"
                for f in runs
            ],
        ),
        ("other processes on the machine (cores)", [others(f) for f in runs]),
    ]
    d = loaded.delivery
    wall = d.by_kind.get("wallboard", [])
    board = d.by_kind.get("board", [])
    every = d.to_every
    lines = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"- command: `{shlex.join(['.venv/bin/python', 'bench/boards_load.py', *argv])}` "
        f"(simulation: `hotline1022 {shlex.join(sim)}`), wall time {wall_s / 60:.1f} min",
        f"- machine: {platform.node()}, {os.cpu_count()} cores; load average before "
        f"{load_before}; Python {platform.python_version()}",
        f"- exit codes of the simulations: {', '.join(str(f.rc) for f in runs)}; errors: "
        f"{'; '.join(loaded.errors) or 'none'}; REST reads refused: "
        f"{', '.join(loaded.bad_reads) or 'none'}",
        "",
        "| figure | " + " | ".join(col(f) for f in runs) + " |",
        "|---|" + "---:|" * len(runs),
        *(f"| {name} | {' | '.join(values)} |" for name, values in rows),
        "",
        f"Event to viewer with {col(loaded)}, over {loaded.window_s:.0f} s: {d.changes:,} "
        f"changes published; (screen, change) pairs the changes' audiences admit "
        f"{d.expected:,}, delivered {sum(len(v) for v in d.by_kind.values()):,}, missed "
        f"{d.missed}; frames of unknown changes {d.unknown}",
        "",
        "| from publish to the frame read | p50 | p95 | p99 | max | count |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {name} | {ms(percentile(v, 50))} | {ms(percentile(v, 95))} | "
            f"{ms(percentile(v, 99))} | {ms(max(v, default=math.nan))} | {len(v):,} |"
            for name, v in (
                ("each wallboard", wall),
                ("each incident board", board),
                ("every screen allowed (per change)", every),
            )
        ),
        "",
        f"Opening a screen (its REST reads, then the stream's snapshot), all at once: p50 "
        f"{ms(percentile(loaded.open_ms, 50))}, p95 {ms(percentile(loaded.open_ms, 95))}, max "
        f"{ms(max(loaded.open_ms, default=math.nan))}; reads: {_reads_line(loaded)}",
        "",
    ]
    return "\n".join(lines)


HEADER = """# Wallboards and incident boards on one service process during the peak hour

How it is measured: the docstring of `bench/boards_load.py`. Each section is one invocation:
the same seeded peak hour with no screen (the anchor) and with the screens, one after the
other, on a machine of 2 cores shared with Asterisk, SIPp, the screens' own process and (as
noted) other helpers' test runs.

"""


async def run(args: argparse.Namespace, rest: list[str], argv: list[str]) -> tuple[str, bool]:
    sim = sim_args(rest, args.short)
    if args.incidents_per_hour is None:
        args.incidents_per_hour = 0.3 * float(sim[sim.index("--calls-per-hour") + 1])
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    started = time.monotonic()
    anchor = None
    if not args.no_anchor:
        anchor = RunFigures(0, 0)
        await one_run(sim, anchor, args.incidents_per_hour, args.seed)
    loaded = RunFigures(args.wallboards, args.boards)
    await one_run(sim, loaded, args.incidents_per_hour, args.seed)
    text = report(argv, sim, anchor, loaded, load_before, time.monotonic() - started)
    ok = all(f.rc == 0 for f in (anchor, loaded) if f) and not loaded.errors
    return text, ok


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wallboards", type=int, default=None, help="default 50 (--short: 2)")
    parser.add_argument("--boards", type=int, default=None, help="default 100 (--short: 2)")
    parser.add_argument(
        "--incidents-per-hour", type=float, default=None,
        help="unscaled; default 30 %% of --calls-per-hour",
    )  # fmt: skip
    parser.add_argument("--short", action="store_true", help="a tiny run (a smoke test)")
    parser.add_argument("--no-anchor", action="store_true", help="skip the run with no screen")
    parser.add_argument("--seed", type=int, default=1022)
    parser.add_argument("--record", action="store_true", help=f"append to {RESULTS}")
    parser.add_argument("--screens-child", type=Path, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if args.screens_child:
        config = json.loads(args.screens_child.read_text())
        read = asyncio.run(run_screens(config))
        Path(config["out"]).write_text(json.dumps(read))
        return 0
    if args.wallboards is None:
        args.wallboards = 2 if args.short else 50
    if args.boards is None:
        args.boards = 2 if args.short else 100
    text, ok = asyncio.run(run(args, rest, argv))
    print(text)
    if args.record:
        new = not RESULTS.exists()
        with RESULTS.open("a", encoding="utf-8") as f:
            if new:
                f.write(HEADER)
            f.write(text + "\n")
        print(f"recorded in {RESULTS}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
