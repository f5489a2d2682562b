"""The failed-authentication limiter: a sliding window per address, bounded memory."""

from __future__ import annotations

import pytest

from api.ratelimit import FailureLimiter


def test_an_address_is_held_once_it_reaches_the_limit_until_its_oldest_failure_expires() -> None:
    limiter = FailureLimiter(limit=3, window_s=60)
    for t in (0.0, 10.0, 20.0):
        assert limiter.retry_after("10.0.0.1", t) is None
        limiter.failed("10.0.0.1", t)
    assert limiter.retry_after("10.0.0.1", 30.0) == 30
    assert limiter.retry_after("10.0.0.2", 30.0) is None  # others are not held
    assert limiter.retry_after("10.0.0.1", 60.0) is None  # the first failure left


def test_memory_is_bounded_by_addresses_and_failures() -> None:
    limiter = FailureLimiter(limit=5, window_s=60, max_addresses=100)
    for i in range(10_000):
        limiter.failed(f"10.0.{i // 256}.{i % 256}", float(i) / 1000)
    assert len(limiter) == 100
    for _ in range(50):
        limiter.failed("10.9.9.9", 1.0)
    assert len(limiter._failures["10.9.9.9"]) == 5


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        FailureLimiter(limit=0, window_s=60)
