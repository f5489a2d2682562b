"""How fast the conference dials, which phone of a team each attempt rings, and which failed
calls are tried again.

Pure: the caller passes the time (``time.monotonic()``), so tests need no clock.

>>> pacer = Pacer(rate_per_s=10, max_in_flight=50, burst=5)
>>> pacer.take(now=0.0, in_flight=0)  # a full bucket: five calls at once
5
>>> pacer.take(now=0.0, in_flight=5), pacer.next_at(now=0.0)
(0, 0.1)
"""

from __future__ import annotations

import math

from pbx.conference_signals import SignalKind

__all__ = ["RETRIED", "Pacer", "next_phone", "should_retry"]

# Float sums such as 0.3 - 0.2 fall a hair short of a whole token; this much is forgiven.
_EPSILON = 1e-9


class Pacer:
    """A token bucket: ``rate_per_s`` calls a second on average, at most ``burst`` at once,
    and never more than ``max_in_flight`` calls ringing or being asked at the same time.

    The bucket starts full. ``take`` hands out the calls that may start now and counts them
    as started, so call it only when there are points waiting and start exactly that many.
    """

    def __init__(self, rate_per_s: float, max_in_flight: int, burst: int = 1) -> None:
        if not rate_per_s > 0 or math.isinf(rate_per_s):
            raise ValueError(f"rate_per_s must be a positive number, not {rate_per_s}")
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {max_in_flight}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst}")
        self.rate_per_s = float(rate_per_s)
        self.max_in_flight = max_in_flight
        self.burst = burst
        self._tokens = float(burst)
        self._last: float | None = None

    def _refill(self, now: float) -> None:
        if self._last is not None and now > self._last:
            elapsed = now - self._last
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate_per_s)
        if self._last is None or now > self._last:
            self._last = now

    def take(self, now: float, in_flight: int) -> int:
        """How many calls may start at ``now`` with ``in_flight`` calls under way (taken)."""
        self._refill(now)
        whole = int(self._tokens + _EPSILON)
        n = max(0, min(whole, self.max_in_flight - in_flight))
        self._tokens = max(0.0, self._tokens - n)
        return n

    def next_at(self, now: float) -> float:
        """When the bucket holds one more whole token (``now`` if it does already).

        The in-flight limit is not foreseen here: when it is what holds calls back, the next
        chance is when a call ends, which the caller learns from the PBX's signals.
        """
        self._refill(now)
        missing = 1.0 - self._tokens
        if missing <= _EPSILON:
            return now
        return now + missing / self.rate_per_s


def next_phone(attempt: int, phones: int) -> int:
    """The index of the team's phone that attempt ``attempt`` (1, 2, …) rings.

    The phones take turns: with two phones, attempts 1, 2, 3 ring phones 0, 1, 0. A busy
    phone is often busy for a while, so the next attempt tries another one first.
    """
    if attempt < 1:
        raise ValueError(f"attempts count from 1, not {attempt}")
    if phones < 1:
        raise ValueError("a point needs at least one phone")
    return (attempt - 1) % phones


# What the PBX reports of a call that never reached anyone: worth another attempt.
RETRIED = frozenset({SignalKind.BUSY, SignalKind.NO_ANSWER, SignalKind.FAILED})


def should_retry(attempts: int, max_attempts: int, reason: SignalKind) -> bool:
    """Whether a point whose call ended with ``reason`` after ``attempts`` attempts (1, 2, …)
    is dialled again.

    Only calls that reached no one (busy, no answer, failed) are retried. ABSENT (answered
    but no key pressed) and HUNG_UP (answered, then gone) are not: the phone works and
    someone, or an answering machine, took the call and heard the question twice; calling
    back at once mostly repeats that, rings a person who chose to hang up, and keeps a line
    and a slot of the pacer from the points not reached yet. The roll shows them absent and
    the commander redials one with a click (``/points/{pid}/redial``).
    """
    return reason in RETRIED and attempts < max_attempts
