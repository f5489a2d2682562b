"""What a peak-mode simulation measured, and what Erlang predicted for the same load.

Pure arithmetic over the service's call records (``CallFacts``, taken from ``store.models.Call``),
so the figures are checked by hand in the tests. Definitions are the hotline's
(``stats.staffing``): the wait runs from queue entry (``queue_entered_at``, AMI
``QueueCallerJoin``) to the agent's answer (``answered_at``, ``AgentConnect``), so the ring time
is in it and the IVR is not; SL(T) = answered within T / (reached the queue − short abandons),
a short abandon leaving within 5 s; ASA = mean wait of the answered calls; abandon rate =
abandoned after 5 s / reached the queue. Every time is measured on the run's clock and
multiplied back to unscaled seconds.

Only calls that *arrive* inside the measured window count (the warm-up fills the agents from
empty, the cool-down keeps arrivals coming while the last measured callers wait).
Occupancy is talk (+ wrap-up) time inside the window over agents × window.
"""

from __future__ import annotations

import heapq
import math
import random
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from simulation.traffic import Schedule, TimeScale
from stats.staffing import SHORT_ABANDON_S, Target, erlang_a, erlang_c

__all__ = [
    "BATCHES",
    "CallFacts",
    "Measured",
    "Predicted",
    "as_dict",
    "by_label",
    "double_booked",
    "fifo_replay",
    "measure",
    "predict",
]

BATCHES = 6
# Student's t, 97.5 % quantile, for BATCHES - 1 = 5 degrees of freedom.
_T_975 = 2.571


@dataclass(frozen=True)
class CallFacts:
    """What the service recorded of one call; times are Unix seconds on the run's clock."""

    number: str
    status: str
    queue_entered_at: float | None
    answered_at: float | None
    ended_at: float | None
    wait_s: float | None
    talk_s: float | None
    complete: bool
    agent: str | None = None


@dataclass(frozen=True)
class Measured:
    """The run's figures, unscaled. ``*_ci`` are 95 % half-widths from batch means (None when
    the window is too short for them)."""

    offered: int  # scheduled calls arriving in the window
    recorded: int  # of them, with a service record
    reached_queue: int
    answered: int
    abandoned_queue: int
    short_abandons: int
    abandoned_ivr: int
    other: int  # any other outcome (self-served, ...): 0 in a sane run
    service_levels: tuple[tuple[Target, float], ...]
    service_level_ci: float | None  # of the first target
    asa_s: float
    asa_ci: float | None
    p95_wait_s: float
    max_wait_s: float
    waited_share: float  # answered calls that waited more than one unscaled second
    abandon_rate: float
    occupancy: float | None
    calls_per_hour: float  # realised arrival rate in the window
    talk_mean_s: float | None  # realised, calls cut at the end counted as censored
    window_s: float
    waited: int  # answered calls that waited more than one unscaled second
    # Of those, how many an agent took within 100 ms after a whole second (on the run's
    # clock) of waiting: app_queue looks for a free agent for a waiting caller once a second.
    on_the_second: int
    double_booked: int  # calls an agent answered while still on another (any call): must be 0


@dataclass(frozen=True)
class Predicted:
    """One model's figures for a load and agent count."""

    model: str
    calls_per_hour: float
    aht_s: float
    agents: int
    p_wait: float
    service_levels: tuple[tuple[Target, float], ...]
    asa_s: float
    occupancy: float
    abandon_rate: float | None = None
    p_abandon: float | None = None


def _share(part: int, whole: int) -> float:
    return part / whole if whole else math.nan


def _quantile(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def _levels(
    waits: Sequence[float], net_offered: int, targets: Sequence[Target]
) -> tuple[tuple[Target, float], ...]:
    return tuple((t, _share(sum(1 for w in waits if w <= t.seconds), net_offered)) for t in targets)


def measure(
    plan: Schedule,
    records: Iterable[CallFacts],
    *,
    scale: TimeScale,
    start_unix: float,
    agents: int,
    targets: Sequence[Target],
    wrapup_s: float = 0.0,
    cut_at: float | None = None,
) -> Measured:
    """The figures of the calls ``plan`` marks as measured.

    ``start_unix`` is when the schedule's time 0 fell on the run's clock; ``cut_at`` is when
    the calls still talking were hung up to end the run (their talk times are censored).
    ``wrapup_s`` is unscaled.
    """
    by_number = {r.number: r for r in records}
    measured = plan.measured
    if not measured:
        raise ValueError("no call arrives in the measured window")
    window = plan.window
    window_s = max(window[1] - window[0], 1e-9)
    rows = [(a, by_number.get(a.number)) for a in measured]
    queued = [(a, r) for a, r in rows if r is not None and r.queue_entered_at is not None]
    answered = [r for _, r in queued if r.status == "answered"]
    abandoned = [r for _, r in queued if r.status == "abandoned_queue"]

    def wait(r: CallFacts) -> float:
        return scale.unscaled(r.wait_s or 0.0)

    short = [r for r in abandoned if wait(r) <= SHORT_ABANDON_S]
    waits = [wait(r) for r in answered]
    net = len(queued) - len(short)

    # Batch means: the window cut into BATCHES equal spans by arrival time.
    batch_sl: list[float] = []
    batch_asa: list[float] = []
    if len(queued) >= 20 * BATCHES:
        for b in range(BATCHES):
            lo = window[0] + window_s * b / BATCHES
            hi = window[0] + window_s * (b + 1) / BATCHES
            in_batch = [
                r for a, r in queued if lo <= a.at_s < hi or (b == BATCHES - 1 and a.at_s == hi)
            ]
            b_answered = [wait(r) for r in in_batch if r.status == "answered"]
            b_short = sum(
                1 for r in in_batch if r.status == "abandoned_queue" and wait(r) <= SHORT_ABANDON_S
            )
            b_net = len(in_batch) - b_short
            if b_net and b_answered:
                first = targets[0].seconds
                batch_sl.append(sum(1 for w in b_answered if w <= first) / b_net)
                batch_asa.append(statistics.fmean(b_answered))

    def half_width(values: list[float]) -> float | None:
        if len(values) < BATCHES:
            return None
        return _T_975 * statistics.stdev(values) / math.sqrt(len(values))

    # Occupancy: busy time of every answered call (measured or not) inside the window.
    occupancy = None
    if agents > 0:
        w0 = start_unix + scale.wall(window[0])
        w1 = start_unix + scale.wall(window[1])
        busy = 0.0
        for r in by_number.values():
            if r.answered_at is None or r.talk_s is None:
                continue
            end = r.answered_at + r.talk_s + scale.wall(wrapup_s)
            busy += max(0.0, min(end, w1) - max(r.answered_at, w0))
        occupancy = busy / (agents * (w1 - w0)) if w1 > w0 else None

    # Talk times of the measured answered calls; a call hung up at the cut was censored:
    # the exponential's estimate is total observed talk / calls that ended on their own.
    talks = [r for r in answered if r.talk_s is not None]
    ended_on_their_own = [
        r for r in talks if cut_at is None or r.ended_at is None or r.ended_at < cut_at - 0.001
    ]
    talk_mean = (
        scale.unscaled(sum(r.talk_s or 0.0 for r in talks)) / len(ended_on_their_own)
        if ended_on_their_own
        else None
    )
    waited_scaled = [r.wait_s or 0.0 for r in answered if wait(r) > 1.0]
    on_the_second = sum(1 for w in waited_scaled if w >= 0.9 and (w - math.floor(w + 0.02)) < 0.1)
    return Measured(
        offered=len(measured),
        recorded=sum(1 for _, r in rows if r is not None),
        reached_queue=len(queued),
        answered=len(answered),
        abandoned_queue=len(abandoned),
        short_abandons=len(short),
        abandoned_ivr=sum(1 for _, r in rows if r is not None and r.status == "abandoned_ivr"),
        other=sum(
            1
            for _, r in rows
            if r is not None and r.status not in ("answered", "abandoned_queue", "abandoned_ivr")
        ),
        service_levels=_levels(waits, net, targets),
        service_level_ci=half_width(batch_sl),
        asa_s=statistics.fmean(waits) if waits else math.nan,
        asa_ci=half_width(batch_asa),
        p95_wait_s=_quantile(waits, 0.95),
        max_wait_s=max(waits, default=math.nan),
        waited_share=_share(sum(1 for w in waits if w > 1.0), len(waits)),
        abandon_rate=_share(len(abandoned) - len(short), len(queued)),
        occupancy=occupancy,
        calls_per_hour=len(measured) / window_s * 3600,
        talk_mean_s=talk_mean,
        window_s=window_s,
        waited=len(waited_scaled),
        on_the_second=on_the_second,
        double_booked=double_booked(by_number.values()),
    )


def double_booked(records: Iterable[CallFacts]) -> int:
    """Calls an agent answered before their previous call had ended (with 50 ms of slack
    for the events of one hand-over). One SIPp answers for every agent, so only app_queue
    keeps an agent to one call at a time: this checks that it did."""
    spans: dict[str, list[tuple[float, float]]] = {}
    for r in records:
        if r.agent and r.answered_at is not None and r.talk_s is not None:
            spans.setdefault(r.agent, []).append((r.answered_at, r.answered_at + r.talk_s))
    count = 0
    for calls in spans.values():
        calls.sort()
        busy_until = -math.inf
        for start, end in calls:
            if start < busy_until - 0.05:
                count += 1
            busy_until = max(busy_until, end)
    return count


def fifo_replay(
    plan: Schedule,
    records: Iterable[CallFacts],
    *,
    scale: TimeScale,
    agents: int,
    talk_s: float,
    wrapup_s: float = 0.0,
    seed: int = 0,
) -> list[CallFacts]:
    """The same calls through an ideal pooled FIFO queue of ``agents``: what Erlang's model
    does with exactly this run's arrivals, talk times and patiences.

    Each call that reached a queue arrives when it did (``queue_entered_at``) and, when an
    agent takes it, talks as long as it did; one that never talked (it gave up) gets an
    exponential talk time of mean ``talk_s`` (unscaled, drawn with ``seed``). A caller whose
    patience (from ``plan``) runs out before an agent is free leaves. The difference between
    ``measure`` of this and of the run is what Asterisk does otherwise (app_queue's 1-s
    re-check, queue order across the category queues, ringing); the difference between this
    and Erlang is the luck of a finite run.
    """
    if agents < 1:
        raise ValueError(f"a queue needs at least one agent, got {agents}")
    rng = random.Random(seed)
    patience = {a.number: a.patience_s for a in plan.arrivals}
    wrapup = scale.wall(wrapup_s)
    calls = sorted(
        (r for r in records if r.queue_entered_at is not None),
        key=lambda r: r.queue_entered_at or 0.0,
    )
    free_at = [-math.inf] * agents
    heapq.heapify(free_at)
    out = []
    for r in calls:
        arrive = r.queue_entered_at or 0.0
        start = max(arrive, free_at[0])
        give_up = patience.get(r.number)
        if give_up is not None and start - arrive > scale.wall(give_up):
            left = arrive + scale.wall(give_up)
            out.append(
                CallFacts(
                    r.number, "abandoned_queue", arrive, None, left, left - arrive, None, True
                )
            )
            continue
        talk = (
            r.talk_s
            if r.status == "answered" and r.talk_s is not None
            else scale.wall(rng.expovariate(1 / talk_s))
        )
        heapq.heapreplace(free_at, start + talk + wrapup)
        out.append(
            CallFacts(r.number, "answered", arrive, start, start + talk, start - arrive, talk, True)
        )
    return out


def predict(
    model: str,
    agents: int,
    calls_per_hour: float,
    aht_s: float,
    targets: Sequence[Target],
    patience_s: float | None = None,
) -> Predicted:
    """Erlang C, or with a mean ``patience_s`` Erlang A, for one pooled queue."""
    if patience_s is None:
        c = erlang_c(agents, calls_per_hour, aht_s, targets)
        return Predicted(
            model=model,
            calls_per_hour=calls_per_hour,
            aht_s=aht_s,
            agents=agents,
            p_wait=c.p_wait,
            service_levels=c.service_levels,
            asa_s=c.asa_s,
            occupancy=c.occupancy,
        )
    a = erlang_a(agents, calls_per_hour, aht_s, patience_s, targets)
    return Predicted(
        model=model,
        calls_per_hour=calls_per_hour,
        aht_s=aht_s,
        agents=agents,
        p_wait=a.p_wait,
        service_levels=a.service_levels,
        asa_s=a.asa_s,
        occupancy=a.occupancy,
        abandon_rate=a.abandon_rate,
        p_abandon=a.p_abandon,
    )


def as_dict(obj: Measured | Predicted) -> dict[str, object]:
    """A JSON-ready dict (targets as ``"90%/15s"`` keys, NaN as None)."""
    out: dict[str, object] = {}
    for name, value in vars(obj).items():
        if name == "service_levels":
            out[name] = {t.label: _clean(v) for t, v in value}
        else:
            out[name] = _clean(value)
    return out


def _clean(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def by_label(levels: Sequence[tuple[Target, float]]) -> Mapping[str, float]:
    return {t.label: v for t, v in levels}
