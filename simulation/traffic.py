"""The calls ``hotline1022 simulate`` offers in peak mode: when they arrive, what they press.

Pure arithmetic, no I/O, so every number of a run can be checked by hand.

**Arrivals are Poisson**: the gaps between calls are drawn independently from an exponential
distribution of mean ``3600 / calls_per_hour`` seconds. SIPp's own ``-r``/``-rp`` spaces calls
evenly (a D/M/n queue, which waits less than Erlang C's M/M/n), so the schedule is drawn here
and handed to SIPp as absolute start times, one per call (``simulation.sipp``).

**The mix is the default menu's**, as DTMF paths a first-time caller presses
(``menu_routes`` walks the menu to find them): medical 30 % (a third of it life-threatening,
"11" + district, the rest "12" + district), food 50 % ("2" + district), violations 20 % ("3"),
the shares of ``stats.staffing.DEFAULT_MIX``. The district key is drawn uniformly from the
menu's units. The domain notes give no share of life-threatening calls; a third of medical is
an assumption (Bình Dương counted 45,849 emergencies in 226,530 calls, 20 % of all calls, a
broader notion than "can't breathe or unconscious").

**Time scale** ``S`` divides every duration alike: arrivals come ``S`` times as often, talk,
patience, wrap-up and the service-level thresholds are ``S`` times shorter. Every figure is
reported multiplied back, in unscaled seconds. Asterisk's own clocks are not scaled: app_queue
looks for a free agent for a waiting caller once a second, which is ``S`` seconds unscaled.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ivr.menu import DistrictNode, Menu, MenuNode, QueueNode

__all__ = [
    "DISTRICT_KEY",
    "PEAK_MIX",
    "Arrival",
    "Route",
    "Schedule",
    "TimeScale",
    "category_mix",
    "menu_routes",
    "parse_duration",
    "poisson_times",
    "schedule",
]

DISTRICT_KEY = "d"
"""Stands for the district key in a route's keys; ``schedule`` draws one per call."""

# Queue node of the default menu -> share of the calls (categories as in DEFAULT_MIX).
PEAK_MIX: Mapping[str, float] = {
    "medical_critical": 0.10,
    "medical": 0.20,
    "food": 0.50,
    "violation": 0.20,
}


@dataclass(frozen=True)
class TimeScale:
    """Divides every duration by ``factor``: ``wall(180) == 18`` at a factor of 10."""

    factor: float = 1.0

    def __post_init__(self) -> None:
        if not self.factor >= 1:
            raise ValueError(f"the time scale must be 1 or more, got {self.factor:g}")

    def wall(self, seconds: float) -> float:
        """Unscaled seconds -> seconds on the clock of the run."""
        return seconds / self.factor

    def unscaled(self, seconds: float) -> float:
        """Seconds measured in the run -> unscaled seconds."""
        return seconds * self.factor

    def rate(self, per_hour: float) -> float:
        """Calls per unscaled hour -> calls per second of the run."""
        return per_hour * self.factor / 3600


@dataclass(frozen=True)
class Route:
    """The shortest way a first-time caller presses through the menu to a queue node."""

    node: str
    category: str
    priority: int
    keys: str  # DISTRICT_KEY where the caller names the district


def menu_routes(menu: Menu) -> dict[str, Route]:
    """Queue node id -> its shortest route (breadth first over menu keys and district
    questions; announcements and the back key are not taken)."""
    routes: dict[str, Route] = {}
    seen = {menu.start}
    todo: deque[tuple[str, str]] = deque([(menu.start, "")])
    while todo:
        node_id, keys = todo.popleft()
        node = menu.nodes[node_id]
        steps: list[tuple[str, str]] = []
        if isinstance(node, MenuNode):
            steps = [(keys + key, target) for key, target in sorted(node.keys.items())]
        elif isinstance(node, DistrictNode):
            steps = [(keys + DISTRICT_KEY, node.next)]
        elif isinstance(node, QueueNode):
            routes[node_id] = Route(node_id, node.category, node.priority, keys)
        for next_keys, target in steps:
            if target not in seen:
                seen.add(target)
                todo.append((target, next_keys))
    return routes


def category_mix(mix: Mapping[str, float], routes: Mapping[str, Route]) -> dict[str, float]:
    """The share of each category in a mix of queue nodes."""
    out: dict[str, float] = {}
    for node, share in mix.items():
        category = routes[node].category
        out[category] = out.get(category, 0.0) + share
    return out


def parse_duration(text: str) -> tuple[float | None, int | None]:
    """``--duration``: ``60``, ``60m`` or ``60min`` -> (3600.0 s, None); ``1500calls`` or
    ``1500c`` -> (None, 1500). ValueError otherwise."""
    raw = text.strip().lower()
    for suffix in ("calls", "c"):
        if raw.endswith(suffix):
            count = raw.removesuffix(suffix).strip()
            if not count.isdigit() or int(count) < 1:
                break
            return None, int(count)
    else:
        minutes = raw.removesuffix("min").removesuffix("m").strip()
        try:
            value = float(minutes)
        except ValueError:
            value = math.nan
        if value > 0 and math.isfinite(value):
            return value * 60, None
    raise ValueError(
        f"--duration takes simulated minutes (60, 60m) or a number of calls (1500calls), "
        f"got {text!r}"
    )


def poisson_times(
    calls_per_hour: float,
    rng: random.Random,
    *,
    until_s: float | None = None,
    count: int | None = None,
) -> list[float]:
    """Arrival times (unscaled seconds from 0) of a Poisson process: every arrival before
    ``until_s``, or the first ``count`` arrivals."""
    if not calls_per_hour > 0:
        raise ValueError(f"calls per hour must be more than 0, got {calls_per_hour:g}")
    if (until_s is None) == (count is None):
        raise ValueError("give exactly one of until_s and count")
    mean_gap = 3600 / calls_per_hour
    times: list[float] = []
    t = 0.0
    while True:
        t += rng.expovariate(1 / mean_gap)
        if (until_s is not None and t >= until_s) or (count is not None and len(times) >= count):
            return times
        times.append(t)


@dataclass(frozen=True)
class Arrival:
    """One scheduled call; times in unscaled seconds."""

    at_s: float
    number: str
    node: str
    keys: str
    patience_s: float | None
    measured: bool  # arrives inside the measured window (not warm-up, not cool-down)


@dataclass(frozen=True)
class Schedule:
    """Every call of a run, and the measured window (unscaled seconds from time 0)."""

    arrivals: tuple[Arrival, ...]
    window: tuple[float, float]

    @property
    def measured(self) -> list[Arrival]:
        return [a for a in self.arrivals if a.measured]

    @property
    def span_s(self) -> float:
        """When the last call arrives."""
        return self.arrivals[-1].at_s if self.arrivals else 0.0


def schedule(
    calls_per_hour: float,
    routes: Mapping[str, Route],
    district_keys: Sequence[str],
    *,
    mix: Mapping[str, float] = PEAK_MIX,
    warmup_s: float = 0.0,
    measure_s: float | None = None,
    measure_calls: int | None = None,
    cooldown_s: float = 0.0,
    patience_s: float | None = None,
    seed: int = 1022,
) -> Schedule:
    """Poisson arrivals over warm-up + measured window + cool-down, each with its menu path
    (node drawn from ``mix``, district key uniform), caller number and, with a mean
    ``patience_s``, an exponential patience of its own.

    The measured window is ``measure_s`` long, or ends at its ``measure_calls``-th call.
    """
    if abs(sum(mix.values()) - 1) > 1e-9:
        raise ValueError(f"the mix must sum to 1, got {sum(mix.values()):g}")
    if patience_s is not None and not patience_s > 0:
        raise ValueError(f"patience must be more than 0 s, got {patience_s:g}")
    rng = random.Random(seed)
    if measure_calls is not None:
        before = poisson_times(calls_per_hour, rng, until_s=warmup_s) if warmup_s > 0 else []
        measured_times = [
            warmup_s + t for t in poisson_times(calls_per_hour, rng, count=measure_calls)
        ]
        end = measured_times[-1] if measured_times else warmup_s
        after = [
            end + t
            for t in (
                poisson_times(calls_per_hour, rng, until_s=cooldown_s) if cooldown_s > 0 else []
            )
        ]
        times = before + measured_times + after
        window = (warmup_s, end)
    elif measure_s is not None:
        times = poisson_times(calls_per_hour, rng, until_s=warmup_s + measure_s + cooldown_s)
        window = (warmup_s, warmup_s + measure_s)
    else:
        raise ValueError("give measure_s or measure_calls")
    nodes = list(mix)
    weights = [mix[n] for n in nodes]
    out: list[Arrival] = []
    for i, t in enumerate(times):
        node = rng.choices(nodes, weights)[0]
        keys = "".join(
            rng.choice(district_keys) if k == DISTRICT_KEY else k for k in routes[node].keys
        )
        patience = rng.expovariate(1 / patience_s) if patience_s is not None else None
        out.append(
            Arrival(
                at_s=t,
                number=f"09{i:08d}",
                node=node,
                keys=keys,
                patience_s=patience,
                measured=window[0] <= t <= window[1],
            )
        )
    return Schedule(tuple(out), window)
