"""The surge simulation's peak hours on the real Asterisk: the same arrivals, replayed.

``replay_plan`` turns the calls one arm of ``simulation.surge`` put in a queue during a
window of the day into a ``PeakPlan`` for ``simulation.peak.run_peak``: each call at the
second the simulation had it, from its own number, with the patience the simulation drew for
that attempt, pressing the path of its need in the default menu (the plain arm: ``0``, the
operator queue, for everyone — one FIFO queue at priority 0; the hotline arm: the need's
branch, life-threatening calls at priority 20). ``des_figures`` gives the simulation's
figures for the same calls, to put beside what the stack measured.

What the replay does not carry (and the comparison must say): redials are replayed when
the simulation made them (open loop: a caller the stack answered may still redial, one it
lost may not); the hotline arm's callback dials and the information callers the
announcements served are not placed (the stack's callback offers are turned off for the
replay); agents talk for their own exponential times (SIPp draws them), not the
simulation's. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from ivr.menu_file import DEFAULT_MENU, load_menu
from simulation.peak_plan import PeakPlan
from simulation.surge import PLAIN, ArmResult
from simulation.surge_model import Citizen, SurgeParams, draws
from simulation.traffic import DISTRICT_KEY, Arrival, Schedule, TimeScale, menu_routes
from stats.staffing import SHORT_ABANDON_S, parse_targets

__all__ = ["NEED_NODE", "des_figures", "replay_plan"]

# Need -> the default menu's queue node its caller presses the way to.
NEED_NODE = {
    "medical_critical": "medical_critical",
    "medical": "medical",
    "food": "food",
    "violation": "violation",
    "information": "operator",
}
TARGETS = "90:15,95:20"


def replay_plan(
    result: ArmResult,
    people: Sequence[Citizen],
    params: SurgeParams,
    seed: int,
    *,
    start_s: float,
    end_s: float,
    warmup_s: float,
    scale: float,
    agents: int,
) -> PeakPlan:
    """The calls ``result``'s arm queued from ``start_s − warmup_s`` to ``end_s``, measured
    from ``start_s``."""
    menu = load_menu(DEFAULT_MENU)
    routes = menu_routes(menu)
    districts = sorted(menu.districts.units) if menu.districts is not None else ["1"]
    by_id = {c.id: c for c in people}
    queued = sorted(
        (
            a
            for a in result.log
            if a.outcome in ("answered", "abandoned") and start_s - warmup_s <= a.at_s < end_s
        ),
        key=lambda a: (a.at_s, a.citizen),
    )
    zero = start_s - warmup_s
    arrivals = []
    for i, a in enumerate(queued):
        c = by_id[a.citizen]
        node = "operator" if result.arm == PLAIN else NEED_NODE[c.need]
        district = districts[(c.district - 1) % len(districts)]
        arrivals.append(
            Arrival(
                at_s=a.at_s - zero,
                number=f"09{i:08d}",  # one per call: the watch keys the patience by number
                node=node,
                keys=routes[node].keys.replace(DISTRICT_KEY, district),
                patience_s=draws(seed, c.id, a.attempt, params).patience_s,
                measured=start_s <= a.at_s,
            )
        )
    measured = sum(a.measured for a in arrivals)
    return PeakPlan(
        calls_per_hour=measured * 3600 / (end_s - start_s),
        aht_s=params.aht_s,
        wrapup_s=round(params.wrapup_s),
        agents=agents,
        agents_auto=False,
        max_occupancy=None,
        patience_s=params.patience_s,
        targets=parse_targets(TARGETS),
        scale=TimeScale(scale),
        warmup_s=warmup_s,
        cooldown_s=0.0,
        seed=seed,
        schedule=Schedule(tuple(arrivals), (warmup_s, end_s - zero)),
    )


def des_figures(result: ArmResult, start_s: float, end_s: float) -> dict[str, float | None]:
    """The simulation's figures for the calls it queued in [start_s, end_s), with the
    definitions ``simulation.peak_figures`` measures the stack by."""
    calls = [
        a
        for a in result.log
        if a.outcome in ("answered", "abandoned") and start_s <= a.at_s < end_s
    ]
    answered = [a for a in calls if a.outcome == "answered"]
    short = sum(
        1 for a in calls if a.outcome == "abandoned" and (a.wait_s or 0.0) < SHORT_ABANDON_S
    )
    abandoned = len(calls) - len(answered)
    base = len(calls) - short
    emergencies = [a for a in calls if a.emergency]
    fast = [a for a in emergencies if a.outcome == "answered" and (a.wait_s or 0.0) <= 15]
    return {
        "reached_queue": len(calls),
        "answered": len(answered),
        "abandoned": abandoned,
        "abandon_rate": (abandoned - short) / len(calls) if calls else None,
        "sl_15s": sum(1 for a in answered if (a.wait_s or 0.0) <= 15) / base if base else None,
        "asa_s": (sum(a.wait_s or 0.0 for a in answered) / len(answered)) if answered else None,
        "emergency_within_15s": len(fast) / len(emergencies) if emergencies else None,
    }
