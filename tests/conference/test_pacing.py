"""Dial pacing, phone rotation and retries (``conference.pacing``)."""

from __future__ import annotations

import pytest

from conference.pacing import Pacer, next_phone, should_retry
from pbx.conference_signals import SignalKind


def test_a_full_bucket_then_the_rate() -> None:
    pacer = Pacer(rate_per_s=4, max_in_flight=100, burst=3)
    assert pacer.take(10.0, in_flight=0) == 3
    assert pacer.take(10.0, in_flight=3) == 0
    assert pacer.next_at(10.0) == pytest.approx(10.25)
    assert pacer.take(10.2, in_flight=3) == 0
    assert pacer.take(10.25, in_flight=3) == 1
    # A long pause refills the bucket up to the burst, not beyond.
    assert pacer.take(100.0, in_flight=0) == 3


def test_the_average_rate_over_a_minute() -> None:
    pacer = Pacer(rate_per_s=2.5, max_in_flight=1000, burst=5)
    started = sum(pacer.take(i * 0.01, in_flight=0) for i in range(6001))  # 0 s .. 60 s
    assert started == 5 + 150  # the first burst, then 2.5 a second for 60 s


def test_steps_that_do_not_add_up_exactly_still_give_a_token() -> None:
    pacer = Pacer(rate_per_s=10, max_in_flight=10)
    assert pacer.take(0.2, 0) == 1
    # 0.3 - 0.2 is a hair below 0.1 in floats.
    assert pacer.take(0.3, 0) == 1
    assert pacer.next_at(0.3) == pytest.approx(0.4)


def test_in_flight_limit() -> None:
    pacer = Pacer(rate_per_s=100, max_in_flight=4, burst=10)
    assert pacer.take(0.0, in_flight=2) == 2
    assert pacer.take(0.0, in_flight=4) == 0
    # Tokens not used for the limit are kept for when calls end.
    assert pacer.take(0.0, in_flight=0) == 4
    assert pacer.take(0.0, in_flight=7) == 0  # over the limit (a redial): none, not negative


def test_next_at_is_now_when_a_token_waits() -> None:
    pacer = Pacer(rate_per_s=1, max_in_flight=1, burst=2)
    assert pacer.next_at(5.0) == 5.0
    assert pacer.take(5.0, in_flight=0) == 1
    assert pacer.next_at(5.0) == 5.0  # one token left, held back by the in-flight limit


def test_time_going_backwards_gives_nothing() -> None:
    pacer = Pacer(rate_per_s=1, max_in_flight=10)
    assert pacer.take(10.0, 0) == 1
    assert pacer.take(5.0, 0) == 0
    assert pacer.take(10.5, 0) == 0
    assert pacer.take(11.0, 0) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate_per_s": 0, "max_in_flight": 1},
        {"rate_per_s": -1, "max_in_flight": 1},
        {"rate_per_s": float("nan"), "max_in_flight": 1},
        {"rate_per_s": float("inf"), "max_in_flight": 1},
        {"rate_per_s": 1, "max_in_flight": 0},
        {"rate_per_s": 1, "max_in_flight": 1, "burst": 0},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Pacer(**kwargs)  # type: ignore[arg-type]


def test_phones_take_turns() -> None:
    assert [next_phone(a, 2) for a in range(1, 6)] == [0, 1, 0, 1, 0]
    assert [next_phone(a, 1) for a in range(1, 4)] == [0, 0, 0]
    assert [next_phone(a, 3) for a in range(1, 5)] == [0, 1, 2, 0]


@pytest.mark.parametrize(("attempt", "phones"), [(0, 2), (-1, 2), (1, 0)])
def test_next_phone_refuses_nonsense(attempt: int, phones: int) -> None:
    with pytest.raises(ValueError):
        next_phone(attempt, phones)


@pytest.mark.parametrize("reason", [SignalKind.BUSY, SignalKind.NO_ANSWER, SignalKind.FAILED])
def test_unreached_calls_are_retried_up_to_the_limit(reason: SignalKind) -> None:
    assert should_retry(1, 3, reason)
    assert should_retry(2, 3, reason)
    assert not should_retry(3, 3, reason)
    assert not should_retry(1, 1, reason)


def test_answered_calls_are_not_retried() -> None:
    retried = {k for k in SignalKind if should_retry(1, 5, k)}
    assert retried == {SignalKind.BUSY, SignalKind.NO_ANSWER, SignalKind.FAILED}
