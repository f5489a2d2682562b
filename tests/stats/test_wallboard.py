"""The wallboard's pure rules: colours at thresholds, AHT, agents logged in per quarter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stats.history import QueueRow, ServiceLevel
from stats.wallboard import Thresholds, aht_s, figures_row, level, logged_in_per_bucket, midnight


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "ok"), (0.0, "ok"), (29.9, "ok"), (30.0, "warn"), (59.9, "warn"), (60.0, "bad")],
)
def test_a_wait_turns_amber_then_red_at_its_thresholds(value: float | None, expected: str) -> None:
    assert level(value, 30.0, 60.0) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "ok"), (1.0, "ok"), (0.8, "ok"), (0.79, "warn"), (0.7, "warn"), (0.69, "bad")],
)
def test_a_service_level_turns_amber_below_its_target_and_red_below_the_warning(
    value: float | None, expected: str
) -> None:
    assert level(value, 0.8, 0.7, higher_is_better=True) == expected


def test_average_handle_time_is_talk_and_wrap_up_per_answered_call() -> None:
    assert aht_s(4, 390.0, 75.0) == pytest.approx(116.25)
    assert aht_s(0, 0.0, 12.0) is None


def test_the_day_begins_at_midnight_in_vietnam() -> None:
    # 16:59 UTC is 23:59 in Vietnam; 17:00 UTC is the next day's midnight there.
    late = midnight(datetime(2024, 5, 1, 16, 59, tzinfo=UTC))
    assert late.astimezone(UTC) == datetime(2024, 4, 30, 17, 0, tzinfo=UTC)
    assert midnight(datetime(2024, 5, 1, 17, 0, tzinfo=UTC)).astimezone(UTC) == datetime(
        2024, 5, 1, 17, 0, tzinfo=UTC
    )


def test_agents_logged_in_per_quarter_divides_the_current_one_by_its_elapsed_part() -> None:
    q1 = datetime(2024, 5, 1, 1, 0, tzinfo=UTC)
    q2 = q1 + timedelta(minutes=15)
    now = q2 + timedelta(minutes=5)
    # Two agents the whole first quarter, one and a half of it; the second quarter's 5
    # minutes: one agent all along, another for half of them.
    rows = [(q1, 900.0), (q1, 450.0), (q2, 300.0), (q2, 150.0)]

    assert logged_in_per_bucket(rows, now) == {q1: 1.5, q2: 1.5}


def test_a_row_of_figures_carries_its_colours() -> None:
    start = datetime(2024, 5, 1, tzinfo=UTC)
    row = QueueRow(
        start=start,
        end=start + timedelta(days=1),
        category="medical",
        queue=None,
        offered=10,
        answered=8,
        abandoned=1,
        short_abandoned=0,
        callbacks=0,
        repeats=0,
        abandon_rate=0.1,
        service_levels=[ServiceLevel(15, 7, 0.75), ServiceLevel(20, 8, 0.8)],
        asa_s=25.0,
        aht_s=100.0,
        talk_s=80.0,
        wrapup_s=20.0,
        longest_wait_s=50.0,
    )

    out = figures_row(row, Thresholds())

    assert (out["service_level"], out["sl_seconds"], out["sl_level"]) == (0.75, 15, "warn")
    assert (out["asa_level"], out["abandon_level"]) == ("warn", "bad")
    assert (out["offered"], out["answered"], out["abandoned"]) == (10, 8, 1)
