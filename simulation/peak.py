"""``hotline1022 simulate --calls-per-hour …``: a peak hour through a throwaway hotline.

Citizens arrive as a Poisson process (``simulation.traffic``) and press the default menu's
paths; as many SIPp agents as asked (or as ``stats.staffing`` recommends) answer and talk for
exponential times; callers with a patience hang up when it runs out before an agent answers.
With ``--time-scale S`` every duration is S times shorter and every figure is reported back
in unscaled seconds. The run then compares what the service recorded (waits from queue
entry) with Erlang C — and Erlang A with a patience — for the same load and agent count,
and checks that every call Asterisk saw has a complete record (``lost`` must be 0).

Who plays what:

- one SIPp places every citizen call at its scheduled millisecond
  (``sipp.run_scheduled_citizens``);
- one SIPp answers for every agent (``sipp.SippAgentPool``): app_queue decides who is free;
- this process runs the service, and plays the callers' patience: SIPp cannot see when an
  agent answers (the IVR answered the call long before), so ``CallWatch`` hangs the caller's
  channel up over AMI when the patience runs out while the caller still waits in a queue.

The run ends when every call has been answered or has left; calls still talking then are
hung up (their talk times count as censored), so a run lasts its schedule plus a few seconds,
not plus the longest exponential talk time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from pbx.ami import AmiLink
from pbx.events import (
    AgentConnect,
    AmiEvent,
    Hangup,
    Newchannel,
    QueueCallerAbandon,
    QueueCallerJoin,
)
from simulation.citizens import ScheduledCall, late_calls, run_scheduled_citizens
from simulation.cpu import CpuSampler, stop
from simulation.peak_figures import fifo_replay, measure
from simulation.peak_plan import PeakPlan, plan_from_args
from simulation.peak_report import PeakResult, call_facts, format_report, p95, predictions
from simulation.simulate import asterisk_calls
from simulation.sipp import MAX_REGISTRATION_S, remove_run
from simulation.stack import Stack, free_udp_tcp_port
from store.models import Call

__all__ = ["CallWatch", "run_peak"]

log = logging.getLogger(__name__)

# SIPp opens 1,000 calls a second, each then waits for its moment; Asterisk, the service and
# SIPp need a moment to settle first.
LEAD_S = 3.0
# After its schedule, how long a run may take for the last callers to be answered.
SETTLE_S = 600.0


class CallWatch:
    """Follows the simulated calls over AMI: which have arrived, which are settled (answered
    or gone), and plays each caller's patience (wall seconds, by caller number)."""

    def __init__(self, link: AmiLink, patience_wall_s: Mapping[str, float | None]) -> None:
        self.link = link
        self.patience = patience_wall_s
        self.uid_number: dict[str, str] = {}
        self.channels: dict[str, str] = {}
        self.connected: set[str] = set()
        self.gone: set[str] = set()
        self.gave_up = 0  # callers hung up by their patience
        self.give_up_failed = 0
        self.max_backlog = 0
        self.lags: list[float] = []  # seconds from Asterisk's event timestamp to handling
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def on_event(self, ev: AmiEvent) -> None:
        stamp = ev.get("Timestamp")
        if stamp:
            with contextlib.suppress(ValueError):
                self.lags.append(time.time() - float(stamp))
        if isinstance(ev, Newchannel):
            if ev.context == "citizens" and ev.caller_id_num in self.patience:
                self.uid_number[ev.uniqueid] = ev.caller_id_num
                backlog = self.link.status().get("event_backlog", 0)  # once a call is enough
                if isinstance(backlog, int):
                    self.max_backlog = max(self.max_backlog, backlog)
            return
        uid = getattr(ev, "uniqueid", "")
        if uid not in self.uid_number:
            return
        if isinstance(ev, QueueCallerJoin):
            self.channels[uid] = ev.channel
            patience = self.patience.get(self.uid_number[uid])
            if patience is not None:
                loop = asyncio.get_running_loop()
                self._timers[uid] = loop.call_later(patience, self._give_up, uid)
        elif isinstance(ev, AgentConnect):
            self.connected.add(uid)
            self._cancel(uid)
        elif isinstance(ev, QueueCallerAbandon):
            self._cancel(uid)
        elif isinstance(ev, Hangup):
            self.gone.add(uid)
            self._cancel(uid)

    def _cancel(self, uid: str) -> None:
        timer = self._timers.pop(uid, None)
        if timer is not None:
            timer.cancel()

    def _give_up(self, uid: str) -> None:
        self._timers.pop(uid, None)
        if uid in self.connected or uid in self.gone:
            return
        self.gave_up += 1
        task = asyncio.create_task(self._hang_up(self.channels[uid]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hang_up(self, channel: str) -> None:
        try:
            await self.link.action("Hangup", {"Channel": channel, "Cause": "16"})
        except Exception as exc:  # the caller may have just been answered or left
            self.give_up_failed += 1
            log.debug("patience hangup of %s: %s", channel, exc)

    def arrived(self) -> int:
        return len(self.uid_number)

    def settled(self, expected: int) -> bool:
        """Every expected call arrived and was answered or has gone."""
        return len(self.uid_number) >= expected and all(
            uid in self.connected or uid in self.gone for uid in self.uid_number
        )


async def run_peak(
    args: argparse.Namespace,
    *,
    around: Callable[[Stack], AbstractAsyncContextManager[object]] | None = None,
    settings: Mapping[str, Any] | None = None,
    agent_audio: Path | None = None,
    after: Callable[[Stack], Awaitable[None]] | None = None,
    plan: PeakPlan | None = None,
) -> int:
    """``around``: what a benchmark runs alongside the calls (e.g. screens watching the
    service): entered once the agents are logged in, before the first call is placed, and
    left when every caller has been answered or has gone. ``settings``: other ``Settings``
    fields for the stack (e.g. ``recording_enabled``); ``agent_audio``: a pcap the agents
    play from the answer on; ``after``: awaited once every call has ended and its record is
    written, before the stack is removed (e.g. to measure the recordings left on disk);
    ``plan``: a plan made elsewhere (``simulation.surge_peak``: the surge simulation's own
    arrivals) instead of the one the peak options make."""
    if plan is None:
        try:
            plan = plan_from_args(args)
        except ValueError as exc:
            print(f"error: {exc}")
            return 2
    print(plan.describe(), flush=True)
    lead = LEAD_S + len(plan.schedule.arrivals) / 1000
    run_s = lead + plan.wall_s + SETTLE_S
    if run_s > MAX_REGISTRATION_S:
        print(
            f"error: the run would take up to {run_s / 60:.0f} min on the clock, longer than an "
            f"agent stays registered ({MAX_REGISTRATION_S / 60:.0f} min): raise --time-scale "
            "or shorten --duration"
        )
        return 2
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hotline-peak-") as tmp:
        async with Stack(
            state_dir=Path(tmp),
            database_url=args.database_url,
            agent_count=max(20, plan.agents),
            wrapup_s=plan.wrapup_wall_s,
            settings=settings,
        ) as stack:
            hotline = stack.running
            pool = await stack.start_agent_pool(
                plan.agents,
                talk_ms=plan.talk_wall_ms,
                exponential=True,
                expires_s=min(MAX_REGISTRATION_S, math.ceil(run_s + 60)),
                seed=plan.seed,
                audio=agent_audio,
            )
            # 80 logins put thousands of QueueMemberAdded events in the service's queue:
            # let it catch up before the first caller, so the run measures calls, not logins.
            await stack.wait_for(
                lambda: hotline.link.status().get("event_backlog") == 0,
                120,
                "the AMI events of the logins to be handled",
            )
            print(f"{plan.agents} agents registered and logged in", flush=True)
            alongside = contextlib.AsyncExitStack()
            if around is not None:
                await alongside.enter_async_context(around(stack))
            watch = CallWatch(
                hotline.link,
                {
                    a.number: None if a.patience_s is None else plan.scale.wall(a.patience_s)
                    for a in plan.schedule.arrivals
                },
            )
            hotline.link.add_listener(watch.on_event)
            start_unix = time.time() + lead
            calls = [
                ScheduledCall(
                    a.number, round((start_unix + plan.scale.wall(a.at_s)) * 1000), a.keys
                )
                for a in plan.schedule.arrivals
            ]
            proc = run_scheduled_citizens(
                calls,
                server_port=stack.settings.sip_port,
                local_port=free_udp_tcp_port(),
                media_port=stack.next_media_port(),
                timeout_s=run_s + 120,
                wait_for_bye_ms=int((run_s + 60) * 1000),
            )
            assert stack.asterisk is not None
            ast_pid = stack.asterisk.pid

            def pids() -> dict[str, list[int]]:
                return {
                    "asterisk": [ast_pid] if ast_pid else [],
                    "sipp citizens": [proc.pid],
                    "sipp agents": [pool.proc.pid] if pool.proc else [],
                    "service (python)": [os.getpid()],
                }

            sampler = CpuSampler(pids)
            cpu_task = asyncio.create_task(sampler.run())
            try:
                end_of_schedule = start_unix + plan.wall_s
                while time.time() < end_of_schedule + 1:
                    if proc.poll() is not None:
                        break
                    await asyncio.sleep(min(5.0, max(0.1, end_of_schedule + 1 - time.time())))
                await stack.wait_for(
                    lambda: watch.settled(len(calls)) or proc.poll() is not None,
                    SETTLE_S,
                    "every caller to be answered or gone",
                )
            finally:
                await stop(cpu_task)
                await alongside.aclose()
            cut_at = time.time()
            if proc.poll() is None:
                try:
                    await hotline.link.action("Hangup", {"Channel": "/^PJSIP\\/pstn-/"})
                except Exception as exc:
                    log.warning("could not hang up the calls still talking: %s", exc)
            try:
                rc: int | None = await asyncio.wait_for(asyncio.to_thread(proc.wait), 120)
            except TimeoutError:
                proc.kill()
                rc = None
            late = late_calls(proc)
            if rc not in (0, None):
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                log.warning("the citizens' SIPp exited %s: %s", rc, err[-800:])
            remove_run(proc)
            try:
                await stack.wait_idle(within_s=60)
            except TimeoutError as exc:
                log.warning("%s", exc)
            if after is not None:
                await after(stack)
            async with hotline.db.session() as session:
                records = list((await session.scalars(select(Call))).all())
            seen = asterisk_calls(stack.asterisk.cdr_csv)
    complete = {c.uniqueid for c in records if c.complete}
    facts = [call_facts(c) for c in records]
    measured = measure(
        plan.schedule,
        facts,
        scale=plan.scale,
        start_unix=start_unix,
        agents=plan.agents,
        targets=plan.targets,
        wrapup_s=plan.wrapup_s,
        cut_at=cut_at,
    )
    replayed = measure(
        plan.schedule,
        fifo_replay(
            plan.schedule,
            facts,
            scale=plan.scale,
            agents=plan.agents,
            talk_s=plan.talk_s,
            wrapup_s=plan.wrapup_s,
            seed=plan.seed,
        ),
        scale=plan.scale,
        start_unix=start_unix,
        agents=plan.agents,
        targets=plan.targets,
        wrapup_s=plan.wrapup_s,
        cut_at=cut_at,
    )
    result = PeakResult(
        plan=plan,
        measured=measured,
        replayed=replayed,
        predictions=predictions(plan, measured),
        placed=len(calls),
        asterisk_saw=len(seen),
        service_recorded=len(records),
        lost=len(seen - complete),
        late=late,
        sipp_exit=rc,
        gave_up=watch.gave_up,
        cpu=sampler.summary(),
        max_event_backlog=watch.max_backlog,
        event_lag_p95_s=p95(watch.lags),
        event_lag_max_s=max(watch.lags, default=0.0),
        wall_s=time.monotonic() - began,
        started_at=started_at,
    )
    m = measured
    latest = max(late.values(), default=0.0)
    print(
        f"placed {result.placed} calls ({len(late)} late, latest by {latest:.0f} ms); "
        f"Asterisk saw {result.asterisk_saw}, service recorded {result.service_recorded}; "
        f"measured window: {m.offered} offered, {m.reached_queue} reached a queue, "
        f"{m.answered} answered, {m.abandoned_queue} abandoned ({m.short_abandons} within 5 s), "
        f"{m.abandoned_ivr} left in the IVR, {m.other} other; patience hang-ups {watch.gave_up}; "
        f"longest wait {m.max_wait_s:.1f} s, p95 {m.p95_wait_s:.1f} s (unscaled); "
        f"{m.waited} waited, {m.on_the_second} of them answered on a whole second of the "
        f"clock (app_queue's 1-s re-check); agents double-booked: {m.double_booked}"
    )
    print(
        result.cpu.line() + f"; AMI events handled {result.event_lag_p95_s * 1000:.0f} ms after "
        f"Asterisk stamped them (p95; max {result.event_lag_max_s * 1000:.0f} ms), backlog "
        f"peaked at {watch.max_backlog}"
    )
    print(format_report(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    print(result.summary_line(), flush=True)
    return 0 if result.lost == 0 else 1
