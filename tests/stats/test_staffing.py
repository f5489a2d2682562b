"""Erlang C and Erlang A against the reference figures of the domain notes, and Erlang A
against a direct computation of its birth–death chain."""

from __future__ import annotations

import math
import time

import pytest

from stats.staffing import (
    DEFAULT_MIX,
    Demand,
    Target,
    TimeLimitExceeded,
    agents_for,
    agents_for_targets,
    asa,
    erlang_a,
    erlang_c,
    erlang_c_wait_probability,
    forecast_demands,
    occupancy,
    parse_mix,
    parse_targets,
    plan,
    service_level,
)

NENA = (Target(0.90, 15), Target(0.95, 20))
EIGHTY_TWENTY = (Target(0.80, 20),)


def test_the_reference_check_100_calls_in_30_minutes_14_agents() -> None:
    calls_per_hour, aht = 200, 180  # 100 calls / 30 min → 10 Erlang

    assert round(erlang_c_wait_probability(14, 10.0), 7) == 0.1741319
    assert round(service_level(14, calls_per_hour, aht, 20), 5) == 0.88835
    assert round(asa(14, calls_per_hour, aht), 4) == 7.8359
    assert occupancy(14, calls_per_hour, aht) == pytest.approx(10 / 14)


@pytest.mark.parametrize(
    ("calls_per_day", "load", "eighty_twenty", "nena"),
    [(10_000, 50.0, 56, 60), (15_000, 75.0, 82, 86)],
)
def test_the_staffing_table(calls_per_day: int, load: float, eighty_twenty: int, nena: int) -> None:
    (demand,) = forecast_demands(calls_per_day, peak_share=0.10, mix={"all": 1.0})

    assert demand.calls_per_hour == calls_per_day / 10
    assert erlang_c(1, demand.calls_per_hour, 180).load_erlangs == load
    assert agents_for(0.80, 20, demand.calls_per_hour, 180) == eighty_twenty
    assert agents_for_targets(NENA, demand.calls_per_hour, 180) == nena
    assert agents_for(0.90, 15, demand.calls_per_hour, 180, also=[NENA[1]]) == nena
    # the smallest: one agent fewer misses a target
    assert service_level(eighty_twenty - 1, demand.calls_per_hour, 180, 20) < 0.80


def test_the_occupancy_cap_can_be_what_decides() -> None:
    # 75 Erlang on 82 agents is 91 % occupancy: a cap of 85 % needs ceil(75 / 0.85) = 89.
    assert agents_for(0.80, 20, 1500, 180, max_occupancy=0.85) == 89
    assert agents_for(0.80, 20, 1500, 180, max_occupancy=1.0) == 82
    # exactly at the cap is allowed: 42.5 Erlang / 0.85 = 50 agents
    assert agents_for(0.01, 20, 850, 180, max_occupancy=0.85) == 50


def test_pooling_three_dedicated_queues_need_89_one_pooled_queue_82() -> None:
    demands = forecast_demands(15_000, peak_share=0.10, mix=DEFAULT_MIX)

    rows, (total,) = plan(demands, EIGHTY_TWENTY)

    assert {r.demand.category: r.agents for r in rows} == {
        "medical": 27,
        "food": 43,
        "violation": 19,
    }
    assert total.dedicated_agents == 89
    assert total.agents == 82
    assert total.demand.calls_per_hour == 1500


def test_hundreds_of_agents_stay_finite_and_exact() -> None:
    # Ho Chi Minh City's relief line: 59,000 calls a day, 10 % at the peak hour.
    n = agents_for(0.80, 20, 5900, 180)
    result = erlang_c(n, 5900, 180, EIGHTY_TWENTY)

    assert 295 < n < 320  # "about 300 agents"
    assert 0 < result.p_wait < 1 and result.service_levels[0][1] >= 0.80
    assert erlang_c_wait_probability(5000, 4900.0) == pytest.approx(
        erlang_c_wait_probability(5000, 4900.0 + 1e-9), rel=1e-6
    )
    assert agents_for(0.80, 20, 100_000, 180) > 5000


def test_an_unstable_queue_has_everyone_waiting() -> None:
    assert erlang_c_wait_probability(10, 10.0) == 1.0
    assert service_level(10, 200, 180, 20) == 0.0
    assert asa(10, 200, 180) == math.inf
    assert agents_for(0.8, 20, 0, 180) == 0


def test_erlang_a_reference_1500_calls_patience_60_s() -> None:
    assert round(erlang_a(80, 1500, 180, 60).p_abandon, 3) == 0.029  # "2.9 %"
    assert round(erlang_a(60, 1500, 180, 60).p_abandon, 2) == 0.21  # "about 21 %"


def _direct_chain(n: int, lam: float, mu: float, theta: float) -> list[float]:
    """π_k of M/M/n+M straight from the balance equations, k = 0 … 600 (no cleverness)."""
    weights = [1.0]
    for k in range(1, 600):
        weights.append(weights[-1] * lam / (min(k, n) * mu + max(k - n, 0) * theta))
    total = sum(weights)
    return [w / total for w in weights]


def _tagged_by_ode(
    start: list[float], n: int, mu: float, theta: float, until: float
) -> tuple[float, float]:
    """(answered by ``until``, gave up by ``until``) for a waiting caller, by RK4 on the
    absorbing chain's forward equations: a different method from the module's."""
    size = len(start)

    def deriv(state: list[float]) -> list[float]:
        v = state[:size]
        d = [-(n * mu + (j + 1) * theta) * v[j] for j in range(size)]
        for j in range(1, size):
            d[j - 1] += (n * mu + j * theta) * v[j]
        return [*d, n * mu * v[0], theta * sum(v)]

    state = [*start, 0.0, 0.0]
    steps = 4000
    h = until / steps
    for _ in range(steps):
        k1 = deriv(state)
        k2 = deriv([s + h / 2 * k for s, k in zip(state, k1, strict=True)])
        k3 = deriv([s + h / 2 * k for s, k in zip(state, k2, strict=True)])
        k4 = deriv([s + h * k for s, k in zip(state, k3, strict=True)])
        state = [
            s + h / 6 * (a + 2 * b + 2 * c + d)
            for s, a, b, c, d in zip(state, k1, k2, k3, k4, strict=True)
        ]
    return state[-2], state[-1]


@pytest.mark.parametrize(
    ("n", "calls_per_hour", "aht", "patience"),
    [(14, 200, 180, 120), (80, 1500, 180, 60), (60, 1500, 180, 60), (5, 150, 120, 30)],
)
def test_erlang_a_matches_its_birth_death_chain(
    n: int, calls_per_hour: float, aht: float, patience: float
) -> None:
    lam, mu, theta = calls_per_hour / 3600, 1 / aht, 1 / patience
    pi = _direct_chain(n, lam, mu, theta)
    mean_queue = sum(max(k - n, 0) * p for k, p in enumerate(pi))

    result = erlang_a(n, calls_per_hour, aht, patience, [Target(0.8, 20)])

    assert result.p_wait == pytest.approx(sum(pi[n:]), rel=1e-9)
    assert result.mean_queue == pytest.approx(mean_queue, rel=1e-9)
    # Every abandon is a waiting caller's patience running out: rate θ·E[queue] (Little).
    assert result.p_abandon == pytest.approx(theta * mean_queue / lam, rel=1e-9)
    busy = sum(min(k, n) * p for k, p in enumerate(pi))
    assert result.occupancy == pytest.approx(busy / n, rel=1e-9)

    start = pi[n:120]  # PASTA: an arrival finding n + j has j ahead
    answered_20, _ = _tagged_by_ode(start, n, mu, theta, 20)
    _, gave_up_5 = _tagged_by_ode(start, n, mu, theta, 5)
    assert result.p_short_abandon == pytest.approx(gave_up_5, abs=1e-9)
    expected_sl = (1 - sum(pi[n:]) + answered_20) / (1 - gave_up_5)
    assert result.service_levels[0][1] == pytest.approx(expected_sl, abs=1e-9)
    assert result.abandon_rate == pytest.approx(result.p_abandon - gave_up_5, abs=1e-9)


def test_erlang_a_with_endless_patience_is_erlang_c() -> None:
    a = erlang_a(14, 200, 180, 1e9, EIGHTY_TWENTY)
    c = erlang_c(14, 200, 180, EIGHTY_TWENTY)

    assert a.p_wait == pytest.approx(c.p_wait, rel=1e-6)
    assert a.asa_s == pytest.approx(c.asa_s, rel=1e-6)
    assert a.service_levels[0][1] == pytest.approx(c.service_levels[0][1], rel=1e-6)
    assert a.p_abandon < 1e-7


def test_erlang_a_stays_stable_for_hundreds_of_agents() -> None:
    result = erlang_a(300, 5900, 180, 60, NENA)

    assert 0 < result.p_abandon < 0.05
    assert all(0 < sl <= 1 for _, sl in result.service_levels)


def test_erlang_a_refuses_a_queue_that_never_ends() -> None:
    with pytest.raises(ValueError, match="more than 200000 callers"):
        erlang_a(10, 1000, 180, 1e9)


def test_parse_targets() -> None:
    assert parse_targets("90:15, 95:20") == NENA
    for bad in ("90", "90:", "abc:15", "100:20", "0:20", "90:-1", ""):
        with pytest.raises(ValueError, match="PERCENT:SECONDS"):
            parse_targets(bad)


def test_parse_mix() -> None:
    assert parse_mix("medical:0.3,food:0.5,violation:0.2") == DEFAULT_MIX
    with pytest.raises(ValueError, match=r"sum to 1, got 0\.9"):
        parse_mix("medical:0.3,food:0.4,violation:0.2")
    with pytest.raises(ValueError, match="unknown category 'medicl'"):
        parse_mix("medicl:1", known=["medical", "food"])
    with pytest.raises(ValueError, match="CATEGORY:SHARE"):
        parse_mix("medical")


def test_pooled_aht_is_the_calls_weighted_mean() -> None:
    _, (total,) = plan([Demand("a", 9, 100, 100), Demand("b", 9, 300, 200)])

    assert total.demand.aht_s == 175
    assert total.demand.hour == 9


def test_a_plan_stops_at_its_time_limit() -> None:
    """A service runs plans in a worker thread: a huge question must end, not run on."""
    huge = forecast_demands(1_000_000, peak_share=1, aht_s=3600)
    started = time.monotonic()

    with pytest.raises(TimeLimitExceeded):
        plan(huge, [Target(0.99, 999)], patience_s=3600, time_limit_s=0.2)

    assert time.monotonic() - started < 2


def test_a_plan_within_its_time_limit_is_the_same_plan() -> None:
    demands = forecast_demands(15_000)

    assert plan(demands, time_limit_s=30) == plan(demands)
