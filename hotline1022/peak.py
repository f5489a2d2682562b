"""``hotline1022 simulate --calls-per-hour …``: a peak hour through a throwaway hotline.

Citizens arrive as a Poisson process (``hotline1022.traffic``) and press the default menu's
paths; as many SIPp agents as asked (or as ``queues.staffing`` recommends) answer and talk for
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
import platform
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hotline1022.cpu import CpuSampler, CpuSummary, stop
from hotline1022.peak_figures import (
    CallFacts,
    Measured,
    Predicted,
    as_dict,
    by_label,
    fifo_replay,
    measure,
    predict,
)
from hotline1022.simulate import asterisk_calls
from hotline1022.sipp import (
    MAX_REGISTRATION_S,
    ScheduledCall,
    late_calls,
    remove_run,
    run_scheduled_citizens,
)
from hotline1022.stack import Stack, free_udp_tcp_port
from hotline1022.traffic import (
    PEAK_MIX,
    Schedule,
    TimeScale,
    menu_routes,
    parse_duration,
    schedule,
)
from ivr.menu_file import DEFAULT_MENU, load_menu
from pbx.ami import AmiLink
from pbx.events import (
    AgentConnect,
    AmiEvent,
    Hangup,
    Newchannel,
    QueueCallerAbandon,
    QueueCallerJoin,
)
from queues.staffing import Target, agents_for_targets, parse_targets
from store.models import Call

__all__ = ["CallWatch", "PeakPlan", "add_arguments", "plan_from_args", "run_peak"]

log = logging.getLogger(__name__)

DEFAULT_TARGETS = "90:15,95:20"
# SIPp opens 1,000 calls a second, each then waits for its moment; Asterisk, the service and
# SIPp need a moment to settle first.
LEAD_S = 3.0
# After its schedule, how long a run may take for the last callers to be answered.
SETTLE_S = 600.0


@dataclass(frozen=True)
class PeakPlan:
    """Everything a peak run does, decided before it starts. Unscaled unless named wall."""

    calls_per_hour: float
    aht_s: float
    wrapup_s: int
    agents: int
    agents_auto: bool
    max_occupancy: float | None
    patience_s: float | None
    targets: tuple[Target, ...]
    scale: TimeScale
    warmup_s: float
    cooldown_s: float
    seed: int
    schedule: Schedule

    @property
    def talk_s(self) -> float:
        """Mean talk time: AHT is talk + wrap-up."""
        return self.aht_s - self.wrapup_s

    @property
    def talk_wall_ms(self) -> int:
        return round(self.scale.wall(self.talk_s) * 1000)

    @property
    def wrapup_wall_s(self) -> int:
        return round(self.scale.wall(self.wrapup_s))

    @property
    def wall_s(self) -> float:
        """How long the schedule lasts on the run's clock."""
        return self.scale.wall(self.schedule.span_s)

    def describe(self) -> str:
        s = self.scale
        who = (
            f"{self.agents} agents (staffing's pooled Erlang C recommendation for "
            f"{', '.join(t.label for t in self.targets)}, occupancy cap "
            f"{'none' if self.max_occupancy is None else f'{self.max_occupancy:.0%}'})"
            if self.agents_auto
            else f"{self.agents} agents"
        )
        lines = [
            f"Peak: {self.calls_per_hour:g} calls/h, AHT {self.aht_s:g} s (talk "
            f"{self.talk_s:g} s exponential + wrap-up {self.wrapup_s} s), {who}; patience "
            f"{'none' if self.patience_s is None else f'{self.patience_s:g} s exponential'}.",
            f"Schedule: {len(self.schedule.arrivals)} Poisson arrivals over "
            f"{self.schedule.span_s / 60:.1f} min (warm-up {self.warmup_s / 60:g} min, "
            f"measured {len(self.schedule.measured)} calls in "
            f"{(self.schedule.window[1] - self.schedule.window[0]) / 60:.1f} min, cool-down "
            f"{self.cooldown_s / 60:g} min), seed {self.seed}.",
            f"Time scale {s.factor:g}: {s.rate(self.calls_per_hour):.3f} calls/s, mean talk "
            f"{s.wall(self.talk_s):.2f} s, wrap-up {self.wrapup_wall_s} s, SL thresholds "
            + ", ".join(f"{s.wall(t.seconds):.2f} s" for t in self.targets)
            + f"; the schedule takes {self.wall_s / 60:.1f} min on the clock.",
        ]
        return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The peak-mode options of ``hotline1022 simulate``."""
    g = p.add_argument_group("peak mode (Poisson arrivals; chosen by --calls-per-hour)")
    g.add_argument("--calls-per-hour", type=float, default=None, help="offered calls per hour")
    g.add_argument(
        "--duration",
        default="60m",
        help="measured window: simulated minutes (60, 60m) or calls (1500calls); default 60m",
    )
    g.add_argument("--aht", type=float, default=180.0, help="average handle time, seconds")
    g.add_argument(
        "--wrapup", type=int, default=0, help="wrap-up seconds after each call (part of AHT)"
    )
    g.add_argument(
        "--patience", type=float, default=None, help="mean caller patience, seconds (Erlang A)"
    )
    g.add_argument(
        "--time-scale", type=float, default=1.0, help="divide every duration by this factor"
    )
    g.add_argument("--warmup", type=float, default=0.0, help="minutes before the measured window")
    g.add_argument("--cooldown", type=float, default=0.0, help="minutes after it")
    g.add_argument(
        "--targets", default=DEFAULT_TARGETS, help=f"PERCENT:SECONDS,… (default {DEFAULT_TARGETS})"
    )
    g.add_argument(
        "--max-occupancy",
        type=float,
        default=None,
        help="occupancy cap for --agents auto (default: none, targets only)",
    )
    g.add_argument(
        "--seed", type=int, default=1022, help="of the arrivals, paths, patience and talk times"
    )
    g.add_argument("--json", type=Path, default=None, help="also write the figures here")


def plan_from_args(args: argparse.Namespace) -> PeakPlan:
    """The plan, or ValueError saying which option is wrong."""
    if not args.calls_per_hour > 0:
        raise ValueError(f"--calls-per-hour must be more than 0, got {args.calls_per_hour:g}")
    if not args.aht > 0:
        raise ValueError(f"--aht must be more than 0, got {args.aht:g}")
    scale = TimeScale(args.time_scale)
    if not 0 <= args.wrapup < args.aht:
        raise ValueError(f"--wrapup must be 0 or more and less than --aht, got {args.wrapup}")
    if not math.isclose(scale.wall(args.wrapup), round(scale.wall(args.wrapup)), abs_tol=1e-9):
        raise ValueError(
            f"--wrapup {args.wrapup} s at time scale {scale.factor:g} is "
            f"{scale.wall(args.wrapup):g} s: Asterisk's wrapuptime takes whole seconds"
        )
    if args.patience is not None and not args.patience > 0:
        raise ValueError(f"--patience must be more than 0, got {args.patience:g}")
    if args.warmup < 0 or args.cooldown < 0:
        raise ValueError("--warmup and --cooldown must be 0 or more")
    if args.max_occupancy is not None and not 0 < args.max_occupancy <= 1:
        raise ValueError(f"--max-occupancy must be in (0, 1], got {args.max_occupancy:g}")
    targets = parse_targets(args.targets)
    measure_s, measure_calls = parse_duration(args.duration)
    agents_arg = str(args.agents)
    auto = agents_arg == "auto"
    agents = (
        agents_for_targets(targets, args.calls_per_hour, args.aht, max_occupancy=args.max_occupancy)
        if auto
        else int(agents_arg)
    )
    menu = load_menu(DEFAULT_MENU)
    districts = sorted(menu.districts.units) if menu.districts is not None else []
    plan = schedule(
        args.calls_per_hour,
        menu_routes(menu),
        districts,
        mix=PEAK_MIX,
        warmup_s=args.warmup * 60,
        measure_s=measure_s,
        measure_calls=measure_calls,
        cooldown_s=args.cooldown * 60,
        patience_s=args.patience,
        seed=args.seed,
    )
    if not plan.measured:
        raise ValueError("no call arrives in the measured window: lengthen --duration")
    return PeakPlan(
        calls_per_hour=args.calls_per_hour,
        aht_s=args.aht,
        wrapup_s=args.wrapup,
        agents=agents,
        agents_auto=auto,
        max_occupancy=args.max_occupancy,
        patience_s=args.patience,
        targets=targets,
        scale=scale,
        warmup_s=args.warmup * 60,
        cooldown_s=args.cooldown * 60,
        seed=args.seed,
        schedule=plan,
    )


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


@dataclass(frozen=True)
class PeakResult:
    plan: PeakPlan
    measured: Measured
    replayed: Measured  # the same calls through an ideal pooled FIFO queue
    predictions: tuple[Predicted, ...]
    placed: int
    asterisk_saw: int
    service_recorded: int
    lost: int
    late: Mapping[str, float]
    sipp_exit: int | None
    gave_up: int
    cpu: CpuSummary
    max_event_backlog: int
    event_lag_p95_s: float
    event_lag_max_s: float
    wall_s: float
    started_at: str

    def summary_line(self) -> str:
        m = self.measured
        levels = " ".join(f"sl_{t.seconds:g}s={v:.3f}" for t, v in m.service_levels)
        return (
            f"offered={m.offered} answered={m.answered} abandoned={m.abandoned_queue} "
            f"lost={self.lost} {levels} asa_s={m.asa_s:.2f} max_wait_s={m.max_wait_s:.1f}"
        )

    def to_json(self) -> dict[str, Any]:
        p = self.plan
        return {
            "started_at": self.started_at,
            "machine": {
                "node": platform.node(),
                "cores": os.cpu_count(),
                "python": platform.python_version(),
            },
            "plan": {
                "calls_per_hour": p.calls_per_hour,
                "aht_s": p.aht_s,
                "talk_s": p.talk_s,
                "wrapup_s": p.wrapup_s,
                "agents": p.agents,
                "agents_auto": p.agents_auto,
                "max_occupancy": p.max_occupancy,
                "patience_s": p.patience_s,
                "targets": [t.label for t in p.targets],
                "time_scale": p.scale.factor,
                "warmup_s": p.warmup_s,
                "cooldown_s": p.cooldown_s,
                "seed": p.seed,
                "scheduled_calls": len(p.schedule.arrivals),
                "measured_window_s": list(p.schedule.window),
                "wall": {
                    "calls_per_s": p.scale.rate(p.calls_per_hour),
                    "talk_ms": p.talk_wall_ms,
                    "wrapup_s": p.wrapup_wall_s,
                    "patience_s": None if p.patience_s is None else p.scale.wall(p.patience_s),
                    "sl_thresholds_s": [p.scale.wall(t.seconds) for t in p.targets],
                    "schedule_s": p.wall_s,
                },
            },
            "measured": as_dict(self.measured),
            "replayed": as_dict(self.replayed),
            "predictions": [as_dict(x) for x in self.predictions],
            "placed": self.placed,
            "asterisk_saw": self.asterisk_saw,
            "service_recorded": self.service_recorded,
            "lost": self.lost,
            "late_calls": len(self.late),
            "latest_ms": max(self.late.values(), default=0.0),
            "sipp_exit": self.sipp_exit,
            "gave_up": self.gave_up,
            "cpu": asdict(self.cpu),
            "max_event_backlog": self.max_event_backlog,
            "event_lag_p95_s": self.event_lag_p95_s,
            "event_lag_max_s": self.event_lag_max_s,
            "wall_s": self.wall_s,
            "summary": self.summary_line(),
        }


def _p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def _facts(call: Call) -> CallFacts:
    def unix(at: datetime | None) -> float | None:
        if at is None:
            return None
        return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()

    return CallFacts(
        number=call.caller_number,
        status=call.status,
        queue_entered_at=unix(call.queue_entered_at),
        answered_at=unix(call.answered_at),
        ended_at=unix(call.ended_at),
        wait_s=call.wait_s,
        talk_s=call.talk_s,
        complete=call.complete,
        agent=call.agent_endpoint,
    )


def predictions(plan: PeakPlan, measured: Measured) -> tuple[Predicted, ...]:
    """Erlang C (and A, with a patience) for the nominal load, and for the load the run
    actually offered (its arrival rate and talk times, which a finite run draws around
    the nominal ones)."""
    out = [predict("Erlang C, nominal", plan.agents, plan.calls_per_hour, plan.aht_s, plan.targets)]
    if plan.patience_s is not None:
        out.append(
            predict(
                "Erlang A, nominal",
                plan.agents,
                plan.calls_per_hour,
                plan.aht_s,
                plan.targets,
                plan.patience_s,
            )
        )
    if measured.talk_mean_s is not None and measured.calls_per_hour > 0:
        aht = measured.talk_mean_s + plan.wrapup_s
        out.append(
            predict(
                "Erlang C, as offered",
                plan.agents,
                measured.calls_per_hour,
                aht,
                plan.targets,
            )
        )
        if plan.patience_s is not None:
            out.append(
                predict(
                    "Erlang A, as offered",
                    plan.agents,
                    measured.calls_per_hour,
                    aht,
                    plan.targets,
                    plan.patience_s,
                )
            )
    return tuple(out)


def format_report(result: PeakResult) -> str:
    """The comparison table, measured beside each model."""
    m, r = result.measured, result.replayed
    rows: list[tuple[str, str, list[str]]] = []

    def pct(v: float | None) -> str:
        return "—" if v is None or not math.isfinite(v) else f"{v:.1%}"

    def sec(v: float | None) -> str:
        return "—" if v is None or not math.isfinite(v) else f"{v:.1f}"

    def ci(v: float | None, as_pct: bool) -> str:
        if v is None:
            return ""
        return f" ±{v:.1%}" if as_pct else f" ±{v:.1f}"

    preds = result.predictions
    for i, (t, v) in enumerate(m.service_levels):
        rows.append(
            (
                f"SL {t.label}",
                pct(v) + (ci(m.service_level_ci, True) if i == 0 else ""),
                [
                    pct(by_label(r.service_levels).get(t.label)),
                    *[pct(by_label(p.service_levels).get(t.label)) for p in preds],
                ],
            )
        )
    rows.append(
        (
            "ASA s",
            sec(m.asa_s) + ci(m.asa_ci, False),
            [sec(r.asa_s), *[sec(p.asa_s) for p in preds]],
        )
    )
    rows.append(
        (
            "waited > 1 s / P(wait)",
            pct(m.waited_share),
            [pct(r.waited_share), *[pct(p.p_wait) for p in preds]],
        )
    )
    rows.append(
        (
            "abandon rate (> 5 s)",
            pct(m.abandon_rate),
            [pct(r.abandon_rate), *[pct(p.abandon_rate) for p in preds]],
        )
    )
    rows.append(
        ("occupancy", pct(m.occupancy), [pct(r.occupancy), *[pct(p.occupancy) for p in preds]])
    )
    rows.append(
        (
            "calls/h",
            f"{m.calls_per_hour:.0f}",
            [f"{r.calls_per_hour:.0f}", *[f"{p.calls_per_hour:.0f}" for p in preds]],
        )
    )
    aht = None if m.talk_mean_s is None else m.talk_mean_s + result.plan.wrapup_s
    rows.append(("AHT s", sec(aht), [sec(aht), *[sec(p.aht_s) for p in preds]]))
    head = ["figure", "measured", "FIFO replay", *[p.model for p in preds]]
    table = [head, *[[name, measured, *cells] for name, measured, cells in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in table
    )


async def run_peak(args: argparse.Namespace) -> int:
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
        ) as stack:
            hotline = stack.running
            pool = await stack.start_agent_pool(
                plan.agents,
                talk_ms=plan.talk_wall_ms,
                exponential=True,
                expires_s=min(MAX_REGISTRATION_S, math.ceil(run_s + 60)),
                seed=plan.seed,
            )
            # 80 logins put thousands of QueueMemberAdded events in the service's queue:
            # let it catch up before the first caller, so the run measures calls, not logins.
            await stack.wait_for(
                lambda: hotline.link.status().get("event_backlog") == 0,
                120,
                "the AMI events of the logins to be handled",
            )
            print(f"{plan.agents} agents registered and logged in", flush=True)
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
            async with hotline.db.session() as session:
                records = list((await session.scalars(select(Call))).all())
            seen = asterisk_calls(stack.asterisk.cdr_csv)
    complete = {c.uniqueid for c in records if c.complete}
    facts = [_facts(c) for c in records]
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
        event_lag_p95_s=_p95(watch.lags),
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
