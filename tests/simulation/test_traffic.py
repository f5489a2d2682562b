"""The peak hour's traffic: the time scale, durations, the menu paths of the mix, Poisson
arrivals and the schedule."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from ivr.menu_file import DEFAULT_MENU, load_menu
from simulation.traffic import (
    PEAK_MIX,
    TimeScale,
    category_mix,
    menu_routes,
    parse_duration,
    poisson_times,
    schedule,
)
from stats.staffing import DEFAULT_MIX


def test_time_scale_divides_every_duration_alike() -> None:
    s = TimeScale(10)
    assert s.wall(180) == 18.0 and s.unscaled(1.5) == 15.0
    assert s.rate(1500) == pytest.approx(1500 * 10 / 3600)  # 4.17 calls/s
    with pytest.raises(ValueError, match="1 or more"):
        TimeScale(0.5)


def test_duration_in_minutes_or_calls() -> None:
    assert parse_duration("60") == (3600.0, None)
    assert parse_duration("60m") == parse_duration("60min") == (3600.0, None)
    assert parse_duration("1500calls") == parse_duration("1500c") == (None, 1500)
    for bad in ("", "0", "-5m", "abc", "0calls", "1.5calls"):
        with pytest.raises(ValueError, match="--duration"):
            parse_duration(bad)


def test_the_menu_paths_of_the_peak_mix() -> None:
    routes = menu_routes(load_menu(DEFAULT_MENU))
    keys = {node: r.keys for node, r in routes.items()}
    assert keys == {
        "medical_critical": "11d",
        "medical": "12d",
        "food": "2d",
        "violation": "3",
        "operator": "0",
    }
    assert routes["medical_critical"].priority == 20
    assert category_mix(PEAK_MIX, routes) == pytest.approx(dict(DEFAULT_MIX))


def test_poisson_gaps_are_exponential() -> None:
    times = poisson_times(1500, random.Random(7), count=20_000)
    gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    mean = statistics.fmean(gaps)
    assert mean == pytest.approx(2.4, rel=0.03)  # 3600 / 1500
    assert statistics.stdev(gaps) / mean == pytest.approx(1.0, abs=0.03)  # CV of 1: not even
    # The share of gaps below the mean is 1 − 1/e for an exponential, 1/2 for a symmetric one.
    assert sum(g < mean for g in gaps) / len(gaps) == pytest.approx(1 - math.exp(-1), abs=0.01)
    # Counts in disjoint minutes: variance equals mean (standard error of the ratio 0.04).
    within = poisson_times(1500, random.Random(9), until_s=3600 * 20)
    per_minute = [0] * (60 * 20)
    for t in within:
        per_minute[int(t // 60)] += 1
    assert statistics.fmean(per_minute) == pytest.approx(25, rel=0.03)
    assert statistics.variance(per_minute) / statistics.fmean(per_minute) == pytest.approx(
        1.0, abs=0.12
    )
    assert all(t < 3600 * 20 for t in within)
    with pytest.raises(ValueError):
        poisson_times(1500, random.Random(1), count=3, until_s=10)


def test_schedule_draws_paths_windows_and_patience() -> None:
    routes = menu_routes(load_menu(DEFAULT_MENU))
    districts = [str(d) for d in range(1, 10)]
    plan = schedule(
        1500, routes, districts, warmup_s=600, measure_s=3600, cooldown_s=120, patience_s=60
    )
    assert plan.window == (600, 4200)
    assert all((600 <= a.at_s <= 4200) == a.measured for a in plan.arrivals)
    assert len(plan.measured) == pytest.approx(1500, rel=0.1)
    assert plan.span_s < 600 + 3600 + 120
    assert len({a.number for a in plan.arrivals}) == len(plan.arrivals)
    shares = {n: sum(a.node == n for a in plan.arrivals) / len(plan.arrivals) for n in PEAK_MIX}
    for node, share in PEAK_MIX.items():
        assert shares[node] == pytest.approx(share, abs=0.03)
    for a in plan.arrivals:
        template = routes[a.node].keys
        assert len(a.keys) == len(template)
        assert all(
            t == k or (t == "d" and k in districts) for t, k in zip(template, a.keys, strict=True)
        )
    assert statistics.fmean(a.patience_s or 0 for a in plan.arrivals) == pytest.approx(60, rel=0.1)
    # The same seed gives the same calls; a count ends the window at its last call.
    assert schedule(1500, routes, districts, measure_s=60).arrivals == (
        schedule(1500, routes, districts, measure_s=60).arrivals
    )
    counted = schedule(1500, routes, districts, warmup_s=60, measure_calls=20, cooldown_s=30)
    assert len(counted.measured) == 20
    assert counted.window[1] == counted.measured[-1].at_s
    assert all(a.patience_s is None for a in counted.arrivals)
