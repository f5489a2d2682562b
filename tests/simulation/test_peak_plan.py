"""A peak run's plan from the command line: agents from staffing, the time scale, and what
it refuses."""

from __future__ import annotations

import pytest

from simulation.peak_plan import plan_from_args
from tests.simulation.support import peak_args


def test_agents_auto_is_staffings_recommendation_without_a_cap_unless_given() -> None:
    plan = plan_from_args(peak_args("--agents", "auto", "--duration", "10calls"))
    assert plan.agents == 86 and plan.agents_auto and plan.max_occupancy is None
    capped = plan_from_args(
        peak_args("--agents", "auto", "--max-occupancy", "0.85", "--duration", "10calls")
    )
    assert capped.agents == 89
    assert plan_from_args(peak_args("--agents", "7", "--duration", "10calls")).agents == 7
    assert "86 agents" in plan.describe() and "occupancy cap none" in plan.describe()


def test_scaled_plan_and_its_refusals() -> None:
    plan = plan_from_args(
        peak_args("--time-scale", "10", "--wrapup", "10", "--duration", "5", "--agents", "9")
    )
    assert plan.talk_s == 170 and plan.talk_wall_ms == 17_000  # AHT = talk + wrap-up
    assert plan.wrapup_wall_s == 1
    assert "SL thresholds 1.50 s, 2.00 s" in plan.describe()
    with pytest.raises(ValueError, match="whole seconds"):
        plan_from_args(peak_args("--time-scale", "4", "--wrapup", "10", "--agents", "9"))
    with pytest.raises(ValueError, match="--aht"):
        plan_from_args(peak_args("--aht", "0", "--agents", "9"))
    with pytest.raises(ValueError, match="--patience"):
        plan_from_args(peak_args("--patience", "-1", "--agents", "9"))
    with pytest.raises(SystemExit):
        peak_args("--agents", "many")
