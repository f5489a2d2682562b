"""How many agents a queue needs: Erlang C, and Erlang A (callers who give up).

Pure arithmetic, no I/O; one concern that reads better whole (the models, their inversion to
agents needed, and the targets they are checked against share every definition). The
definitions are the hotline's (docs/domain facts):

- **offered load** (Erlang) = calls per hour × AHT / 3600.
- **AHT** (average handle time) = talk + hold + wrap-up, in seconds.
- **service level** SL(T) = calls answered within T seconds / (offered − short abandons), a
  *short abandon* being a caller who left within 5 s. Erlang C has no abandons, so there it is
  P(wait ≤ T); Erlang A computes both terms of the ratio.
- **ASA** (average speed of answer) = mean wait of the *answered* calls.
- **occupancy** = time agents spend handling calls / time they are staffed
  = carried load / agents.
- **abandon rate** = callers who abandoned after 5 s / offered.

Erlang C (M/M/n): P(wait) comes from the Erlang B recursion
``B(k) = A·B(k-1) / (k + A·B(k-1))``, ``C = n·B / (n − A·(1 − B))``: no factorials or powers,
so it stays exact to rounding for thousands of agents. Then
``SL(T) = 1 − C·exp(−(n − A)·T / AHT)`` and ``ASA = C·AHT / (n − A)``.

Erlang A (M/M/n+M, Palm's model, exponential patience with mean ``patience_s``): the
stationary state probabilities of the birth–death chain are computed iteratively and stably:
everything is relative to the state "all n agents busy, nobody waiting", the states below it
sum to ``1/B(n, A)`` (the same Erlang B recursion), the states above it are the products
``λ / (nμ + iθ)``, summed until they no longer matter. A caller who finds ``j`` others waiting
moves up at rate ``nμ + iθ`` (an agent frees up or someone ahead gives up) and gives up at
rate ``θ``: P(abandon) and ASA follow from those products exactly; the answered-within-T and
short-abandon probabilities come from the same little absorbing chain by uniformization.

    >>> round(erlang_c_wait_probability(14, 10.0), 7)
    0.1741319
    >>> agents_for(0.80, 20, calls_per_hour=1000, aht_s=180)
    56
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = [
    "DEFAULT_MIX",
    "DEFAULT_TARGETS",
    "SHORT_ABANDON_S",
    "Demand",
    "ErlangA",
    "ErlangC",
    "StaffingRow",
    "Target",
    "TimeLimitExceeded",
    "agents_for",
    "agents_for_targets",
    "asa",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "erlang_c_wait_probability",
    "forecast_demands",
    "occupancy",
    "offered_load",
    "parse_mix",
    "parse_targets",
    "plan",
    "pooled",
    "service_level",
    "staff",
]

SHORT_ABANDON_S = 5.0
"""A caller who leaves within this many seconds is a short abandon: not counted as offered."""

# The default menu's mix (ivr/menus/default.yaml), as the domain notes give it.
DEFAULT_MIX: Mapping[str, float] = {"medical": 0.30, "food": 0.50, "violation": 0.20}

_TAIL = 1e-16  # state probabilities below this share of the total are left out
_MAX_WAITING = 200_000  # beyond this many waiting callers the model says nothing useful
_POISSON_TAIL = 1e-13


class TimeLimitExceeded(ArithmeticError):
    """The computation ran past its time limit (``plan(..., time_limit_s=…)``)."""


# The monotonic instant past which the loops give up; None: no limit. A context variable,
# so that concurrent plans (one per worker thread) each keep their own.
_deadline: ContextVar[float | None] = ContextVar("staffing_deadline", default=None)


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    token = _deadline.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def _check_time() -> None:
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline:
        raise TimeLimitExceeded("the staffing computation ran past its time limit")


@dataclass(frozen=True)
class Target:
    """A service-level target: ``share`` of the calls answered within ``seconds``."""

    share: float
    seconds: float

    def __post_init__(self) -> None:
        if not 0 < self.share < 1:
            raise ValueError(f"a target's share must be between 0 and 1, got {self.share}")
        if not self.seconds >= 0:
            raise ValueError(f"a target's time must be 0 s or more, got {self.seconds}")

    @property
    def label(self) -> str:
        """``90%/15s``."""
        return f"{self.share * 100:g}%/{self.seconds:g}s"


DEFAULT_TARGETS: tuple[Target, ...] = (Target(0.80, 20),)


def parse_targets(text: str) -> tuple[Target, ...]:
    """``"90:15,95:20"`` (percent:seconds, comma-separated) as targets; ValueError if not."""
    targets = []
    for part in text.split(","):
        percent, sep, seconds = part.strip().partition(":")
        try:
            if not sep:
                raise ValueError
            target = Target(float(percent) / 100, float(seconds))
        except ValueError:
            raise ValueError(
                "expected PERCENT:SECONDS pairs separated by commas, such as 90:15,95:20 "
                f"(percent between 0 and 100, seconds 0 or more), got {part.strip()!r}"
            ) from None
        targets.append(target)
    return tuple(targets)


def parse_mix(text: str, known: Sequence[str] | None = None) -> dict[str, float]:
    """``"medical:0.3,food:0.5,violation:0.2"`` as shares that sum to 1; ValueError if not."""
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, sep, share = part.strip().partition(":")
        try:
            if not sep or not name:
                raise ValueError
            value = float(share)
        except ValueError:
            raise ValueError(
                "expected CATEGORY:SHARE pairs separated by commas, such as "
                f"medical:0.3,food:0.5,violation:0.2, got {part.strip()!r}"
            ) from None
        if known is not None and name not in known:
            raise ValueError(f"unknown category {name!r}; known: {', '.join(known)}")
        if name in mix:
            raise ValueError(f"category {name!r} is given twice")
        if not 0 <= value <= 1:
            raise ValueError(f"share of {name!r} must be between 0 and 1, got {value:g}")
        mix[name] = value
    total = sum(mix.values())
    if abs(total - 1) > 1e-6:
        raise ValueError(f"the shares must sum to 1, got {total:g}")
    return mix


def _check(agents: int, calls_per_hour: float, aht_s: float) -> None:
    if agents < 0:
        raise ValueError(f"agents must be 0 or more, got {agents}")
    if not calls_per_hour >= 0:
        raise ValueError(f"calls per hour must be 0 or more, got {calls_per_hour}")
    if not aht_s > 0:
        raise ValueError(f"AHT must be more than 0 s, got {aht_s}")


def offered_load(calls_per_hour: float, aht_s: float) -> float:
    """The offered load in Erlang: calls per hour × AHT / 3600."""
    return calls_per_hour * aht_s / 3600


def erlang_b(agents: int, load_erlangs: float) -> float:
    """Erlang B blocking probability, by the stable recursion (no factorials)."""
    b = 1.0
    for k in range(1, agents + 1):
        b = load_erlangs * b / (k + load_erlangs * b)
        if not k & 0xFFFF:
            _check_time()
    return b


def _erlang_c_from_b(agents: int, load: float, b: float) -> float:
    if agents <= load:
        return 1.0  # unstable: the queue grows without bound, everyone waits
    return agents * b / (agents - load * (1 - b))


def erlang_c_wait_probability(agents: int, load_erlangs: float) -> float:
    """Erlang C: the probability that a call waits at all (1 when agents ≤ load)."""
    if load_erlangs <= 0:
        return 0.0
    return _erlang_c_from_b(agents, load_erlangs, erlang_b(agents, load_erlangs))


def service_level(agents: int, calls_per_hour: float, aht_s: float, target_s: float) -> float:
    """Erlang C: the share of calls answered within ``target_s`` seconds."""
    _check(agents, calls_per_hour, aht_s)
    load = offered_load(calls_per_hour, aht_s)
    if load == 0:
        return 1.0
    if agents <= load:
        return 0.0
    c = erlang_c_wait_probability(agents, load)
    return 1 - c * math.exp(-(agents - load) * target_s / aht_s)


def asa(agents: int, calls_per_hour: float, aht_s: float) -> float:
    """Erlang C: average speed of answer in seconds (``inf`` when agents ≤ load)."""
    _check(agents, calls_per_hour, aht_s)
    load = offered_load(calls_per_hour, aht_s)
    if load == 0:
        return 0.0
    if agents <= load:
        return math.inf
    return erlang_c_wait_probability(agents, load) * aht_s / (agents - load)


def occupancy(agents: int, calls_per_hour: float, aht_s: float) -> float:
    """Erlang C: load / agents (every call is answered), capped at 1."""
    _check(agents, calls_per_hour, aht_s)
    load = offered_load(calls_per_hour, aht_s)
    if load == 0:
        return 0.0
    return min(1.0, load / agents) if agents else 1.0


@dataclass(frozen=True)
class ErlangC:
    """What Erlang C predicts for ``agents`` on a queue."""

    agents: int
    calls_per_hour: float
    aht_s: float
    load_erlangs: float
    p_wait: float
    service_levels: tuple[tuple[Target, float], ...]
    asa_s: float
    occupancy: float


def erlang_c(
    agents: int, calls_per_hour: float, aht_s: float, targets: Sequence[Target] = DEFAULT_TARGETS
) -> ErlangC:
    """Every Erlang C figure for one queue at once."""
    _check(agents, calls_per_hour, aht_s)
    load = offered_load(calls_per_hour, aht_s)
    return ErlangC(
        agents=agents,
        calls_per_hour=calls_per_hour,
        aht_s=aht_s,
        load_erlangs=load,
        p_wait=erlang_c_wait_probability(agents, load),
        service_levels=tuple(
            (t, service_level(agents, calls_per_hour, aht_s, t.seconds)) for t in targets
        ),
        asa_s=asa(agents, calls_per_hour, aht_s),
        occupancy=occupancy(agents, calls_per_hour, aht_s),
    )


def agents_for_targets(
    targets: Sequence[Target],
    calls_per_hour: float,
    aht_s: float,
    *,
    max_occupancy: float | None = None,
) -> int:
    """The fewest agents that meet every target (Erlang C) and keep occupancy ≤ the cap."""
    _check(0, calls_per_hour, aht_s)
    if max_occupancy is not None and not 0 < max_occupancy <= 1:
        raise ValueError(f"max occupancy must be in (0, 1], got {max_occupancy}")
    load = offered_load(calls_per_hour, aht_s)
    if load == 0:
        return 0
    n = math.floor(load) + 1  # fewer agents than the load never catch up
    if max_occupancy is not None:
        # 1e-9: 42.5 / 0.85 must give 50, not 51 because of a rounding error.
        n = max(n, math.ceil(load / max_occupancy - 1e-9))
    b = erlang_b(n, load)
    while True:
        c = _erlang_c_from_b(n, load, b)
        if all(1 - c * math.exp(-(n - load) * t.seconds / aht_s) >= t.share for t in targets):
            return n
        n += 1
        b = load * b / (n + load * b)
        if not n & 0x3FF:
            _check_time()


def agents_for(
    target_sl: float,
    target_s: float,
    calls_per_hour: float,
    aht_s: float,
    *,
    max_occupancy: float | None = None,
    also: Sequence[Target] = (),
) -> int:
    """The fewest agents that answer ``target_sl`` of calls within ``target_s`` seconds
    (and every target in ``also``), with occupancy ≤ ``max_occupancy`` if given.

    >>> agents_for(0.90, 15, 1500, 180, also=[Target(0.95, 20)])
    86
    """
    return agents_for_targets(
        (Target(target_sl, target_s), *also), calls_per_hour, aht_s, max_occupancy=max_occupancy
    )


@dataclass(frozen=True)
class ErlangA:
    """What Erlang A (M/M/n+M) predicts for ``agents`` on a queue whose callers give up
    after an exponential patience of mean ``patience_s``.

    ``p_abandon`` counts every caller who gives up; ``abandon_rate`` only those who waited
    more than 5 s (the hotline's definition); ``service_levels`` are answered within T over
    offered − short abandons.
    """

    agents: int
    calls_per_hour: float
    aht_s: float
    patience_s: float
    load_erlangs: float
    p_wait: float
    p_abandon: float
    p_short_abandon: float
    abandon_rate: float
    service_levels: tuple[tuple[Target, float], ...]
    asa_s: float
    occupancy: float
    mean_queue: float


def _queue_weights(agents: int, lam: float, mu: float, theta: float) -> tuple[float, list[float]]:
    """(weight of the states with someone free, [weight of j waiting for j = 0, 1, …]),
    relative to the state "all busy, none waiting" = 1."""
    below = 1 / erlang_b(agents, lam / mu) - 1  # states 0 … n−1
    weights = [1.0]
    total = below + 1
    j = 0
    while True:
        j += 1
        ratio = lam / (agents * mu + j * theta)
        weight = weights[-1] * ratio
        weights.append(weight)
        total += weight
        if not j & 0x3FF:
            _check_time()
        if ratio < 1 and weight < _TAIL * total:
            return below, weights
        if j > _MAX_WAITING:
            raise ValueError(
                f"Erlang A: the queue would hold more than {_MAX_WAITING} callers "
                f"({agents} agents for {lam / mu:g} Erlang, patience {1 / theta:g} s)"
            )


def _poisson_weights(x: float) -> list[float]:
    """P(N = k) for N ~ Poisson(x), k = 0, 1, … until the tail is negligible (log space:
    no underflow of e^−x for large x)."""
    out = []
    cumulative = 0.0
    k = 0
    while True:
        p = math.exp(-x + k * math.log(x) - math.lgamma(k + 1)) if x > 0 else float(k == 0)
        out.append(p)
        cumulative += p
        if cumulative >= 1 - _POISSON_TAIL or (k > x and p < _POISSON_TAIL * 1e-3):
            return out
        k += 1
        if not k & 0x3FF:
            _check_time()


def _absorbed_by(
    start: Sequence[float], agents: int, mu: float, theta: float, times: Sequence[float]
) -> list[tuple[float, float]]:
    """For a waiting caller who starts with j others ahead w.p. ``start[j]``: (P(answered
    by t), P(gave up by t)) for each t in ``times``, by uniformization of the absorbing chain
    "j ahead" → j−1 (rate nμ + jθ), → answered (from 0, rate nμ), → gave up (rate θ)."""
    size = len(start)
    rate = agents * mu + size * theta  # the fastest state's total rate
    poissons = [_poisson_weights(rate * t) for t in times]
    steps = max(len(p) for p in poissons)
    v = list(start)
    answered, gave_up = [0.0], [0.0]
    down = [(agents * mu + j * theta) / rate for j in range(size)]
    leave = theta / rate
    for _ in range(steps - 1):
        new = [v[j] * (1 - down[j] - leave) for j in range(size)]
        for j in range(1, size):
            new[j - 1] += v[j] * down[j]
        answered.append(answered[-1] + v[0] * down[0])
        gave_up.append(gave_up[-1] + sum(v) * leave)
        v = new
        _check_time()
    return [
        (
            sum(p * a for p, a in zip(weights, answered, strict=False)),
            sum(p * g for p, g in zip(weights, gave_up, strict=False)),
        )
        for weights in poissons
    ]


def erlang_a(
    agents: int,
    calls_per_hour: float,
    aht_s: float,
    patience_s: float,
    targets: Sequence[Target] = DEFAULT_TARGETS,
) -> ErlangA:
    """Erlang A (Palm's M/M/n+M): abandonment, waits and service levels for ``agents``.

    >>> round(erlang_a(80, 1500, 180, 60).p_abandon, 3)
    0.029
    """
    _check(agents, calls_per_hour, aht_s)
    if not patience_s > 0:
        raise ValueError(f"patience must be more than 0 s, got {patience_s}")
    load = offered_load(calls_per_hour, aht_s)
    if load == 0 or agents == 0:
        answered_none = load > 0
        return ErlangA(
            agents=agents,
            calls_per_hour=calls_per_hour,
            aht_s=aht_s,
            patience_s=patience_s,
            load_erlangs=load,
            p_wait=float(answered_none),
            p_abandon=float(answered_none),
            p_short_abandon=1 - math.exp(-SHORT_ABANDON_S / patience_s) if answered_none else 0,
            abandon_rate=math.exp(-SHORT_ABANDON_S / patience_s) if answered_none else 0,
            service_levels=tuple((t, float(not answered_none)) for t in targets),
            asa_s=0.0,
            occupancy=0.0,
            mean_queue=math.inf if answered_none else 0.0,
        )
    lam, mu, theta = calls_per_hour / 3600, 1 / aht_s, 1 / patience_s
    below, weights = _queue_weights(agents, lam, mu, theta)
    total = below + sum(weights)
    start = [w / total for w in weights]  # PASTA: what an arriving caller finds
    p_wait = sum(start)

    p_answered = 1 - p_wait  # those who find a free agent
    wait_answered = 0.0  # E[wait; answered]
    # With j ahead the caller passes the positions j, j−1, …, 0; at the one with i ahead it
    # leaves at rate nμ + (i+1)θ and moves on w.p. (nμ + iθ) / that. The products over
    # i = 0 … j grow with j, so one pass gives every j.
    path_answered, path_wait = 1.0, 0.0
    for j, p in enumerate(start):
        exit_rate = agents * mu + (j + 1) * theta
        path_answered *= (agents * mu + j * theta) / exit_rate
        path_wait += 1 / exit_rate
        p_answered += p * path_answered
        wait_answered += p * path_answered * path_wait

    times = [t.seconds for t in targets]
    absorbed = _absorbed_by(start, agents, mu, theta, [*times, SHORT_ABANDON_S])
    p_short = absorbed[-1][1]
    p_abandon = 1 - p_answered
    offered_net = 1 - p_short
    levels = tuple(
        (t, min(1.0, ((1 - p_wait) + answered_by) / offered_net))
        for t, (answered_by, _) in zip(targets, absorbed, strict=False)
    )
    return ErlangA(
        agents=agents,
        calls_per_hour=calls_per_hour,
        aht_s=aht_s,
        patience_s=patience_s,
        load_erlangs=load,
        p_wait=p_wait,
        p_abandon=p_abandon,
        p_short_abandon=p_short,
        abandon_rate=max(0.0, p_abandon - p_short),
        service_levels=levels,
        asa_s=wait_answered / p_answered if p_answered > 0 else math.inf,
        occupancy=min(1.0, load * p_answered / agents),
        mean_queue=sum(j * p for j, p in enumerate(start)),
    )


@dataclass(frozen=True)
class Demand:
    """Calls to staff for: a category in an hour (``hour`` None: the forecast peak hour)."""

    category: str
    hour: int | None
    calls_per_hour: float
    aht_s: float


@dataclass(frozen=True)
class StaffingRow:
    """The recommendation for one demand (or the pooled queue of an hour)."""

    demand: Demand
    agents: int
    erlang_c: ErlangC
    erlang_a: ErlangA | None
    dedicated_agents: int | None = None  # pooled rows: the dedicated queues' total


def staff(
    demand: Demand,
    targets: Sequence[Target] = DEFAULT_TARGETS,
    *,
    max_occupancy: float | None = None,
    patience_s: float | None = None,
) -> StaffingRow:
    """Recommend agents for one demand by Erlang C; with ``patience_s`` also report what
    Erlang A predicts for that many agents."""
    n = agents_for_targets(
        targets, demand.calls_per_hour, demand.aht_s, max_occupancy=max_occupancy
    )
    return StaffingRow(
        demand=demand,
        agents=n,
        erlang_c=erlang_c(n, demand.calls_per_hour, demand.aht_s, targets),
        erlang_a=(
            None
            if patience_s is None
            else erlang_a(n, demand.calls_per_hour, demand.aht_s, patience_s, targets)
        ),
    )


def pooled(demands: Sequence[Demand], hour: int | None) -> Demand:
    """One queue taking every demand of an hour; its AHT is the calls-weighted mean."""
    calls = sum(d.calls_per_hour for d in demands)
    aht = sum(d.calls_per_hour * d.aht_s for d in demands) / calls if calls else 180.0
    return Demand("pooled", hour, calls, aht)


def plan(
    demands: Sequence[Demand],
    targets: Sequence[Target] = DEFAULT_TARGETS,
    *,
    max_occupancy: float | None = None,
    patience_s: float | None = None,
    time_limit_s: float | None = None,
) -> tuple[list[StaffingRow], list[StaffingRow]]:
    """(a row per demand, a pooled row per hour with the dedicated queues' total).

    With ``time_limit_s``, raises ``TimeLimitExceeded`` once that many seconds have gone:
    a service runs this in a worker thread, which must end even when the question is huge.
    """
    with _time_limit(time_limit_s):
        return _plan(demands, targets, max_occupancy=max_occupancy, patience_s=patience_s)


def _plan(
    demands: Sequence[Demand],
    targets: Sequence[Target],
    *,
    max_occupancy: float | None,
    patience_s: float | None,
) -> tuple[list[StaffingRow], list[StaffingRow]]:
    rows = [staff(d, targets, max_occupancy=max_occupancy, patience_s=patience_s) for d in demands]
    hours: dict[int | None, list[StaffingRow]] = {}
    for row in rows:
        hours.setdefault(row.demand.hour, []).append(row)
    totals = []
    for hour, hour_rows in hours.items():
        row = staff(
            pooled([r.demand for r in hour_rows], hour),
            targets,
            max_occupancy=max_occupancy,
            patience_s=patience_s,
        )
        totals.append(
            StaffingRow(
                row.demand,
                row.agents,
                row.erlang_c,
                row.erlang_a,
                dedicated_agents=sum(r.agents for r in hour_rows),
            )
        )
    return rows, totals


def forecast_demands(
    calls_per_day: float,
    *,
    peak_share: float = 0.10,
    mix: Mapping[str, float] = DEFAULT_MIX,
    aht_s: float = 180.0,
) -> list[Demand]:
    """The peak hour of a forecast day: ``peak_share`` of the day's calls, split by ``mix``."""
    if not calls_per_day >= 0:
        raise ValueError(f"calls per day must be 0 or more, got {calls_per_day}")
    if not 0 < peak_share <= 1:
        raise ValueError(f"the peak share must be in (0, 1], got {peak_share}")
    peak = calls_per_day * peak_share
    return [Demand(category, None, peak * share, aht_s) for category, share in mix.items()]
