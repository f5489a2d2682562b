"""Benchmark: from Asterisk's ``AgentCalled`` to the screen pop rendered in the agent's browser.

A whole hotline on a real Asterisk, as the real-Asterisk tests and ``hotline1022 simulate``
run it (``simulation.stack.Stack``: a throwaway Asterisk instance, the service in-process, a
throwaway database), with the service's app under uvicorn in this process for the browser.
``--agents`` agents each have a user with a password and a page in Debian's chromium (one
browser, one context per agent) that signs in through the login form, opens ``/console``
and joins the queues with its button, as an agent would. Their softphones are one SIPp
(``SippAgentPool``) that lets each call ring ``--ring-ms`` before answering, then talks
``--talk-ms``. SIPp citizens dial 1022 at ``--rate`` a second and press 1 2 1 (medical, not
life-threatening, Thủ Dầu Một), ``--calls`` in all; each number calls twice, far apart, so
half the pops carry a previous call.

Two timestamps per (agent, call), both on this machine's wall clock:

- the ring: ``received_at`` of the ``AgentCalled`` event, stamped by the service's AMI link
  (``time.time()`` when the line was read off the socket), caught by a listener added here
  to the running service's link;
- the pop: in each page, a ``MutationObserver`` (added with ``add_init_script``: the test
  harness, not the app) on the pop's ``data-uniqueid`` -- the caller's uniqueid the console
  writes when it shows a pop -- noting ``performance.timeOrigin + performance.now()`` when
  the pop is in the DOM, and again in the next animation frame (the frame that paints it).

Each ring is paired with the first later pop of the same call on the same agent's page; a
ring without one is counted as a missing pop. The page's clock is checked against this
process's before the calls (the smallest of a few round trips). Printed: p50, p95 and max
of both latencies and the counts; with ``--record`` appended, with the exact command, to
``bench/results/pop_latency.md``.

    .venv/bin/python bench/pop_latency.py --agents 8 --calls 120 --rate 1 --record
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pbx.events import AgentCalled, AmiEvent  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "pop_latency.md"
CHROMIUM = "/usr/bin/chromium"
GOAL_P95_MS = 500.0
KEYS = "121"  # medical, not life-threatening, Thủ Dầu Một: the agents' medical queue

# In every page, before the console's own script: note when the pop shows a call.
WATCH_POP = """
window.__pops = [];
document.addEventListener("DOMContentLoaded", () => {
  const node = document.getElementById("pop");
  if (!node) return;
  new MutationObserver(() => {
    const uniqueid = node.dataset.uniqueid;
    if (!uniqueid || node.hidden) return;
    const entry = { uniqueid, dom: performance.timeOrigin + performance.now(), frame: null };
    window.__pops.push(entry);
    requestAnimationFrame(() => { entry.frame = performance.timeOrigin + performance.now(); });
  }).observe(node, { attributes: true, attributeFilter: ["data-uniqueid"] });
});
"""


# -- the pure parts: pairing and percentiles ---------------------------------------------------


@dataclass(frozen=True)
class Rung:
    """An ``AgentCalled`` as the service received it."""

    endpoint: str
    uniqueid: str  # the caller's channel
    at: float  # epoch seconds


@dataclass(frozen=True)
class Shown:
    """A pop that an agent's page showed."""

    endpoint: str
    uniqueid: str
    at: float  # epoch seconds: in the DOM
    frame_at: float | None = None  # epoch seconds: the next animation frame


@dataclass
class Pairing:
    pairs: list[tuple[Rung, Shown]] = field(default_factory=list)
    missing: list[Rung] = field(default_factory=list)  # rung, no pop after it
    extra: list[Shown] = field(default_factory=list)  # a pop no ring explains (a re-show)

    def latencies_ms(self, *, frame: bool = False) -> list[float]:
        out = []
        for rung, shown in self.pairs:
            at = shown.frame_at if frame else shown.at
            if at is not None:
                out.append((at - rung.at) * 1000)
        return out


def pair(rungs: Iterable[Rung], shown: Iterable[Shown], *, slack_s: float = 0.0) -> Pairing:
    """Pair each ring with the first pop of the same (agent, call) shown after it (less
    ``slack_s``, for the two clocks' measured disagreement) and not already paired, in
    time order: a call that rings the same agent twice pairs ring by ring."""
    pops: dict[tuple[str, str], list[Shown]] = defaultdict(list)
    for s in sorted(shown, key=lambda s: s.at):
        pops[(s.endpoint, s.uniqueid)].append(s)
    result = Pairing()
    for rung in sorted(rungs, key=lambda r: r.at):
        waiting = pops.get((rung.endpoint, rung.uniqueid), [])
        # Pops of this call from before this ring re-showed an earlier one: extra.
        while waiting and waiting[0].at < rung.at - slack_s:
            result.extra.append(waiting.pop(0))
        if waiting:
            result.pairs.append((rung, waiting.pop(0)))
        else:
            result.missing.append(rung)
    for rest in pops.values():
        result.extra.extend(rest)
    return result


def after_publish_ms(page: Pairing, service: Pairing) -> list[float]:
    """Per ring paired on both sides: from the service publishing its pop to the frame
    that paints it (the event stream, uvicorn, the browser)."""
    published = {(r.endpoint, r.uniqueid, r.at): s.at for r, s in service.pairs}
    out = []
    for rung, shown in page.pairs:
        at = published.get((rung.endpoint, rung.uniqueid, rung.at))
        if at is not None and shown.frame_at is not None:
            out.append((shown.frame_at - at) * 1000)
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between the closest ranks (as numpy's
    default); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def numbers_for(calls: int) -> list[str]:
    """One caller number per call, each number calling twice, half the run apart."""
    distinct = max(1, math.ceil(calls / 2))
    return [f"0906{i % distinct:06d}" for i in range(calls)]


@dataclass
class Figures:
    """What a run measured (``lines`` and ``markdown`` say it)."""

    argv: list[str]
    agents: int
    calls: int
    rate: float
    ring_ms: int
    talk_ms: int
    database: str
    pairing: Pairing  # rings with the pops the pages showed
    service: Pairing | None = None  # rings with the pops the service published
    answered: int = 0
    recorded: int = 0
    failed_citizen_runs: int = 0
    skew_ms: float = 0.0  # the largest |page clock - this process's clock|
    skew_error_ms: float = 0.0  # half the round trip of that measurement
    wall_s: float = 0.0
    load_before: str = ""

    def columns(self) -> list[tuple[str, list[float]]]:
        """(title, latencies in ms) of each column of the table."""
        out = []
        if self.service is not None:
            out.append(("AgentCalled → pop published", self.service.latencies_ms()))
            out.append(("pop published → its frame", after_publish_ms(self.pairing, self.service)))
        out.append(("AgentCalled → pop in the DOM", self.pairing.latencies_ms()))
        out.append(("AgentCalled → its frame", self.pairing.latencies_ms(frame=True)))
        return out

    def table(self) -> list[list[str]]:
        """A header, then p50, p95, max and count of each column."""

        def ms(v: float) -> str:
            return "—" if math.isnan(v) else f"{v:.1f} ms"

        columns = self.columns()
        rows = [["", *(title for title, _ in columns)]]
        for q in (50, 95):
            rows.append([f"p{q}", *(ms(percentile(v, q)) for _, v in columns)])
        rows.append(["max", *(ms(max(v, default=math.nan)) for _, v in columns)])
        rows.append(["count", *(str(len(v)) for _, v in columns)])
        return rows

    @property
    def goal_met(self) -> bool:
        frame = self.pairing.latencies_ms(frame=True)
        return bool(frame) and percentile(frame, 95) < GOAL_P95_MS and not self.pairing.missing

    def counts(self) -> str:
        p = self.pairing
        return (
            f"calls placed {self.calls}, recorded {self.recorded}, answered {self.answered}; "
            f"AgentCalled {len(p.pairs) + len(p.missing)}, paired with a pop {len(p.pairs)}, "
            f"missing pops {len(p.missing)}, pops re-shown {len(p.extra)}; "
            f"SIPp citizen runs failed: {self.failed_citizen_runs}"
        )

    def lines(self) -> list[str]:
        out = [self.counts()]
        table = self.table()
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        out += [
            "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in table
        ]
        verdict = "met" if self.goal_met else "NOT met"
        out.append(f"goal p95 < {GOAL_P95_MS:.0f} ms (to the frame, no pop missing): {verdict}")
        return out

    def markdown(self) -> str:
        header, *body = self.table()
        rows = "".join(f"| {' | '.join(row)} |\n" for row in body)
        verdict = "met" if self.goal_met else "**not met**"
        return (
            f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
            f"- command: `.venv/bin/python bench/pop_latency.py {shlex.join(self.argv)}`\n"
            f"- machine: {platform.node()}, {os.cpu_count()} cores shared with other "
            f"test runs (load average before: {self.load_before}); Python "
            f"{platform.python_version()}\n"
            f"- code: {commit()}\n"
            f"- stack: a throwaway Asterisk, the service in-process ({self.database}), the "
            f"pages from uvicorn in the same process; {self.agents} agents, each a chromium "
            f"page on /console and a phone (one SIPp) ringing {self.ring_ms} ms before it "
            f"answers, then talking {self.talk_ms} ms; citizens at {self.rate}/s pressing "
            f"{' '.join(KEYS)}\n"
            f"- {self.counts()}\n"
            f"- clocks: page vs service at most {self.skew_ms:.1f} ms apart "
            f"(± {self.skew_error_ms:.1f} ms); wall time {self.wall_s:.0f} s\n\n"
            f"| {' | '.join(header)} |\n|---|{'---:|' * (len(header) - 1)}\n"
            f"{rows}\n"
            f"goal p95 < {GOAL_P95_MS:.0f} ms: {verdict}\n\n"
        )


def commit() -> str:
    """The commit the run is on (``+dirty`` with uncommitted changes other than the
    recorded results)."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", ".", ":!bench/results"],
        capture_output=True,
        text=True,
    )
    name = head.stdout.strip() or "unknown"
    return f"{name}+dirty" if dirty.stdout.strip() else name


def record(figures: Figures, path: Path = RESULTS) -> None:
    text = figures.markdown()
    new = not path.exists()
    with path.open("a", encoding="utf-8") as f:
        if new:
            f.write(
                "# The screen pop: from Asterisk's AgentCalled to the agent's browser\n\n"
                "How it is measured: the docstring of `bench/pop_latency.py`. From the "
                "service's AMI link reading `AgentCalled` to the pop in the console's DOM "
                "(a MutationObserver in the page) and to the animation frame after it (the "
                "frame that paints it). It includes the service's work for the pop (the "
                "call's row, the number's previous calls and open incidents), the event "
                "stream, uvicorn, and chromium parsing and rendering -- all on one machine "
                "of 2 cores shared with Asterisk, SIPp, chromium and other test runs.\n\n"
            )
        f.write(text)


# -- the run ------------------------------------------------------------------------------------


class RingRecorder:
    """An AMI listener: every ``AgentCalled`` with the time the service's link read it."""

    def __init__(self) -> None:
        self.rungs: list[Rung] = []

    def on_event(self, ev: AmiEvent) -> None:
        if isinstance(ev, AgentCalled):
            endpoint = ev.member_name or ev.interface.split("/", 1)[-1]
            self.rungs.append(Rung(endpoint, ev.uniqueid, ev.received_at))


class PopTap:
    """Every ``pop`` the service publishes, with the time it did: the bus's ``publish``
    wrapped (the harness's doing; the service is not changed). ``endpoints``: agent id →
    endpoint."""

    def __init__(self, bus: Any, endpoints: dict[int, str]) -> None:
        self.published: list[Shown] = []
        original = bus.publish

        def publish(event_type: str, data: Any, audience: Any) -> None:
            if event_type == "pop":
                at = time.time()
                endpoint = endpoints.get(data["agent_id"], f"agent id {data['agent_id']}")
                self.published.append(Shown(endpoint, str(data["call"]["uniqueid"]), at))
            original(event_type, data, audience)

        bus.publish = publish


class Pages:
    """The service's app under uvicorn in this event loop, on a free loopback port."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        from simulation.stack import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Pages:
        self.task = asyncio.create_task(self.server.serve())
        for _ in range(500):
            if self.server.started:
                return self
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.02)
        raise TimeoutError("uvicorn did not start")

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task


@dataclass
class AgentPage:
    endpoint: str
    page: Any  # playwright Page


async def sign_in_and_join(page: Any, url: str, name: str, password: str) -> None:
    """Sign in through the login form, open the console, join the queues with its button."""
    await page.goto(f"{url}/console")
    await page.get_by_label("Tên đăng nhập").fill(name)
    await page.get_by_label("Mật khẩu").fill(password)
    await page.get_by_role("button", name="Đăng nhập").click()
    await page.wait_for_url(f"{url}/console")
    await page.wait_for_selector('#connection[data-state="ok"]', timeout=30_000)
    await page.locator("#queue-login").click()
    await page.wait_for_selector('#agent-state[data-state="idle"]', timeout=30_000)


async def clock_skew(page: Any, tries: int = 5) -> tuple[float, float]:
    """The page's wall clock minus this process's (ms), from the round trip of
    ``tries`` that was shortest; and half that round trip (ms)."""
    best: tuple[float, float] | None = None
    for _ in range(tries):
        before = time.time()
        seen = float(await page.evaluate("performance.timeOrigin + performance.now()"))
        after = time.time()
        half = (after - before) * 500
        skew = seen - (before + after) * 500
        if best is None or half < best[1]:
            best = (skew, half)
    assert best is not None
    return best


@contextlib.asynccontextmanager
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=args
        )
        try:
            yield launched
        finally:
            await launched.close()


async def run(args: argparse.Namespace, argv: list[str]) -> Figures:
    from sqlalchemy import func, select

    from simulation.citizens import citizen_scenario, run_citizens
    from simulation.sipp import await_runs
    from simulation.stack import Stack, free_udp_tcp_port
    from store.models import Agent, Call, CallStatus
    from store.seed import agent_endpoint
    from store.users import create_user, set_password

    load_before = " ".join(f"{v:.2f}" for v in os.getloadavg())
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hotline-pop-") as tmp:
        async with Stack(
            state_dir=Path(tmp),
            database_url=args.database_url,
            agent_count=max(20, args.agents),
            talk_ms=args.talk_ms,
            # Simulated callers hold: none takes a callback, so none is offered one.
            settings={"callback_threshold_s": -1},
        ) as stack:
            hotline = stack.running
            rings = RingRecorder()
            hotline.link.add_listener(rings.on_event)
            users: list[tuple[str, str, str]] = []  # endpoint, name, password
            endpoints: dict[int, str] = {}
            for i in range(1, args.agents + 1):
                endpoint = agent_endpoint(i)
                async with hotline.db.session() as session:
                    agent_id = await session.scalar(
                        select(Agent.id).where(Agent.endpoint == endpoint)
                    )
                assert agent_id is not None, endpoint
                endpoints[agent_id] = endpoint
                name, password = f"bench-{endpoint}", secrets.token_urlsafe(18)
                user, _ = await create_user(hotline.db, name=name, role="agent", agent_id=agent_id)
                await set_password(hotline.db, user.id, password)
                users.append((endpoint, name, password))
            tap = PopTap(hotline.feed.bus, endpoints)
            await stack.start_agent_pool(
                args.agents,
                talk_ms=args.talk_ms,
                exponential=False,
                login=False,  # each agent joins the queues with the console's button
                ring_ms=args.ring_ms,
            )
            async with Pages(hotline.app()) as pages, browser() as chromium:
                agent_pages: list[AgentPage] = []
                for endpoint, name, password in users:
                    context = await chromium.new_context(locale="vi-VN")
                    await context.add_init_script(WATCH_POP)
                    page = await context.new_page()
                    await sign_in_and_join(page, pages.url, name, password)
                    agent_pages.append(AgentPage(endpoint, page))
                skews = [await clock_skew(p.page) for p in agent_pages]
                worst = max(skews, key=lambda s: abs(s[0]))
                print(
                    f"{len(agent_pages)} consoles signed in and in the queues; page clocks "
                    f"within {abs(worst[0]):.1f} ms (± {worst[1]:.1f}); placing {args.calls} "
                    f"calls at {args.rate}/s",
                    flush=True,
                )
                citizens = run_citizens(
                    citizen_scenario(KEYS),
                    numbers_for(args.calls),
                    server_port=stack.settings.sip_port,
                    local_port=free_udp_tcp_port(),
                    media_port=stack.next_media_port(),
                    rate=args.rate,
                    max_concurrent=max(50, args.calls),
                )
                failed = await await_runs([citizens])
                try:
                    await stack.wait_idle(within_s=60)
                except TimeoutError as exc:
                    print(f"warning: {exc}", flush=True)
                shown: list[Shown] = []
                for p in agent_pages:
                    for entry in await p.page.evaluate("window.__pops"):
                        frame = entry.get("frame")
                        shown.append(
                            Shown(
                                p.endpoint,
                                str(entry["uniqueid"]),
                                float(entry["dom"]) / 1000,
                                None if frame is None else float(frame) / 1000,
                            )
                        )
            async with hotline.db.session() as session:
                recorded = await session.scalar(select(func.count(Call.id))) or 0
                answered = (
                    await session.scalar(
                        select(func.count(Call.id)).where(Call.status == CallStatus.ANSWERED.value)
                    )
                    or 0
                )
    return Figures(
        argv=argv,
        agents=args.agents,
        calls=args.calls,
        rate=args.rate,
        ring_ms=args.ring_ms,
        talk_ms=args.talk_ms,
        database="PostgreSQL" if args.database_url.startswith("postgresql") else "SQLite",
        pairing=pair(rings.rungs, shown, slack_s=(abs(worst[0]) + worst[1]) / 1000),
        service=pair(rings.rungs, tap.published),
        answered=answered,
        recorded=recorded,
        failed_citizen_runs=failed,
        skew_ms=abs(worst[0]),
        skew_error_ms=worst[1],
        wall_s=time.monotonic() - started,
        load_before=load_before,
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--calls", type=int, default=120)
    parser.add_argument("--rate", type=float, default=1.0, help="calls a second")
    parser.add_argument("--ring-ms", type=int, default=1500, help="each phone rings this long")
    parser.add_argument("--talk-ms", type=int, default=2000)
    parser.add_argument("--database-url", default="", help="default: SQLite in the run's dir")
    parser.add_argument("--record", action="store_true", help=f"append to {RESULTS}")
    args = parser.parse_args(argv)
    figures = asyncio.run(run(args, argv))
    for line in figures.lines():
        print(line)
    if args.record:
        record(figures)
        print(f"recorded in {RESULTS}")
    return 0 if figures.pairing.pairs and not figures.pairing.missing else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
