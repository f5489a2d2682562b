"""The callback caps: per number per window, and per hour in all; memory stays bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from queues.callback_limits import CallbackCaps, CapReached, NumberPlan

T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def caps(per_number: int = 3, per_hour: int = 10) -> CallbackCaps:
    return CallbackCaps(per_number=per_number, number_window=timedelta(days=1), per_hour=per_hour)


def test_a_number_is_called_back_at_most_per_number_times_a_window() -> None:
    c = caps()
    for i in range(3):
        assert c.reached("0903000002", T0 + timedelta(hours=i)) is None
        c.add("0903000002", T0 + timedelta(hours=i))
    assert c.reached("0903000002", T0 + timedelta(hours=3)) is CapReached.NUMBER
    assert c.reached("0903000003", T0 + timedelta(hours=3)) is None  # others are not held
    # A day after the first, one more may be asked.
    assert c.reached("0903000002", T0 + timedelta(days=1, seconds=1)) is None


def test_at_most_per_hour_callbacks_in_all() -> None:
    c = caps(per_hour=4)
    for i in range(4):
        c.add(f"090300000{i}", T0 + timedelta(minutes=i))
    assert c.reached("0903000009", T0 + timedelta(minutes=30)) is CapReached.HOUR
    assert c.reached("0903000009", T0 + timedelta(minutes=60, seconds=1)) is None


def test_memory_keeps_nothing_past_the_longer_window() -> None:
    c = caps(per_hour=1000)
    for i in range(500):
        c.add(f"09{i:08d}", T0 + timedelta(minutes=i))
    c.reached("0903000002", T0 + timedelta(minutes=499))
    assert len(c._recent) <= 24 * 60 + 1
    assert len(c._counts) <= 24 * 60 + 1
    c.reached("0903000002", T0 + timedelta(days=3))
    assert not c._recent and not c._counts


def test_loaded_requests_count() -> None:
    c = caps(per_number=1)
    c.load([("0903000002", T0)])
    assert c.reached("0903000002", T0 + timedelta(minutes=1)) is CapReached.NUMBER


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        caps(per_number=0)
    with pytest.raises(ValueError, match="pattern"):
        NumberPlan("([")
